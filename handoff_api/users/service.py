"""Creating users and their tokens."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_api.core.errors import Conflict
from handoff_api.core.security import hash_token, new_token
from handoff_api.models import User


def create(
    session: Session,
    key: str,
    name: str,
    role: str,
    tier_skills: list[str] | None = None,
    token: str | None = None,
) -> tuple[User, str]:
    """Returns the user and the token, which is stored only as a hash and cannot be shown again."""
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name} exists already")
    token = token or new_token()
    user = User(name=name, role=role, tier_skills=tier_skills or [], token_hash=hash_token(token, key))
    session.add(user)
    session.flush()
    return user, token
