"""What customers tell the desk back: satisfaction ratings and e-mail follow-up requests."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class Rating(Base):
    """A customer's 1-5 satisfaction rating of a conversation, or of a handoff an agent handled."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), index=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """A customer's request to be e-mailed about a handoff while nobody of its tier is online."""

    __tablename__ = "handoff_followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The id of the last message of the handoff already mailed (or already there when the customer asked).
    mailed_through: Mapped[int] = mapped_column(default=0, server_default="0")
    mail_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    mail_retry_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
