"""Request dependencies: the database session, the signed-in user, who may do what, the directory and
the mailer."""

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from handoff_api.api.middleware.write_gate import READ_METHODS
from handoff_api.core.config import Settings
from handoff_api.core.errors import Forbidden
from handoff_api.core.security import hash_token
from handoff_api.handoffs import rules
from handoff_api.identity.directory import Directory, make_directory
from handoff_api.mail.sender import Mailer, make_mailer
from handoff_api.models import Handoff, User
from handoff_api.models.vocabulary import AGENT_ROLES
from handoff_api.users.token_cache import TokenCache

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False)


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
# and each such hop costs more than the dependency itself.


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _settings_dependency(request: Request) -> Settings:
    return get_settings(request)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session; its transaction commits when the route returns, rolls back when it raises.

    Opening a session does no I/O (it connects on first use), so that happens on the event loop; the commit
    or the rollback runs in a worker thread, unless the route ended the transaction itself (see
    `committed`).
    """
    writes = request.method not in READ_METHODS
    factory: sessionmaker[Session] = request.app.state.sessions if writes else request.app.state.read_sessions
    session = factory()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        if session.in_transaction():
            # A rollback that fails too (the connection is gone) must not hide the error that matters.
            with contextlib.suppress(Exception):
                await run_in_threadpool(session.rollback)
        raise
    finally:
        # No I/O left: the transaction has ended, so the connection goes back to the pool as it is.
        session.close()


async def committed(session: Session, work: Callable[[], T]) -> T:
    """Runs `work` and commits in one worker-thread hop, for `async def` routes: a plain `def` route
    costs a hop for itself, one for the commit and one to check its answer against the response model."""

    def unit() -> T:
        result = work()
        session.commit()
        return result

    return await run_in_threadpool(unit)


SettingsDep = Annotated[Settings, Depends(_settings_dependency)]
# scope="function": the transaction commits (or fails) before the response is sent, so a client never
# gets 2xx for a write that did not commit (a failed commit is a 503, handoff_api/api/errors.py), and a
# long response (server-sent events) does not hold a database connection.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def user_with_token(session: Session, token_hash: str) -> User | None:
    """The active user this token (its keyed hash) belongs to, or None."""
    return session.scalar(select(User).where(User.token_hash == token_hash, User.active.is_(True)))


async def _signed_in_user(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """The token's user: from the token cache (no query) or the database (users/token_cache.py)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized()
    token_hash = hash_token(credentials.credentials, request.app.state.secret_key)
    cache: TokenCache = request.app.state.token_cache
    user = cache.user(session, token_hash)
    if user is None:
        user = await run_in_threadpool(user_with_token, session, token_hash)
        if user is None:
            raise _unauthorized()
        cache.remember(token_hash, user)
    return user


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require_roles(*roles: str) -> Callable[..., Awaitable[User]]:
    """The signed-in user, if their role is one of `roles` (else 403; no valid token: 401).

    One dependency level, not a role check on top of a user lookup: FastAPI's per-request cost grows with
    every level, and these guard every busy route."""

    async def signed_in_with_role(request: Request, session: SessionDep, credentials: Credentials) -> User:
        user = await _signed_in_user(request, session, credentials)
        if user.role not in roles:
            raise Forbidden(f"role {user.role} may not do this; it needs one of: {', '.join(roles)}")
        return user

    return signed_in_with_role


CurrentBot = Annotated[User, Depends(require_roles("bot"))]
CurrentAgent = Annotated[User, Depends(require_roles(*AGENT_ROLES))]
BotOrAgent = Annotated[User, Depends(require_roles("bot", *AGENT_ROLES))]


visible_tiers = rules.visible_tiers


def check_tier(user: User, handoff: Handoff) -> None:
    """A tier sees and acts on its own queue; a lead on all."""
    if handoff.tier not in visible_tiers(user):
        raise Forbidden(
            f"handoff {handoff.number} is in the {handoff.tier} queue; role {user.role} may not act on it"
        )


# The configured directory and mailer: made on first use, one of each per app, kept on `app.state` (tests
# may put their own there first).


def get_directory(request: Request) -> Directory:
    state = request.app.state
    if getattr(state, "identity_directory", None) is None:
        state.identity_directory = make_directory(get_settings(request))
    directory: Directory = state.identity_directory
    return directory


def get_mailer(request: Request) -> Mailer:
    state = request.app.state
    if getattr(state, "identity_mailer", None) is None:
        state.identity_mailer = make_mailer(get_settings(request))
    mailer: Mailer = state.identity_mailer
    return mailer


DirectoryDep = Annotated[Directory, Depends(get_directory)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]


async def metrics_access(request: Request, credentials: Credentials) -> None:
    """`/metrics` with the metrics token (HELPDESK_METRICS_TOKEN); without one set, in demo mode only."""
    settings: Settings = request.app.state.settings
    expected = settings.helpdesk_metrics_token
    if not expected:
        if settings.helpdesk_demo:
            return
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail="metrics are off: set HELPDESK_METRICS_TOKEN and scrape with it as a bearer token",
        )
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="the metrics token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
