"""Request dependencies: the database session, the signed-in user, and who may do what."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.config import Settings
from handoff_api.core.security import hash_token
from handoff_api.core.write_gate import READ_METHODS
from handoff_api.errors import Forbidden
from handoff_api.models import Handoff, User

AGENT_ROLES = ("l2", "l3", "l4", "lead")
bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    writes = request.method not in READ_METHODS
    factory: sessionmaker[Session] = request.app.state.sessions if writes else request.app.state.read_sessions
    with factory() as session, session.begin():
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    token_hash = hash_token(credentials.credentials, request.app.state.secret_key)
    user = session.scalar(select(User).where(User.token_hash == token_hash, User.active.is_(True)))
    if user is None:
        raise unauthorized
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"role {user.role} may not do this; it needs one of: {', '.join(roles)}")
        return user

    return check


CurrentBot = Annotated[User, Depends(require_roles("bot"))]
CurrentAgent = Annotated[User, Depends(require_roles(*AGENT_ROLES))]
BotOrAgent = Annotated[User, Depends(require_roles("bot", *AGENT_ROLES))]


def visible_tiers(user: User) -> tuple[str, ...]:
    return ("l2", "l3", "l4") if user.role == "lead" else (user.role,)


def check_tier(user: User, handoff: Handoff) -> None:
    """A tier sees and acts on its own queue; a lead on all."""
    if handoff.tier not in visible_tiers(user):
        raise Forbidden(
            f"handoff {handoff.number} is in the {handoff.tier} queue; role {user.role} may not act on it"
        )
