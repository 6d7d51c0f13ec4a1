"""What can happen to a handoff: create, claim, reply, note, escalate, resolve."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from handoff_api.core.db import changed_rows
from handoff_api.errors import Conflict, Invalid, NotFound
from handoff_api.models import (
    HANDOFFS,
    MESSAGES,
    NOTICE_KEY_PREFIX,
    OPEN_INDEX_WHERE,
    OPEN_STATUSES,
    OUTBOX,
    Handoff,
    Message,
    Note,
    OutboxItem,
    User,
    utcnow,
)
from handoff_api.schemas import TIER_ORDER, HandoffCreate
from handoff_api.services import events, single_statement_writes, sla
from handoff_api.services.feed_signal import mark

T = TypeVar("T")
# An outbox entry that is not a tracker event: Rasa's trigger_intent, sent after the events before it.
TRIGGER_INTENT = "trigger_intent"
RETURN_TO_BOT_TEXT = (
    "The engineer has handed you back to the virtual assistant. Is there anything else I can help with?"
)
# What the customer is told when their handoff goes back to a queue (services: `_tell_waiting`).
TEAM_NAMES = {"l2": "L2 engineers", "l3": "L3 engineers (our specialists)", "l4": "vendor liaisons"}


def get(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound(f"handoff {handoff_id} does not exist")
    return handoff


def open_for_conversation(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
    )


@dataclass
class Created:
    """`create`'s answer: the handoff, whether this call created it, and (when it did) its whole transcript
    and history, which the answer shows without reading them back."""

    handoff: Handoff
    created: bool
    transcript: list["Line"] | None = None
    history: list[events.EventRow] | None = None
    # Its queue position and the tier's agents online, where the creating statement read them.
    queue_figures: tuple[int, int] | None = None


class Line(NamedTuple):
    """A transcript line as written."""

    role: str
    text: str
    at: datetime
    author_name: str | None


# Statements the busiest writes run are built once: building one costs more than running it (SQLAlchemy
# caches the SQL of a statement object; the values come as bind parameters). SQLite's; PostgreSQL runs
# single_statement_writes.CREATE.
_INSERT_UNLESS_OPEN = (
    sqlite_insert(HANDOFFS)
    .on_conflict_do_nothing(index_elements=["conversation_id"], index_where=text(OPEN_INDEX_WHERE))
    .returning(HANDOFFS.c.id)
)
_INSERT_LINES = insert(MESSAGES)


def _insert_unless_open(session: Session, values: dict[str, Any]) -> Handoff | None:
    """INSERT ... ON CONFLICT DO NOTHING on the one-open-handoff-per-conversation index: one statement,
    no savepoint. The handoff (made from `values`, every column but the id, without reading it back), or
    None when the conversation has an open handoff already (or one that a concurrent request is creating,
    which the database waits for)."""
    handoff_id = session.execute(_INSERT_UNLESS_OPEN, values).scalar()
    if handoff_id is None:
        return None
    return _adopt(session, {"id": handoff_id, **values})


def _adopt(session: Session, columns: Mapping[str, Any]) -> Handoff:
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


def create(session: Session, data: HandoffCreate, bot: User) -> Created:
    """An open handoff of the conversation is reused (`created` false)."""
    now = utcnow()
    priority = sla.priority_for(data.impact, data.urgency, data.priority, data.customer.vip)
    first_due, resolution_due = sla.due_times(priority, now)
    stamps = [line.at.timestamp() for line in data.transcript if line.at is not None]
    values: dict[str, Any] = {
        "conversation_id": data.conversation_id,
        "channel": data.channel,
        "tier": data.tier,
        "status": "waiting",
        "priority": priority,
        "category": data.category,
        "reason": data.reason,
        "summary": data.summary,
        "customer": data.customer.model_dump(mode="json"),
        "context": data.context.model_dump(mode="json"),
        "transcript_cutoff": max(stamps, default=0.0),
        "assignee_id": None,
        "created_at": now,
        "updated_at": now,
        "first_response_due": first_due,
        "resolution_due": resolution_due,
        "first_response_at": None,
        "resolved_at": None,
        "resolution": None,
        "returned_to_bot": False,
        "vendor_name": None,
        "vendor_case": None,
        "breaches_announced": [],
        "reopened_count": 0,
    }
    transcript = [
        Line(
            line.role,
            line.text,
            (line.at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None),
            line.author,
        )
        for line in data.transcript
    ]
    if session.get_bind().dialect.name == "postgresql":
        return _create_in_one_statement(session, data, bot, values, transcript)
    handoff = _unless_open(session, data.conversation_id, lambda: _insert_unless_open(session, values))
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
    event = events.insert_now(
        session, handoff.id, handoff.tier, "handoff.created", events.actor_name(bot), reason=data.reason
    )
    return Created(handoff, True, transcript, [event])


def _create_in_one_statement(
    session: Session, data: HandoffCreate, bot: User, values: dict[str, Any], transcript: list[Line]
) -> Created:
    """`create` on PostgreSQL: the handoff, its transcript, its history entry and its queue figures in one
    statement (single_statement_writes.py)."""
    actor = events.actor_name(bot)
    params = values | {
        "roles": [line.role for line in transcript],
        "texts": [line.text for line in transcript],
        "ats": [line.at for line in transcript],
        "authors": [line.author_name for line in transcript],
        "actor": actor,
        "reason": data.reason,
    }
    row = _unless_open(
        session, data.conversation_id, lambda: session.execute(single_statement_writes.CREATE, params).first()
    )
    if isinstance(row, _Open):
        return Created(row.handoff, False)
    handoff = _adopt(session, {"id": row.id, **values})
    mark(session)  # the history entry is written: the commit wakes the event streams
    entry = events.EventRow(
        "handoff.created", actor, values["created_at"], handoff.tier, {"reason": data.reason}
    )
    return Created(handoff, True, transcript, [entry], (row.ahead + 1, row.online))


def queue(session: Session, tier: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.tier == tier, Handoff.status == "waiting")
            .order_by(Handoff.priority, Handoff.first_response_due, Handoff.id)
        )
    )


def queue_position(session: Session, handoff: Handoff) -> int | None:
    if handoff.status != "waiting":
        return None
    return (session.scalar(_AHEAD, _ahead_params(handoff)) or 0) + 1


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


def agents_online(session: Session, tier: str) -> int:
    return session.scalar(_ONLINE, {"tier": tier}) or 0


def queue_figures(session: Session, handoff: Handoff) -> tuple[int | None, int]:
    """`queue_position` and `agents_online` in one query."""
    if handoff.status != "waiting":
        return None, agents_online(session, handoff.tier)
    ahead, online = session.execute(_AHEAD_AND_ONLINE, _ahead_params(handoff)).one()
    return (ahead or 0) + 1, online or 0


class Claimed(NamedTuple):
    """A claim that `claim_waiting` made, with the history and the transcript for its answer when the claim's
    statement read them (PostgreSQL); None: they are still to be read (SQLite)."""

    handoff: Handoff
    history: list[events.EventRow] | None
    transcript: list[Line] | None


def claim_waiting(session: Session, handoff_id: int, agent: User, tiers: tuple[str, ...]) -> Claimed | None:
    """The common claim in one statement: the handoff if it was waiting in one of `tiers` and is now the
    agent's. None when it is unknown, of another tier, or not waiting (any more): `claim` then gives the
    right answer (404, 403, 409, or 200 to the holder claiming again). On PostgreSQL the same statement
    writes the history entry and reads the history and the transcript (single_statement_writes.py)."""
    now = utcnow()
    params = {"handoff_id": handoff_id, "tiers": list(tiers), "agent_id": agent.id, "now": now}
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        params |= {"actor": events.actor_name(agent), "agent_name": agent.name}
    row = session.execute(
        single_statement_writes.CLAIM if postgresql else single_statement_writes.CLAIM_UPDATE, params
    ).first()
    if row is None:
        return None
    columns = dict(row._mapping)
    history_rows = columns.pop(single_statement_writes.CLAIM_HISTORY, None)
    transcript_rows = columns.pop(single_statement_writes.CLAIM_TRANSCRIPT, None)
    handoff = _adopt(session, columns)
    set_committed_value(handoff, "assignee", agent)
    entry = events.EventRow(
        "handoff.claimed", events.actor_name(agent), now, handoff.tier, {"assignee": agent.name}
    )
    if not postgresql:
        events.insert_now(session, handoff.id, entry.tier, entry.kind, entry.actor, **entry.detail)
        return Claimed(handoff, None, None)
    mark(session)  # the history entry is written: the commit wakes the event streams
    history = [
        events.EventRow(kind, actor, _json_time(at), tier, detail)
        for kind, actor, at, tier, detail in history_rows
    ]
    # In (time, id) order: after every entry of its time or earlier (its id is the newest); sort is stable.
    history.append(entry)
    history.sort(key=lambda event: event.at)
    transcript = [Line(role, text, _json_time(at), author) for role, text, at, author in transcript_rows]
    return Claimed(handoff, history, transcript)


def _json_time(value: str) -> datetime:
    """A `timestamp` column as PostgreSQL writes it in JSON (ISO 8601, no zone, as the column holds it)."""
    return datetime.fromisoformat(value)


def claim(session: Session, handoff: Handoff, agent: User) -> Handoff:
    # A conditional update is atomic on every database: exactly one claimer sees a row change.
    won = changed_rows(
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, Handoff.status == "waiting", Handoff.tier == handoff.tier)
            .values(status="assigned", assignee_id=agent.id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if not won:
        session.refresh(handoff)
        if handoff.assignee_id == agent.id and handoff.status == "assigned":
            return handoff
        holder = handoff.assignee.name if handoff.assignee else None
        raise Conflict(
            f"handoff {handoff.number} is held by {holder}"
            if holder
            else f"handoff {handoff.number} is {handoff.status}"
        )
    session.refresh(handoff)
    events.record(session, handoff, "handoff.claimed", events.actor_name(agent), assignee=agent.name)
    return handoff


def _require_holder(handoff: Handoff, agent: User) -> None:
    if handoff.status == "resolved":
        raise Conflict(f"handoff {handoff.number} is resolved")
    if agent.role == "lead":
        return
    if handoff.assignee_id != agent.id:
        raise Conflict(
            f"handoff {handoff.number} is held by {handoff.assignee.name}"
            if handoff.assignee
            else f"claim handoff {handoff.number} first"
        )


@dataclass(frozen=True)
class Sent:
    """An agent's reply as written: the transcript line's id and time, and its text."""

    id: int
    role: str
    text: str
    at: datetime
    author_name: str


class _Target(Protocol):
    id: int
    tier: str
    conversation_id: str
    first_response_at: datetime | None


def send_agent_message(
    session: Session, handoff: Handoff, agent: User, text: str, source_key: str | None = None
) -> Sent:
    _require_holder(handoff, agent)
    session.flush()  # what is pending goes first: the reply's history entry comes after it
    sent = _write_agent_message(session, handoff, agent, text, source_key)
    if handoff.first_response_at is None:  # written by the statement: the loaded handoff follows
        set_committed_value(handoff, "first_response_at", sent.at)
        set_committed_value(handoff, "updated_at", sent.at)
    return sent


_REPLY_TARGET = select(
    HANDOFFS.c.id,
    HANDOFFS.c.tier,
    HANDOFFS.c.status,
    HANDOFFS.c.assignee_id,
    HANDOFFS.c.conversation_id,
    HANDOFFS.c.first_response_at,
).where(HANDOFFS.c.id == bindparam("handoff_id"))


def reply(
    session: Session,
    handoff_id: int,
    agent: User,
    tiers: tuple[str, ...],
    text: str,
    source_key: str | None = None,
) -> Sent | None:
    """The common agent reply, reading only the handoff's columns it needs (no ORM object): None unless
    the handoff is in one of `tiers`, not resolved, and held by `agent` (or `agent` is a lead), when
    `send_agent_message` on the loaded handoff gives the right answer (404, 403, 409)."""
    if session.get_bind().dialect.name == "postgresql":
        return _reply_in_one_statement(session, handoff_id, agent, tiers, text, source_key)
    target = session.execute(_REPLY_TARGET, {"handoff_id": handoff_id}).first()
    if (
        target is None
        or target.tier not in tiers
        or target.status == "resolved"
        or (agent.role != "lead" and target.assignee_id != agent.id)
    ):
        return None
    return _write_agent_message(session, target, agent, text, source_key)


def _reply_in_one_statement(
    session: Session,
    handoff_id: int,
    agent: User,
    tiers: tuple[str, ...],
    text: str,
    source_key: str | None,
) -> Sent | None:
    """`reply` on PostgreSQL: what `_write_agent_message` writes, in one statement
    (single_statement_writes.py)."""
    at = utcnow()
    message_id = session.execute(
        single_statement_writes.REPLY,
        {
            "handoff_id": handoff_id,
            "tiers": list(tiers),
            "lead": agent.role == "lead",
            "agent_id": agent.id,
            "agent_name": agent.name,
            "text": text,
            "at": at,
            "source_key": source_key,
            "agent": {"name": agent.name, "tier": agent.role},
            "takeover": ENGINEER_TAKES_OVER,
            "actor": events.actor_name(agent),
        },
    ).scalar()
    if message_id is None:
        return None
    mark(session)  # a history entry was written: the commit wakes the event streams
    return Sent(message_id, "agent", text, at, agent.name)


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


def _write_agent_message(
    session: Session, handoff: _Target, agent: User, text: str, source_key: str | None = None
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
    events.insert_now(
        session, handoff.id, handoff.tier, "message.agent", events.actor_name(agent), message_id=message_id
    )
    return Sent(message_id, "agent", text, at, agent.name)


def add_note(session: Session, handoff: Handoff, agent: User, text: str) -> Note:
    note = Note(handoff_id=handoff.id, author_id=agent.id, author_name=agent.name, text=text)
    session.add(note)
    session.flush()
    events.record(session, handoff, "note.added", events.actor_name(agent), note_id=note.id)
    return note


def escalate(
    session: Session,
    handoff: Handoff,
    agent: User,
    tier: str,
    note: str | None,
    vendor_name: str | None = None,
    vendor_case: str | None = None,
) -> Handoff:
    _require_holder(handoff, agent)
    if TIER_ORDER[tier] <= TIER_ORDER[handoff.tier]:
        raise Invalid(f"tier: escalation goes up, from {handoff.tier} to a higher tier, not to {tier}")
    if tier == "l4":
        if not vendor_name:
            raise Invalid("vendor_name: an escalation to L4 names the vendor")
        handoff.vendor_name = vendor_name
        handoff.vendor_case = vendor_case
    if note:
        add_note(session, handoff, agent, note)
    from_tier = handoff.tier
    # Filed under the new tier: that queue is where the handoff now waits.
    events.record(
        session,
        handoff,
        "handoff.escalated",
        events.actor_name(agent),
        tier,
        from_tier=from_tier,
        vendor_name=vendor_name,
        vendor_case=vendor_case,
    )
    handoff.tier = tier
    handoff.status = "waiting"
    handoff.assignee_id = None
    session.flush()
    session.refresh(handoff)
    vendor = f" ({vendor_name})" if tier == "l4" and vendor_name else ""
    _tell_waiting(
        session,
        handoff,
        f"Your ticket {handoff.number} has gone to our {TEAM_NAMES[tier]}{vendor}. They have everything "
        "you've told us so far and will answer in this chat.",
    )
    return handoff


def resolve(session: Session, handoff: Handoff, agent: User, resolution: str, return_to_bot: bool) -> Handoff:
    _require_holder(handoff, agent)
    handoff.status = "resolved"
    handoff.resolution = resolution
    handoff.resolved_at = utcnow()
    handoff.returned_to_bot = return_to_bot
    if return_to_bot:
        session.add(
            Message(handoff_id=handoff.id, role="bot", text=RETURN_TO_BOT_TEXT, author_name="assistant")
        )
        session.add(
            OutboxItem(
                handoff_id=handoff.id,
                conversation_id=handoff.conversation_id,
                # The bot takes over with its own words (and asks for a rating) on the external intent.
                events=[
                    {"event": "resume"},
                    {
                        "event": TRIGGER_INTENT,
                        "name": "EXTERNAL_handed_back",
                        "entities": {"handoff_id": str(handoff.id), "ticket_number": handoff.number},
                    },
                ],
            )
        )
    events.record(session, handoff, "handoff.resolved", events.actor_name(agent), return_to_bot=return_to_bot)
    return handoff


def append_customer_message(
    session: Session, handoff: Handoff, role: str, text: str, at: datetime, source_key: str
) -> Message | None:
    exists = session.scalar(
        select(Message.id).where(Message.handoff_id == handoff.id, Message.source_key == source_key)
    )
    if exists is not None:
        return None
    message = Message(handoff_id=handoff.id, role=role, text=text, at=at, source_key=source_key)
    session.add(message)
    session.flush()
    events.record(
        session, handoff, f"message.{role}", role if role == "customer" else "bot", message_id=message.id
    )
    return message


def assigned_count(session: Session, agent: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.assignee_id == agent.id, Handoff.status == "assigned")
        )
        or 0
    )


def _check_capacity(session: Session, agent: User) -> None:
    if agent.role != "lead" and assigned_count(session, agent) >= agent.capacity:
        raise Conflict(
            f"{agent.name} holds {agent.capacity} handoffs already (their capacity); resolve or release one"
        )


def claim_next(session: Session, agent: User, tier: str) -> Handoff:
    """Claims the most urgent waiting handoff of the tier that matches the agent's skills."""
    _check_capacity(session, agent)
    query = (
        select(Handoff.id)
        .where(Handoff.tier == tier, Handoff.status == "waiting")
        .order_by(Handoff.priority, Handoff.first_response_due, Handoff.id)
    )
    if agent.tier_skills:
        query = query.where(Handoff.category.is_(None) | Handoff.category.in_(agent.tier_skills))
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        # Concurrent claimers skip each other's locked rows instead of queueing behind them.
        candidates = session.scalars(query.with_for_update(skip_locked=True, of=Handoff).limit(1)).all()
        if not candidates:
            # Every waiting row is locked, by another claimer or by a write that is not a claim (a
            # customer's line, an SLA mark): wait for the first rather than answer "none waiting". After
            # the wait PostgreSQL checks the row again and moves on if it was claimed meanwhile.
            candidates = session.scalars(query.with_for_update(of=Handoff).limit(1)).all()
    else:
        candidates = session.scalars(query.limit(20)).all()
    for handoff_id in candidates:
        handoff = get(session, handoff_id)
        try:
            with session.begin_nested():
                return claim(session, handoff, agent)
        except Conflict:
            continue  # someone else won this one; try the next
    raise NotFound(
        f"no waiting handoff in the {tier} queue" + (" for your skills" if agent.tier_skills else "")
    )


def transfer(session: Session, handoff: Handoff, agent: User, to: User) -> Handoff:
    _require_holder(handoff, agent)
    if to.role not in (handoff.tier, "lead") or not to.active:
        raise Invalid(f"agent: {to.name} is not an active {handoff.tier} agent")
    _check_capacity(session, to)
    handoff.assignee_id = to.id
    session.flush()
    session.refresh(handoff)
    events.record(session, handoff, "handoff.transferred", events.actor_name(agent), assignee=to.name)
    return handoff


def release(session: Session, handoff: Handoff, agent: User) -> Handoff:
    _require_holder(handoff, agent)
    handoff.status = "waiting"
    handoff.assignee_id = None
    session.flush()
    session.refresh(handoff)
    events.record(session, handoff, "handoff.released", events.actor_name(agent))
    _tell_waiting(
        session,
        handoff,
        f"Your engineer has put ticket {handoff.number} back in the queue: the next of our "
        f"{TEAM_NAMES[handoff.tier]} will pick it up, with everything you've told us so far, in this chat.",
    )
    return handoff


def _tell_waiting(session: Session, handoff: Handoff, text: str) -> None:
    """The customer's handoff waits in a queue again (escalated, released): a line in the transcript, and
    the same words through the outbox to the customer's channel, with the ticket and its place in the queue,
    so that a widget shows them waiting instead of with the engineer who left. `helpdesk_message_id` makes
    it what an engineer's reply is to the broker consumer (an echo, not a customer line) and to the widget
    (caught up by `GET /api/v1/widget/replies` when it was away)."""
    position, _online = queue_figures(session, handoff)
    line = Message(
        handoff_id=handoff.id,
        role="bot",
        text=text,
        author_name="assistant",
        source_key=f"{NOTICE_KEY_PREFIX}{uuid.uuid4().hex}",
    )
    session.add(line)
    session.flush()
    queued = {"ticket": handoff.number, "tier": handoff.tier, "queue_position": position}
    session.add(
        OutboxItem(
            handoff_id=handoff.id,
            conversation_id=handoff.conversation_id,
            events=[
                {
                    "event": "bot",
                    "text": text,
                    "metadata": {"helpdesk_message_id": line.id, "handoff": queued},
                }
            ],
        )
    )


def reopenable(session: Session, conversation_id: str, within_days: int) -> Handoff | None:
    """The conversation's latest handoff if it was resolved recently and not handed back to the bot."""
    latest = session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1)
    )
    if latest is None or latest.status != "resolved" or latest.returned_to_bot or latest.resolved_at is None:
        return None
    if latest.resolved_at < utcnow() - timedelta(days=within_days):
        return None
    return latest


def reopen(session: Session, handoff: Handoff) -> Handoff:
    handoff.status = "waiting"
    handoff.assignee_id = None
    handoff.resolved_at = None
    handoff.reopened_count += 1
    now = utcnow()
    handoff.first_response_due, handoff.resolution_due = sla.due_times(handoff.priority, now)
    handoff.first_response_at = None
    handoff.breaches_announced = []
    session.flush()
    events.record(session, handoff, "handoff.reopened", "customer")
    return handoff
