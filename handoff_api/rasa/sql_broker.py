"""Consumes Rasa's SQL event broker: customer messages of conversations a human holds go to the transcript.

Rasa writes every tracker event to the broker's `events` table (id, sender_id, data). We read rows after a
cursor and advance the cursor in the same transaction as the transcript appends, so a crash or restart
neither loses nor repeats a message; a conditional cursor update makes two workers safe as well.

`apply_event` is what either source does with one event; the RabbitMQ consumer (`broker_amqp`) shares it.
"""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from helpdesk_text.redaction import redact
from helpdesk_text.storable import storable
from sqlalchemy import Engine, MetaData, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import (
    IntegrityError,
    InterfaceError,
    NoSuchTableError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.db import changed_rows
from handoff_api.handoffs import service as handoffs
from handoff_api.models import BrokerCursor, DeadLetter, Message
from handoff_api.rasa.client import UNKNOWN_CHANNEL

log = structlog.get_logger(__name__)
CURSOR_NAME = "rasa_sql_broker"
BATCH = 500
# Until Rasa has created its table (its first start) the table is looked for this often, not on every poll:
# looking for a missing table (reflection) costs a few milliseconds of CPU, ten times a second.
TABLE_LOOK_AGAIN_SECONDS = 1.0
# How long a hole in Rasa's row ids is waited for before it is taken for a rolled-back insert.
GAP_WAIT_SECONDS = 3.0
# The database away or a concurrent writer: the batch is retried as it is, nothing is set aside.
RETRYABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout, IntegrityError)


class SqlBrokerSource:
    """Reads Rasa's SQL event broker table."""

    def __init__(
        self, engine: Engine, clock: Callable[[], float] = time.monotonic, gap_wait: float = GAP_WAIT_SECONDS
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._table: Table | None = None
        self._look_again_at = 0.0
        self._gap_wait = gap_wait
        self._gap_since: float | None = None

    def waiting_for_table(self) -> bool:
        """The table was missing (or the database away) less than TABLE_LOOK_AGAIN_SECONDS ago."""
        return self._table is None and self._clock() < self._look_again_at

    def rows_after(self, position: int, limit: int = BATCH) -> list[tuple[int, str, str]]:
        try:
            if self._table is None:
                self._table = Table("events", MetaData(), autoload_with=self._engine)
            table = self._table
            with self._engine.connect() as conn:
                result = conn.execute(
                    select(table.c.id, table.c.sender_id, table.c.data)
                    .where(table.c.id > position)
                    .order_by(table.c.id)
                    .limit(limit)
                )
                rows = [(int(r[0]), str(r[1]), str(r[2])) for r in result]
        except (NoSuchTableError, OperationalError, ProgrammingError) as exc:
            # Rasa creates the table on its first start; until then there is nothing to read.
            self._table = None
            self._look_again_at = self._clock() + TABLE_LOOK_AGAIN_SECONDS
            log.debug("broker.not_ready", error=str(exc))
            return []
        return self._up_to_a_gap(position, rows)

    def _up_to_a_gap(self, position: int, rows: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """The rows before the first hole in the ids, until the hole has been open `gap_wait` seconds.

        On PostgreSQL, Rasa's row 11 can be visible while row 10 is still being committed (two Rasa
        instances, or two turns at once): a cursor moved past 11 would never read 10. A hole still open
        after the wait was a rolled-back insert (sequences never reuse ids) and is stepped over, as the
        handoff event feed does (handoffs/feed.py)."""
        kept: list[tuple[int, str, str]] = []
        expected = position + 1
        for row in rows:
            if row[0] > expected:
                now = self._clock()
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < self._gap_wait:
                    break
            self._gap_since = None
            kept.append(row)
            expected = row[0] + 1
        return kept


def _cursor(session: Session) -> int:
    cursor = session.get(BrokerCursor, CURSOR_NAME)
    if cursor is None:
        session.add(BrokerCursor(name=CURSOR_NAME, position=0))
        session.flush()
        return 0
    return cursor.position


def apply_event(
    session: Session, sender_id: str, source_key: str, event: dict[str, Any], reopen_days: int
) -> bool:
    """Puts one Rasa event in the transcript of the conversation's handoff if it belongs there.

    `source_key` names the event for good (the broker row, or a key derived from the AMQP message): a
    transcript holds each key once, so applying an event again (a redelivery) changes nothing.
    Returns whether a line was appended.
    """
    kind = event.get("event")
    if kind not in ("user", "bot"):
        return False
    metadata = event.get("metadata") or {}
    if kind == "bot" and ("helpdesk_message_id" in metadata or "helpdesk_return" in metadata):
        return False  # the echo of what an agent (or a return to the bot) already put in the transcript
    handoff = handoffs.open_for_conversation(session, sender_id)
    if handoff is not None and not _same_channel(handoff.channel, event):
        return False
    if handoff is None and kind == "user" and reopen_days > 0:
        resolved = handoffs.reopenable(session, sender_id, reopen_days)
        if resolved is not None and not _same_channel(resolved.channel, event):
            return False
        if resolved is not None and _has_line(session, resolved.id, source_key):
            return False  # a redelivery of the line that is already there: it must not reopen the handoff
        if resolved is not None:
            # The customer wrote again soon after an engineer closed it without handing back to the bot.
            handoff = handoffs.reopen(session, resolved)
    if handoff is None:
        return False
    timestamp = float(event.get("timestamp") or 0)
    # The bot sent lines up to the cutoff with the handoff; ISO timestamps there carry only microseconds.
    if timestamp and timestamp <= handoff.transcript_cutoff + 0.001:
        return False
    text = event.get("text")
    if not text:
        return False
    at = (
        datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)
        if timestamp
        else datetime.now(UTC).replace(tzinfo=None)
    )
    role = "customer" if kind == "user" else "bot"
    # While an engineer holds the chat the bot is paused and cannot mask what the customer types; and one
    # unstorable character must not stop the transcript.
    line = redact(str(text)) if role == "customer" else storable(str(text))
    return handoffs.append_customer_message(session, handoff, role, line, at, source_key) is not None


def _same_channel(channel: str, event: dict[str, Any]) -> bool:
    """Whether a customer's line came on the handoff's channel. Rasa keys a conversation by sender id
    alone: a Telegram chat id or a Slack user id typed into another channel would otherwise speak as that
    customer to the engineer, or reopen their ticket. Bot lines (Rasa's own) and a handoff whose channel
    Rasa did not name pass."""
    if event.get("event") != "user" or channel in ("", UNKNOWN_CHANNEL):
        return True
    came_on = event.get("input_channel")
    # No channel at all: written through Rasa's HTTP API (token-protected), not by a customer's channel.
    if came_on is None or came_on == channel:
        return True
    log.warning("broker.line_from_another_channel", handoff_channel=channel, came_on=str(came_on)[:50])
    return False


def _has_line(session: Session, handoff_id: int, source_key: str) -> bool:
    return (
        session.scalar(
            select(Message.id).where(Message.handoff_id == handoff_id, Message.source_key == source_key)
        )
        is not None
    )


class _LostRace(Exception):
    pass


def consume_once(factory: sessionmaker[Session], source: SqlBrokerSource, reopen_days: int = 7) -> int:
    """One batch; returns how many transcript lines were appended."""
    if source.waiting_for_table():
        return 0
    try:
        return _consume_batch(factory, source, reopen_days)
    except _LostRace:
        return 0  # another worker consumed this batch first; its transaction stands, ours rolled back


def _consume_batch(factory: sessionmaker[Session], source: SqlBrokerSource, reopen_days: int) -> int:
    rows = None
    try:
        with factory() as session, session.begin():
            start = _cursor(session)
            rows = source.rows_after(start)
            if not rows:
                return 0
            appended = _apply_rows(session, rows, reopen_days, set_aside=False)
            _advance(session, start, rows[-1][0])
            return appended
    except _LostRace:
        raise
    except RETRYABLE:
        raise
    except Exception:
        if not rows:
            raise
    # An event of the batch could not be applied: the batch again, each event in a savepoint, and the one
    # that fails set aside (a dead letter) so that every transcript after it goes on.
    with factory() as session, session.begin():
        start = _cursor(session)
        rows = source.rows_after(start)
        appended = _apply_rows(session, rows, reopen_days, set_aside=True)
        if rows:
            _advance(session, start, rows[-1][0])
        return appended


def _apply_rows(session: Session, rows: list[tuple[int, str, str]], reopen_days: int, set_aside: bool) -> int:
    appended = 0
    for row_id, sender_id, data in rows:
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("broker.bad_row", row=row_id)
            continue
        if not isinstance(event, dict):
            continue
        key = f"rasa:{row_id}"
        if set_aside:
            appended += apply_or_set_aside(session, sender_id, key, event, reopen_days)
        elif apply_event(session, sender_id, key, event, reopen_days):
            appended += 1
    return appended


def _advance(session: Session, start: int, to: int) -> None:
    moved = changed_rows(
        session.execute(
            update(BrokerCursor)
            .where(BrokerCursor.name == CURSOR_NAME, BrokerCursor.position == start)
            .values(position=to)
        )
    )
    if not moved:
        raise _LostRace


def apply_or_set_aside(
    session: Session, sender_id: str, source_key: str, event: dict[str, Any], reopen_days: int
) -> bool:
    """`apply_event` in a savepoint; an event it cannot apply becomes a dead letter instead of stopping
    the events after it. Returns whether a line was appended."""
    try:
        with session.begin_nested():
            return apply_event(session, sender_id, source_key, event, reopen_days)
    except RETRYABLE:
        raise
    except Exception as exc:
        set_aside(session, sender_id, source_key, event, exc)
        return False


def set_aside(session: Session, sender_id: str, source_key: str, event: Any, error: Exception) -> None:
    """Keeps an event that could not be applied (its text masked) and says so in the log."""
    log.warning(
        "broker.dead_letter",
        source_key=source_key,
        conversation_id=storable(str(sender_id))[:200],
        error=type(error).__name__,
    )
    with session.begin_nested():
        session.execute(
            _insert(session)(DeadLetter)
            .values(
                source_key=source_key[:200],
                conversation_id=storable(str(sender_id))[:200],
                event=redact(storable(json.dumps(event, default=str)))[:20_000],
                error=storable(f"{type(error).__name__}: {error}")[:2000],
                at=datetime.now(UTC).replace(tzinfo=None),
            )
            .on_conflict_do_nothing(index_elements=["source_key"])
        )


def _insert(session: Session) -> Any:
    bind = session.get_bind()
    return pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
