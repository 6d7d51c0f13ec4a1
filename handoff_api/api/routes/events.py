"""Server-sent events for the caller's queues, resumable with Last-Event-ID.

A stream reads the event log: at once when its own worker commits an event (signals/local.py) or,
on PostgreSQL, when any worker does (signals/listener.py); else every POLL_SECONDS, which is how
events written by other workers arrive on SQLite or while the notifications are away. While this worker
hears every commit, the timer is a safety net (a notification lost with its connection) and reads every
HEARING_POLL_SECONDS: 100 idle consoles then cost 50 reads a second, not 1,000. A stream waiting at a
hole in the ids (services/event_feed.py) reads every POLL_SECONDS until it is filled or stepped over.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from handoff_api.api.deps import Credentials, CurrentAgent, user_with_token, visible_tiers
from handoff_api.core.security import hash_token
from handoff_api.handoffs.feed import BATCH, FeedCursor, read_after
from handoff_api.models import HandoffEvent
from handoff_api.signals.local import feed_signal

router = APIRouter(prefix="/api/v1", tags=["events"])
POLL_SECONDS = 0.1
HEARING_POLL_SECONDS = 2.0


def _latest_id(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.max(HandoffEvent.id))) or 0


def _still_signed_in(factory: sessionmaker[Session], token_hash: str) -> bool:
    with factory() as session:
        return user_with_token(session, token_hash) is not None


@router.get("/events")
async def stream_events(
    request: Request,
    agent: CurrentAgent,
    credentials: Credentials,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> EventSourceResponse:
    factory: sessionmaker[Session] = request.app.state.read_sessions
    tiers = visible_tiers(agent)
    start = last_event_id if last_event_id is not None else await run_in_threadpool(_latest_id, factory)
    # CurrentAgent checked the token: `credentials` is there.
    token_hash = hash_token(credentials.credentials if credentials else "", request.app.state.secret_key)
    recheck: float = request.app.state.settings.helpdesk_stream_token_recheck_seconds

    async def feed() -> AsyncIterator[dict[str, str]]:
        cursor = FeedCursor(start)
        checked_at = time.monotonic()
        with feed_signal.subscribe() as wake:
            while True:
                if time.monotonic() - checked_at >= recheck:
                    # A revoked or rotated token ends the stream (the console's reconnect then gets 401):
                    # it used to go on showing every handoff of the queues to someone no longer allowed.
                    if not await run_in_threadpool(_still_signed_in, factory, token_hash):
                        # This worker stops taking the token at once, not when its cache entry expires.
                        request.app.state.token_cache.forget(token_hash)
                        return
                    checked_at = time.monotonic()
                # Cleared before the read: a commit during the read wakes the next wait at once.
                wake.clear()
                batch = await run_in_threadpool(read_after, factory, cursor, tiers, time.monotonic())
                for item in batch:
                    yield {"id": str(item["id"]), "event": item["kind"], "data": json.dumps(item)}
                if len(batch) < BATCH:
                    heard = feed_signal.hears_every_worker and cursor.gap_since is None
                    with suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), HEARING_POLL_SECONDS if heard else POLL_SECONDS)

    return EventSourceResponse(feed(), ping=15)
