"""The handoffs' side of the database: queries, and the busiest writes in the form each database runs best.

The rules are in `service`; here is how they reach the database. `writes_for(session)` gives the writes
of the session's database, chosen once per engine: `HandoffWrites` (SQLite, and what any database can
run: a few statements each) or `PostgresWrites` (one statement each, built in `postgresql`). Both write
the same rows (tests/service/handoffs/test_write_path.py runs both on both databases).
"""

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Engine, Select, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from handoff_api.core.errors import Conflict, NotFound
from handoff_api.handoffs import history, postgresql, rules
from handoff_api.handoffs.history import EventRow
from handoff_api.models import (
    HANDOFFS,
    MESSAGES,
    OPEN_INDEX_WHERE,
    OPEN_STATUSES,
    OUTBOX,
    Handoff,
    Message,
    User,
)
from handoff_api.models.base import utcnow
from handoff_api.signals.local import mark

T = TypeVar("T")


class Line(NamedTuple):
    """A transcript line as written."""

    role: str
    text: str
    at: datetime
    author_name: str | None


@dataclass
class Created:
    """`create`'s answer: the handoff, whether this call created it, and (when it did) its whole transcript
    and history, which the answer shows without reading them back."""

    handoff: Handoff
    created: bool
    transcript: list[Line] | None = None
    history: list[EventRow] | None = None
    # Its queue position and the tier's agents online, where the creating statement read them.
    queue_figures: tuple[int, int] | None = None


class Claimed(NamedTuple):
    """A claim that `claim_waiting` made, with the history and the transcript for its answer when the claim's
    statement read them (PostgreSQL); None: they are still to be read (SQLite)."""

    handoff: Handoff
    history: list[EventRow] | None
    transcript: list[Line] | None


@dataclass(frozen=True)
class Sent:
    """An agent's reply as written: the transcript line's id and time, and its text."""

    id: int
    role: str
    text: str
    at: datetime
    author_name: str


# Queries


def get(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound(f"handoff {handoff_id} does not exist")
    return handoff


def open_for_conversation(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
    )


def latest_for_conversation(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1)
    )


def queue(session: Session, tier: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.tier == tier, Handoff.status == "waiting")
            .order_by(Handoff.priority, Handoff.first_response_due, Handoff.id)
        )
    )


# How many waiting handoffs of the tier come before this one (the queue's order).
_AHEAD = (
    select(func.count())
    .select_from(Handoff)
    .where(
        Handoff.tier == bindparam("tier"),
        Handoff.status == "waiting",
        (Handoff.priority < bindparam("priority"))
        | ((Handoff.priority == bindparam("priority")) & (Handoff.first_response_due < bindparam("due")))
        | (
            (Handoff.priority == bindparam("priority"))
            & (Handoff.first_response_due == bindparam("due"))
            & (Handoff.id < bindparam("handoff_id"))
        ),
    )
)
_ONLINE = (
    select(func.count())
    .select_from(User)
    .where(User.role == bindparam("tier"), User.presence == "online", User.active.is_(True))
)
_AHEAD_AND_ONLINE = select(_AHEAD.scalar_subquery(), _ONLINE.scalar_subquery())


def _ahead_params(handoff: Handoff) -> dict[str, Any]:
    return {
        "tier": handoff.tier,
        "priority": handoff.priority,
        "due": handoff.first_response_due,
        "handoff_id": handoff.id,
    }


def queue_position(session: Session, handoff: Handoff) -> int | None:
    if handoff.status != "waiting":
        return None
    return (session.scalar(_AHEAD, _ahead_params(handoff)) or 0) + 1


def agents_online(session: Session, tier: str) -> int:
    return session.scalar(_ONLINE, {"tier": tier}) or 0


def queue_figures(session: Session, handoff: Handoff) -> tuple[int | None, int]:
    """`queue_position` and `agents_online` in one query."""
    if handoff.status != "waiting":
        return None, agents_online(session, handoff.tier)
    ahead, online = session.execute(_AHEAD_AND_ONLINE, _ahead_params(handoff)).one()
    return (ahead or 0) + 1, online or 0


def assigned_count(session: Session, agent: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.assignee_id == agent.id, Handoff.status == "assigned")
        )
        or 0
    )


def earlier_reply(session: Session, handoff_id: int, agent: User, source_key: str) -> Sent | None:
    """The reply `agent` already wrote into this handoff with this key (a retried request), if any."""
    message = session.scalars(
        select(Message).where(
            Message.handoff_id == handoff_id, Message.source_key == source_key, Message.author_id == agent.id
        )
    ).first()
    if message is None:
        return None
    return Sent(message.id, message.role, message.text, message.at, message.author_name or agent.name)


def has_line(session: Session, handoff_id: int, source_key: str) -> bool:
    return (
        session.scalar(
            select(Message.id).where(Message.handoff_id == handoff_id, Message.source_key == source_key)
        )
        is not None
    )


# Loaded without a query


def adopt(session: Session, columns: Mapping[str, Any]) -> Handoff:
    """The session's handoff with these column values, as if just loaded, without a query: a statement that
    wrote the row and knows every column (INSERT's values, UPDATE ... RETURNING) need not read it back."""
    existing = session.identity_map.get(identity_key(Handoff, columns["id"]))
    if isinstance(existing, Handoff):
        for name, value in columns.items():
            set_committed_value(existing, name, value)
        return existing
    handoff = Handoff(**columns)
    make_transient_to_detached(handoff)  # persistent and clean; the relationships load when read
    session.add(handoff)
    return handoff


@dataclass(frozen=True)
class _Open:
    """The conversation's open handoff, found instead of creating one."""

    handoff: Handoff


def _unless_open(session: Session, conversation_id: str, insert: Callable[[], T | None]) -> T | _Open:
    """What `insert` (an INSERT ... ON CONFLICT DO NOTHING on the one-open-handoff index) returned, or the
    conversation's open handoff when it inserted nothing."""
    for _ in range(3):
        inserted = insert()
        if inserted is not None:
            return inserted
        existing = open_for_conversation(session, conversation_id)
        if existing is not None:
            return _Open(existing)
        # The open one was resolved between the two statements: try again.
    raise Conflict(f"conversation {conversation_id} is changing too fast; retry")


def _json_time(value: str) -> datetime:
    """A `timestamp` column as PostgreSQL writes it in JSON (ISO 8601, no zone, as the column holds it)."""
    return datetime.fromisoformat(value)


# Statements the busiest writes run are built once: building one costs more than running it (SQLAlchemy
# caches the SQL of a statement object; the values come as bind parameters).
_INSERT_UNLESS_OPEN = (
    sqlite_insert(HANDOFFS)
    .on_conflict_do_nothing(index_elements=["conversation_id"], index_where=text(OPEN_INDEX_WHERE))
    .returning(HANDOFFS.c.id)
)
_INSERT_LINES = insert(MESSAGES)
_REPLY_TARGET = select(
    HANDOFFS.c.id, HANDOFFS.c.tier, HANDOFFS.c.conversation_id, HANDOFFS.c.first_response_at
).where(HANDOFFS.c.id == bindparam("handoff_id"), rules.may_reply(HANDOFFS))
_INSERT_REPLY = insert(MESSAGES).returning(MESSAGES.c.id)
_INSERT_OUTBOX = insert(OUTBOX)
_FIRST_RESPONSE = (
    update(HANDOFFS)
    .where(HANDOFFS.c.id == bindparam("handoff_id"), HANDOFFS.c.first_response_at.is_(None))
    .values(first_response_at=bindparam("at"), updated_at=bindparam("at"))
)


# With the engineer's first message the chat is theirs: whatever the bot still waited for (the e-mail
# follow-up question it asks when nobody was online, any form) is void, and the bot stays paused.
# Otherwise the customer's "yes" to the engineer would answer the bot's question. Rasa's own events,
# after the message in its outbox item (the customer sees the engineer's words; Rasa applies all at once).
ENGINEER_TAKES_OVER: list[dict[str, Any]] = [
    {"event": "active_loop", "name": None},
    {"event": "slot", "name": "requested_slot", "value": None},
    {"event": "pause"},
]


class ReplyTarget(Protocol):
    id: int
    tier: str
    conversation_id: str
    first_response_at: datetime | None


def write_reply(
    session: Session, handoff: ReplyTarget, agent: User, text: str, source_key: str | None = None
) -> Sent:
    """The transcript line, the outbox entry that carries it to the customer, the first response time
    (once) and the history entry: four statements, no ORM flush."""
    at = utcnow()
    line = {"handoff_id": handoff.id, "role": "agent", "text": text, "at": at, "source_key": source_key}
    message_id = session.execute(
        _INSERT_REPLY, line | {"author_id": agent.id, "author_name": agent.name}
    ).scalar_one()
    takeover: list[dict[str, Any]] = []
    if handoff.first_response_at is None:
        session.execute(_FIRST_RESPONSE, {"handoff_id": handoff.id, "at": at})
        takeover = ENGINEER_TAKES_OVER
    outbox_events = [
        {
            "event": "bot",
            "text": text,
            "metadata": {
                "helpdesk_message_id": message_id,
                "agent": {"name": agent.name, "tier": agent.role},
            },
        },
        *takeover,
    ]
    session.execute(
        _INSERT_OUTBOX,
        {"handoff_id": handoff.id, "conversation_id": handoff.conversation_id, "events": outbox_events},
    )
    history.insert_now(
        session, handoff.id, handoff.tier, "message.agent", history.actor_name(agent), message_id=message_id
    )
    return Sent(message_id, "agent", text, at, agent.name)


class HandoffWrites:
    """The busiest writes as a few statements each: SQLite's, and what any database can run."""

    def create(
        self, session: Session, values: dict[str, Any], transcript: list[Line], actor: str, reason: str
    ) -> Created:
        """The handoff (unless the conversation has an open one), its transcript and history entry."""
        handoff = _unless_open(
            session, values["conversation_id"], lambda: self._insert_unless_open(session, values)
        )
        if isinstance(handoff, _Open):
            return Created(handoff.handoff, False)
        if transcript:
            # One statement for all lines (executemany), no ORM objects to flush.
            session.execute(
                _INSERT_LINES,
                [
                    {
                        "handoff_id": handoff.id,
                        "role": m.role,
                        "text": m.text,
                        "at": m.at,
                        "author_name": m.author_name,
                    }
                    for m in transcript
                ],
            )
        event = history.insert_now(session, handoff.id, handoff.tier, "handoff.created", actor, reason=reason)
        return Created(handoff, True, transcript, [event])

    @staticmethod
    def _insert_unless_open(session: Session, values: dict[str, Any]) -> Handoff | None:
        """INSERT ... ON CONFLICT DO NOTHING on the one-open-handoff-per-conversation index: one statement,
        no savepoint. The handoff (made from `values`, every column but the id, without reading it back),
        or None when the conversation has an open handoff already (or one that a concurrent request is
        creating, which the database waits for)."""
        handoff_id = session.execute(_INSERT_UNLESS_OPEN, values).scalar()
        if handoff_id is None:
            return None
        return adopt(session, {"id": handoff_id, **values})

    def claim(
        self, session: Session, handoff_id: int, agent: User, tiers: tuple[str, ...], now: datetime
    ) -> Claimed | None:
        """The conditional UPDATE and the history entry; the answer's history and transcript are read
        later. None when the handoff was not waiting in one of `tiers`."""
        params = {"handoff_id": handoff_id, "tiers": list(tiers), "agent_id": agent.id, "now": now}
        row = session.execute(postgresql.CLAIM_UPDATE, params).first()
        if row is None:
            return None
        handoff = adopt(session, dict(row._mapping))
        set_committed_value(handoff, "assignee", agent)
        history.insert_now(
            session,
            handoff.id,
            handoff.tier,
            "handoff.claimed",
            history.actor_name(agent),
            assignee=agent.name,
        )
        return Claimed(handoff, None, None)

    def reply(
        self, session: Session, handoff_id: int, agent: User, text: str, source_key: str | None
    ) -> Sent | None:
        """The reply when `rules.may_reply`; None (nothing written) otherwise."""
        target = session.execute(
            _REPLY_TARGET, {"handoff_id": handoff_id, **rules.may_reply_params(agent)}
        ).first()
        if target is None:
            return None
        return write_reply(session, target, agent, text, source_key)

    def claim_candidates(self, session: Session, waiting: Select[Any]) -> list[int]:
        """The ids of waiting handoffs (`waiting`, most urgent first) for claim-next to try in order."""
        return list(session.scalars(waiting.limit(20)))


class PostgresWrites(HandoffWrites):
    """The busiest writes as one statement each (postgresql.py)."""

    def create(
        self, session: Session, values: dict[str, Any], transcript: list[Line], actor: str, reason: str
    ) -> Created:
        """The handoff, its transcript, its history entry and its queue figures in one statement."""
        params = values | {
            "roles": [line.role for line in transcript],
            "texts": [line.text for line in transcript],
            "ats": [line.at for line in transcript],
            "authors": [line.author_name for line in transcript],
            "actor": actor,
            "reason": reason,
        }
        row = _unless_open(
            session, values["conversation_id"], lambda: session.execute(postgresql.CREATE, params).first()
        )
        if isinstance(row, _Open):
            return Created(row.handoff, False)
        handoff = adopt(session, {"id": row.id, **values})
        mark(session)  # the history entry is written: the commit wakes the event streams
        entry = history.EventRow(
            "handoff.created", actor, values["created_at"], handoff.tier, {"reason": reason}
        )
        return Created(handoff, True, transcript, [entry], (row.ahead + 1, row.online))

    def claim(
        self, session: Session, handoff_id: int, agent: User, tiers: tuple[str, ...], now: datetime
    ) -> Claimed | None:
        """The claim, its history entry, and the history and transcript for its answer, in one statement."""
        actor = history.actor_name(agent)
        params = {
            "handoff_id": handoff_id,
            "tiers": list(tiers),
            "agent_id": agent.id,
            "now": now,
            "actor": actor,
            "agent_name": agent.name,
        }
        row = session.execute(postgresql.CLAIM, params).first()
        if row is None:
            return None
        columns = dict(row._mapping)
        history_rows = columns.pop(postgresql.CLAIM_HISTORY)
        transcript_rows = columns.pop(postgresql.CLAIM_TRANSCRIPT)
        handoff = adopt(session, columns)
        set_committed_value(handoff, "assignee", agent)
        mark(session)  # the history entry is written: the commit wakes the event streams
        entries = [
            history.EventRow(kind, actor_, _json_time(at), tier, detail)
            for kind, actor_, at, tier, detail in history_rows
        ]
        # In (time, id) order: after every entry of its time or earlier (its id is the newest); a stable sort.
        entries.append(
            history.EventRow("handoff.claimed", actor, now, handoff.tier, {"assignee": agent.name})
        )
        entries.sort(key=lambda event: event.at)
        transcript = [Line(role, text, _json_time(at), author) for role, text, at, author in transcript_rows]
        return Claimed(handoff, entries, transcript)

    def reply(
        self, session: Session, handoff_id: int, agent: User, text: str, source_key: str | None
    ) -> Sent | None:
        """What `write_reply` writes, in one statement, when `rules.may_reply`."""
        at = utcnow()
        message_id = session.execute(
            postgresql.REPLY,
            {
                "handoff_id": handoff_id,
                **rules.may_reply_params(agent),
                "agent_name": agent.name,
                "text": text,
                "at": at,
                "source_key": source_key,
                "agent": {"name": agent.name, "tier": agent.role},
                "takeover": ENGINEER_TAKES_OVER,
                "actor": history.actor_name(agent),
            },
        ).scalar()
        if message_id is None:
            return None
        mark(session)  # a history entry was written: the commit wakes the event streams
        return Sent(message_id, "agent", text, at, agent.name)

    def claim_candidates(self, session: Session, waiting: Select[Any]) -> list[int]:
        # Concurrent claimers skip each other's locked rows instead of queueing behind them.
        candidates = list(session.scalars(waiting.with_for_update(skip_locked=True, of=Handoff).limit(1)))
        if not candidates:
            # Every waiting row is locked, by another claimer or by a write that is not a claim (a
            # customer's line, an SLA mark): wait for the first rather than answer "none waiting". After
            # the wait PostgreSQL checks the row again and moves on if it was claimed meanwhile.
            candidates = list(session.scalars(waiting.with_for_update(of=Handoff).limit(1)))
        return candidates


_WRITES: "weakref.WeakKeyDictionary[Engine, HandoffWrites]" = weakref.WeakKeyDictionary()


def writes_for(session: Session) -> HandoffWrites:
    """The writes of the session's database, chosen the first time an engine is seen."""
    engine = session.get_bind().engine  # a session bound to a connection: that connection's engine
    writes = _WRITES.get(engine)
    if writes is None:
        writes = PostgresWrites() if engine.dialect.name == "postgresql" else HandoffWrites()
        _WRITES[engine] = writes
    return writes
