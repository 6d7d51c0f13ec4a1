"""The service's tables: agents and their tokens, handoffs with transcript, notes and history, the outbox."""

from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from handoff_api.core import clock

OPEN_STATUSES = ("waiting", "assigned")
# The predicate of the one-open-handoff-per-conversation index (also what INSERT ... ON CONFLICT names).
OPEN_INDEX_WHERE = "status IN ('waiting', 'assigned')"


def ticket_number(handoff_id: int) -> str:
    """What customers and agents call a handoff: HD-01001."""
    return f"HD-{handoff_id + 1000:05d}"


def utcnow() -> datetime:
    return clock.now()


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}


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
# (services/handoffs.py, `_tell_waiting`).
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


class OutboxItem(Base):
    """Rasa events to deliver to a conversation, written in the transaction that decided them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    events: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class BrokerCursor(Base):
    """How far the broker consumer has read; advanced in the same transaction as what it wrote."""

    __tablename__ = "broker_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class Lease(Base):
    """Which worker runs a singleton loop (broker consumer, outbox deliverer) until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class ArticleRow(Base):
    """A knowledge-base article; the database is the source of truth once imported."""

    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(default=list)
    applies_to: Mapped[list[str]] = mapped_column(default=list)
    audience: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    summary: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    # Optimistic concurrency: an edit names the version it started from; a stale one gets 409.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class ArticleRevision(Base):
    """Every change to an article (who, when, what), kept after deletion so it can be restored.

    The highest revision id is also the knowledge base's version: workers compare it to refresh search.
    """

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    changed_fields: Mapped[list[str]] = mapped_column(default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(100))


class EmbeddingRow(Base):
    """Section embeddings by content hash, so a restart or a republish does not embed again."""

    __tablename__ = "embeddings"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbQuery(Base):
    """What people asked the knowledge base and whether it had an answer: the knowledge-gap view."""

    __tablename__ = "kb_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    abstained: Mapped[bool]
    top_article_id: Mapped[str | None] = mapped_column(String(100))
    top_score: Mapped[float | None]
    asked_by: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# The tables, for the statements the busiest writes run without ORM objects.
HANDOFFS = cast(Table, Handoff.__table__)
MESSAGES = cast(Table, Message.__table__)
OUTBOX = cast(Table, OutboxItem.__table__)
EVENTS = cast(Table, HandoffEvent.__table__)
USERS = cast(Table, User.__table__)
