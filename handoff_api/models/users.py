"""People and programs with a token: the bot, agents of a tier, leads, editors."""

from datetime import datetime
from typing import cast

from sqlalchemy import String, Table
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class User(Base):
    """A person or program with a token: the bot, agents of a tier, leads, editors."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    tier_skills: Mapped[list[str]] = mapped_column(default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    presence: Mapped[str] = mapped_column(String(16), default="offline")
    capacity: Mapped[int] = mapped_column(default=3)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


USERS = cast(Table, User.__table__)
