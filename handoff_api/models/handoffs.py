"""A handoff and what belongs to it: the transcript, private notes and the history."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from handoff_api.models.base import Base, utcnow
from handoff_api.models.users import User
from handoff_api.models.vocabulary import OPEN_INDEX_WHERE, ticket_number


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        # At most one open handoff per conversation, whatever the concurrency: creation is idempotent.
        Index(
            "uq_handoffs_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text(OPEN_INDEX_WHERE),
            postgresql_where=text(OPEN_INDEX_WHERE),
        ),
        Index("ix_handoffs_queue", "tier", "status", "priority", "first_response_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    tier: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    priority: Mapped[str] = mapped_column(String(4), default="p3")
    category: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(50))
    summary: Mapped[str | None] = mapped_column(Text)
    customer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Customer messages the broker delivers at or before this instant were in the bot's transcript already.
    transcript_cutoff: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_response_due: Mapped[datetime]
    resolution_due: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    returned_to_bot: Mapped[bool] = mapped_column(default=False)
    # L4: the vendor working on it and their case reference; the L4 holder is the customer's liaison.
    vendor_name: Mapped[str | None] = mapped_column(String(100))
    vendor_case: Mapped[str | None] = mapped_column(String(100))
    # Which SLA breaches were already announced ("first_response", "resolution"), so each is raised once.
    breaches_announced: Mapped[list[str]] = mapped_column(default=list)
    reopened_count: Mapped[int] = mapped_column(default=0)
    # The conversation's language (en, de): the notices the desk sends the customer follow it.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")

    assignee: Mapped[User | None] = relationship(lazy="joined")
    # Loaded when read (the detail view reads them; writes and queues do not): loading all three with
    # every handoff cost three queries a request.
    messages: Mapped[list["Message"]] = relationship(order_by="[Message.at, Message.id]", lazy="select")
    notes: Mapped[list["Note"]] = relationship(order_by="Note.id", lazy="select")
    history: Mapped[list["HandoffEvent"]] = relationship(order_by="HandoffEvent.id", lazy="select")

    @property
    def number(self) -> str:
        return ticket_number(self.id)


class Message(Base):
    """One line of the transcript: what the customer, the bot or an agent said."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("handoff_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str | None] = mapped_column(String(100))
    # Where the line came from (e.g. the broker row), so a redelivery is not stored twice.
    source_key: Mapped[str | None] = mapped_column(String(100))


# The `source_key` of a line the help desk itself told the customer: its ticket waits in a queue again
# (handoffs/service.py, `_tell_waiting`).
NOTICE_KEY_PREFIX = "notice:"
# The lines the desk sent the customer after the handoff: the engineers' replies and the desk's notices
# (what a widget catches up on and a follow-up mail carries).
SENT_BY_THE_DESK = (Message.role == "agent") | Message.source_key.startswith(
    NOTICE_KEY_PREFIX, autoescape=True
)


class Note(Base):
    """Private to agents; never reaches the customer."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class HandoffEvent(Base):
    """Who did what, when: the handoff's history and the feed behind `GET /api/v1/events`."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # The tier whose queue the event concerns, so the feed shows each agent only their queues.
    tier: Mapped[str] = mapped_column(String(4))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# The tables, for the statements the busiest writes run without ORM objects.
HANDOFFS = cast(Table, Handoff.__table__)
MESSAGES = cast(Table, Message.__table__)
EVENTS = cast(Table, HandoffEvent.__table__)
