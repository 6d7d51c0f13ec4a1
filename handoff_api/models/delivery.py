"""What carries work between processes: the outbox to Rasa, the broker cursor, the workers' leases."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


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


class DeadLetter(Base):
    """A Rasa event the broker consumer could not apply (malformed, or refused by the database): set aside
    so that the events after it flow, kept for an operator to look at (customer text masked)."""

    __tablename__ = "broker_dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The event's key for good (the broker row or the AMQP message): one dead letter per event.
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """Which worker runs a singleton loop (broker consumer, outbox deliverer) until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


OUTBOX = cast(Table, OutboxItem.__table__)
