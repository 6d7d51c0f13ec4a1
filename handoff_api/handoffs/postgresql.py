"""The busiest writes as one PostgreSQL statement each, where SQLite takes several round trips.

A reply is the busiest write of a help desk. `service.reply` on SQLite reads the handoff, then writes the
transcript line, the first response time (once), the outbox entry that carries the line to the customer, and
the history entry. On PostgreSQL the same work is one statement whose data-modifying CTEs share the handoff
they read (`target`) and the new line's id (`line`): one round trip instead of five, and one statement for the
server to run instead of five. The rows are the same as the SQLite path writes, column for column
(tests/service/handoffs/test_write_path.py runs both on both databases).

No row comes back when the handoff is not one the agent may reply in (unknown, another tier's, resolved,
or held by someone else, unless the agent is a lead); nothing is written then, and the caller's slow path
gives the right answer (404, 403, 409).

A claim on SQLite is the conditional UPDATE, the history entry, and then the read of the history and the
transcript for its answer; on PostgreSQL the entry is written by a CTE of the UPDATE, from the row it claimed,
and the same statement returns the history and the transcript as JSON arrays. They are read in the
statement's snapshot, which its own history entry is not part of: the caller adds that one.

A creation on SQLite inserts the handoff (unless the conversation has an open one), its transcript and its
history entry, and reads its queue position and the tier's agents online; on PostgreSQL one statement does
all of it. The position is counted in the statement's snapshot, which the new row is not part of: what it
counts is the handoffs ahead of it, as on SQLite.
"""

from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import cast as sql_cast
from sqlalchemy.sql.selectable import CTE

from handoff_api.handoffs import rules
from handoff_api.models import EVENTS, HANDOFFS, MESSAGES, OPEN_INDEX_WHERE, OUTBOX, USERS


def _history_entry(
    handoff: CTE, kind: str, at: ColumnElement[Any], detail: ColumnElement[Any], joined: CTE | None = None
) -> CTE:
    """The history entry of `handoff` (a CTE with its id and tier) as a CTE; by `bindparam("actor")`.
    With `joined`, only when that CTE has a row too (the reply's line)."""
    rows = select(
        handoff.c.id,
        literal(kind),
        handoff.c.tier,
        bindparam("actor", type_=EVENTS.c.actor.type),
        at,
        sql_cast(detail, JSON),
    )
    if joined is not None:
        rows = rows.select_from(handoff.join(joined, true()))
    return (
        insert(EVENTS)
        .from_select(["handoff_id", "kind", "tier", "actor", "at", "detail"], rows)
        .returning(EVENTS.c.id)
        .cte("history_entry")
    )


def _reply() -> Select[Any]:
    at = bindparam("at", type_=HANDOFFS.c.updated_at.type)
    said = bindparam("text", type_=MESSAGES.c.text.type)
    target = (
        select(HANDOFFS.c.id, HANDOFFS.c.conversation_id, HANDOFFS.c.tier, HANDOFFS.c.first_response_at)
        .where(HANDOFFS.c.id == bindparam("handoff_id"), rules.may_reply(HANDOFFS))
        .cte("target")
    )
    line = (
        insert(MESSAGES)
        .from_select(
            ["handoff_id", "role", "text", "at", "source_key", "author_id", "author_name"],
            select(
                target.c.id,
                literal("agent"),
                said,
                at,
                bindparam("source_key", type_=MESSAGES.c.source_key.type),
                bindparam("agent_id"),
                bindparam("agent_name", type_=MESSAGES.c.author_name.type),
            ),
        )
        .returning(MESSAGES.c.id)
        .cte("line")
    )
    first_response = (
        update(HANDOFFS)
        .where(HANDOFFS.c.id.in_(select(target.c.id).where(target.c.first_response_at.is_(None))))
        .values(first_response_at=at, updated_at=at)
        .returning(HANDOFFS.c.id)
        .cte("first_response")
    )
    bot_event = func.jsonb_build_object(
        "event",
        "bot",
        "text",
        said,
        "metadata",
        func.jsonb_build_object(
            "helpdesk_message_id", line.c.id, "agent", sql_cast(bindparam("agent", type_=JSON), JSONB)
        ),
    )
    # The engineer's first reply takes the chat over from the bot (repository.ENGINEER_TAKES_OVER).
    takeover = case(
        (target.c.first_response_at.is_(None), sql_cast(bindparam("takeover", type_=JSON), JSONB)),
        else_=sql_cast(literal("[]"), JSONB),
    )
    outbox_item = (
        insert(OUTBOX)
        .from_select(
            [
                "handoff_id",
                "conversation_id",
                "events",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            select(
                target.c.id,
                target.c.conversation_id,
                sql_cast(func.jsonb_build_array(bot_event).op("||")(takeover), JSON),
                literal("pending"),
                literal(0),
                at,
                at,
            ).select_from(target.join(line, true())),
        )
        .returning(OUTBOX.c.id)
        .cte("outbox_item")
    )
    history_entry = _history_entry(
        target, "message.agent", at, func.jsonb_build_object("message_id", line.c.id), joined=line
    )
    # The CTEs nobody selects from still run (PostgreSQL runs every data-modifying CTE exactly once).
    return (
        select(line.c.id)
        .select_from(target.join(line, true()))
        .add_cte(first_response, outbox_item, history_entry)
    )


_NOW = bindparam("now", type_=HANDOFFS.c.updated_at.type)
# The claim itself, on its own what SQLite runs: the handoff if it was waiting in one of the tiers.
CLAIM_UPDATE = (
    update(HANDOFFS)
    .where(
        HANDOFFS.c.id == bindparam("handoff_id"),
        HANDOFFS.c.status == "waiting",
        HANDOFFS.c.tier.in_(bindparam("tiers", expanding=True)),
    )
    .values(status="assigned", assignee_id=bindparam("agent_id"), updated_at=_NOW)
    .returning(*HANDOFFS.c)
)


def _rows_of(claimed: CTE, table: Any, *columns: ColumnElement[Any]) -> ColumnElement[Any]:
    """The claimed handoff's rows of `table` as one JSON array of arrays, in time order (ties in id order),
    as serializers.history_and_transcript orders them; [] when there are none."""
    rows = func.json_agg(aggregate_order_by(func.json_build_array(*columns), table.c.at, table.c.id))
    return (
        select(func.coalesce(rows, sql_cast(literal("[]"), JSON), type_=JSON))
        .where(table.c.handoff_id == claimed.c.id)
        .scalar_subquery()
    )


# The claim's two extra columns (PostgreSQL): the history before the claim and the transcript.
CLAIM_HISTORY = "history_before_claim"
CLAIM_TRANSCRIPT = "transcript"


def _claim() -> Select[Any]:
    now = _NOW
    claimed = CLAIM_UPDATE.cte("claimed")
    assignee = bindparam("agent_name", type_=EVENTS.c.actor.type)
    history_entry = _history_entry(
        claimed, "handoff.claimed", now, func.jsonb_build_object("assignee", assignee)
    )
    history = _rows_of(
        claimed, EVENTS, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.tier, EVENTS.c.detail
    )
    transcript = _rows_of(
        claimed, MESSAGES, MESSAGES.c.role, MESSAGES.c.text, MESSAGES.c.at, MESSAGES.c.author_name
    )
    return select(claimed, history.label(CLAIM_HISTORY), transcript.label(CLAIM_TRANSCRIPT)).add_cte(
        history_entry
    )


# Every column of a new handoff but the id, as `handoffs.create` gives them.
HANDOFF_COLUMNS = tuple(c.name for c in HANDOFFS.c if c.name != "id")


def _create() -> Select[Any]:
    created = (
        postgresql_insert(HANDOFFS)
        .values({name: bindparam(name, type_=HANDOFFS.c[name].type) for name in HANDOFF_COLUMNS})
        .on_conflict_do_nothing(index_elements=["conversation_id"], index_where=text(OPEN_INDEX_WHERE))
        .returning(HANDOFFS.c.id, HANDOFFS.c.tier, HANDOFFS.c.priority, HANDOFFS.c.first_response_due)
        .cte("created")
    )
    transcript = (
        func.unnest(
            bindparam("roles", type_=ARRAY(String)),
            bindparam("texts", type_=ARRAY(String)),
            bindparam("ats", type_=ARRAY(DateTime)),
            bindparam("authors", type_=ARRAY(String)),
        )
        .table_valued("role", "text", "at", "author_name", with_ordinality="n")
        .render_derived("line")
    )
    lines = (
        insert(MESSAGES)
        .from_select(
            ["handoff_id", "role", "text", "at", "author_name"],
            # In the transcript's order, which the lines' ids keep (ties of time list in id order).
            select(
                created.c.id, transcript.c.role, transcript.c.text, transcript.c.at, transcript.c.author_name
            )
            .select_from(created.join(transcript, true()))
            .order_by(transcript.c.n),
        )
        .returning(MESSAGES.c.id)
        .cte("lines")
    )
    history_entry = _history_entry(
        created,
        "handoff.created",
        bindparam("created_at", type_=HANDOFFS.c.created_at.type),
        func.jsonb_build_object("reason", bindparam("reason", type_=EVENTS.c.actor.type)),
    )
    waiting = HANDOFFS.c.status == "waiting"
    ahead = (
        select(func.count())
        .select_from(HANDOFFS)
        .where(
            HANDOFFS.c.tier == created.c.tier,
            waiting,
            (HANDOFFS.c.priority < created.c.priority)
            | (
                (HANDOFFS.c.priority == created.c.priority)
                & (HANDOFFS.c.first_response_due < created.c.first_response_due)
            )
            | (
                (HANDOFFS.c.priority == created.c.priority)
                & (HANDOFFS.c.first_response_due == created.c.first_response_due)
                & (HANDOFFS.c.id < created.c.id)
            ),
        )
        .scalar_subquery()
    )
    online = (
        select(func.count())
        .select_from(USERS)
        .where(USERS.c.role == created.c.tier, USERS.c.presence == "online", USERS.c.active.is_(True))
        .scalar_subquery()
    )
    return select(created.c.id, ahead.label("ahead"), online.label("online")).add_cte(lines, history_entry)


# Built once: SQLAlchemy caches a statement object's SQL, and building one costs more than running it.
REPLY = _reply()
CLAIM = _claim()
CREATE = _create()
