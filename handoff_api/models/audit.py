"""The audit log of user and token administration."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class AuditEntry(Base):
    """Who did what to which user or token, and when. Never holds a token, only what happened to it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_target", "target"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The acting user's name, or `cli:<os user>` for the `helpdesk` command line.
    actor: Mapped[str] = mapped_column(String(150))
    # user.create | user.revoke | user.rotate_token | ...
    action: Mapped[str] = mapped_column(String(50))
    # The user the action concerns (by name).
    target: Mapped[str] = mapped_column(String(150))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
