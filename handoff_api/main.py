"""The helpdesk service: handoff queues for L2/L3/L4, the knowledge base API, and the web pages."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_api.api import errors as ops_errors
from handoff_api.api.deps import metrics_access
from handoff_api.api.middleware.body_size import BodySizeLimit
from handoff_api.api.middleware.rate_limit import RateLimitMiddleware
from handoff_api.api.middleware.request_id import RequestIdMiddleware
from handoff_api.api.middleware.write_gate import WriteGate
from handoff_api.api.openapi import document_domain_errors
from handoff_api.api.routes import (
    agents,
    article_page,
    conversations,
    dev_mailbox,
    events,
    handoffs,
    health,
    identity,
    kb,
    pages,
    queues,
    ratings,
    reports,
    tickets,
    widget,
)
from handoff_api.core import logging as helpdesk_logging
from handoff_api.core.config import Settings, get_settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.core.errors import HelpdeskError, Unavailable
from handoff_api.kb.index import STARTER_CORPUS, KnowledgeIndex
from handoff_api.ops.metrics import make_registry
from handoff_api.signals.publisher import ChangePublisher
from handoff_api.users.token_cache import TokenCache
from handoff_api.workers.loops import BackgroundLoops
from knowledge_base.embeddings import Embedder, MiniLMEmbedder


def create_app(
    settings: Settings | None = None, *, background: bool = True, embedder: Embedder | None = None
) -> FastAPI:
    """`background=False` leaves out the broker consumer and the outbox deliverer (tests drive them)."""
    settings = settings or get_settings()
    helpdesk_logging.configure()
    busy_timeout = settings.helpdesk_sqlite_busy_timeout_seconds
    engine = make_engine(settings.sqlalchemy_url, busy_timeout_seconds=busy_timeout)
    sessions = make_session_factory(engine)
    sqlite = engine.dialect.name == "sqlite"
    # Reads never take SQLite's write lock; on PostgreSQL one engine serves both.
    read_engine = (
        make_engine(settings.sqlalchemy_url, write_transactions=False, busy_timeout_seconds=busy_timeout)
        if sqlite
        else engine
    )
    read_sessions = make_session_factory(read_engine)
    write_gate = asyncio.Lock() if sqlite else None
    knowledge = KnowledgeIndex(read_sessions, sessions, embedder or MiniLMEmbedder())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(knowledge.seed_if_empty, settings.helpdesk_kb_seed_dir or STARTER_CORPUS)
        kb_task = asyncio.create_task(knowledge.follow(warm=settings.helpdesk_kb_warm_start))
        loops = (
            BackgroundLoops(settings, sessions, app.state.outbox_wakeup, app.state.change_publisher)
            if background
            else None
        )
        if loops:
            loops.start()
        yield
        kb_task.cancel()
        await asyncio.gather(kb_task, return_exceptions=True)
        await run_in_threadpool(knowledge.wait_idle)
        if loops:
            await loops.stop()
        engine.dispose()
        read_engine.dispose()

    app = FastAPI(title="IT help desk", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.read_sessions = read_sessions
    app.state.write_gate = write_gate
    app.state.knowledge = knowledge
    app.state.secret_key = settings.secret_key()
    app.state.token_cache = TokenCache(settings.helpdesk_token_cache_seconds)
    app.state.outbox_wakeup = asyncio.Event()
    app.state.change_publisher = ChangePublisher()

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may be binary (unencodable) or carry secrets.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not even text (invalid UTF-8): bad input, said so.
            problem = {"loc": ["body"], "msg": "the body is not JSON in UTF-8", "type": "json_invalid"}
            return JSONResponse({"detail": [problem]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(HelpdeskError)
    async def _helpdesk_error(_request: Request, exc: HelpdeskError) -> JSONResponse:
        headers = {"Retry-After": "5"} if isinstance(exc, Unavailable) else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    for router in (
        health.router,
        handoffs.router,
        agents.router,
        queues.router,
        conversations.router,
        events.router,
        kb.router,
        pages.router,
        article_page.router,
        # Identity self-service, ratings, ticket status, the dev mailbox (demo mode only).
        identity.router,
        ratings.router,
        tickets.router,
        dev_mailbox.router,
        dev_mailbox.page_router,
        # Operations: daily report, audit log (handoff_api/ops).
        reports.router,
        # The chat widget catches up on the replies it missed while away.
        widget.router,
    ):
        app.include_router(router)
    if settings.helpdesk_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.helpdesk_cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(WriteGate, lock=write_gate)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    # Operations: per-app metrics registry (queue figures read from the database at scrape time),
    # rate limits, and a request id on every request and log line (outermost, so 413/429 carry it too).
    registry, rate_limited = make_registry(sessions)
    app.add_middleware(
        RateLimitMiddleware,
        auth_failure_limit=settings.helpdesk_auth_failure_limit,
        auth_failure_window=settings.helpdesk_auth_failure_window_seconds,
        token_limit_per_minute=settings.helpdesk_token_rate_limit_per_minute,
        rejected=rate_limited,
    )
    Instrumentator(registry=registry).instrument(app).expose(
        app, include_in_schema=False, dependencies=[Depends(metrics_access)]
    )
    app.add_middleware(RequestIdMiddleware)
    document_domain_errors(app)
    ops_errors.register(app)
    return app
