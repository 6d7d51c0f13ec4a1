"""Handoff rows to API documents.

`full` is the detail view (`GET /api/v1/handoffs/{id}`): everything, notes included. `change` is what the
writes answer: the contract's fields without the notes, and the queue figures only while the handoff
waits. Both read the transcript and the history as plain rows (no ORM objects to build), in one statement,
after a flush, so that what the request changed shows.
"""

from collections.abc import Sequence

from sqlalchemy import JSON, bindparam, cast, literal, null, select, union_all
from sqlalchemy.orm import Session

from handoff_api.handoffs import history as events
from handoff_api.handoffs import schemas, sla
from handoff_api.handoffs import service as handoffs
from handoff_api.models import EVENTS, MESSAGES, Handoff, Note, utcnow


def summary(handoff: Handoff) -> schemas.HandoffSummary:
    return schemas.HandoffSummary.model_validate(_summary_fields(handoff))


def _summary_fields(handoff: Handoff) -> dict[str, object]:
    return {
        "id": handoff.id,
        "number": handoff.number,
        "conversation_id": handoff.conversation_id,
        "channel": handoff.channel,
        "tier": handoff.tier,
        "status": handoff.status,
        "priority": handoff.priority,
        "category": handoff.category,
        "reason": handoff.reason,
        "summary": handoff.summary,
        "customer": handoff.customer,
        "language": handoff.language,
        "assignee": {"id": handoff.assignee.id, "name": handoff.assignee.name} if handoff.assignee else None,
        "sla": {
            "first_response_due": handoff.first_response_due,
            "resolution_due": handoff.resolution_due,
            "breached": sla.breached(handoff, utcnow()),
        },
        "created_at": handoff.created_at,
        "updated_at": handoff.updated_at,
    }


# The transcript and the history in one statement (one round trip): history entries first, then lines,
# each in time order (ties in id order); a line has no `detail`. Time, not id: a customer's line reaches
# the service through Rasa's event broker, so it can be stored after an engineer's reply that came later
# (a poll apart, or a whole outage of the service apart); its `at` is when the customer wrote it.
_HISTORY = select(
    literal("h").label("part"),
    EVENTS.c.id,
    EVENTS.c.kind.label("a"),
    EVENTS.c.actor.label("b"),
    EVENTS.c.at,
    EVENTS.c.tier.label("c"),
    EVENTS.c.detail,
).where(EVENTS.c.handoff_id == bindparam("handoff_id"))
_LINES = select(
    literal("t"),
    MESSAGES.c.id,
    MESSAGES.c.role,
    MESSAGES.c.text,
    MESSAGES.c.at,
    MESSAGES.c.author_name,
    cast(null(), JSON),
).where(MESSAGES.c.handoff_id == bindparam("handoff_id"))
_BOTH = union_all(_HISTORY, _LINES)
_HISTORY_AND_TRANSCRIPT = _BOTH.order_by(
    _BOTH.selected_columns.part, _BOTH.selected_columns.at, _BOTH.selected_columns.id
)
_NOTES = (
    select(Note.text, Note.author_name, Note.at)
    .where(Note.handoff_id == bindparam("handoff_id"))
    .order_by(Note.id)
)


def history_and_transcript(
    session: Session, handoff_id: int
) -> tuple[list[events.EventRow], list[handoffs.Line]]:
    history: list[events.EventRow] = []
    transcript: list[handoffs.Line] = []
    for part, _id, a, b, at, c, detail in session.execute(
        _HISTORY_AND_TRANSCRIPT, {"handoff_id": handoff_id}
    ):
        if part == "h":
            history.append(events.EventRow(a, b, at, c, detail))
        else:
            transcript.append(handoffs.Line(a, b, at, c))
    return history, transcript


def _change_fields(
    handoff: Handoff, transcript: Sequence[handoffs.Line], history: Sequence[events.EventRow]
) -> dict[str, object]:
    return {
        **_summary_fields(handoff),
        "context": handoff.context,
        "transcript": [
            {"role": m.role, "text": m.text, "at": m.at, "author": m.author_name} for m in transcript
        ],
        "history": [
            {"kind": e.kind, "actor": e.actor, "at": e.at, "tier": e.tier, "detail": e.detail}
            for e in history
        ],
        "resolution": handoff.resolution,
        "vendor_name": handoff.vendor_name,
        "vendor_case": handoff.vendor_case,
        "reopened_count": handoff.reopened_count,
    }


def change(
    session: Session,
    handoff: Handoff,
    *,
    transcript: Sequence[handoffs.Line] | None = None,
    history: Sequence[events.EventRow] | None = None,
    queue_figures: tuple[int, int] | None = None,
) -> schemas.HandoffChange:
    """`transcript` and `history`: the handoff's whole lines and events when the caller has them already
    (a handoff created by this request); else they are read. `queue_figures` likewise: its position in the
    queue and the agents online, when the statement that created it read them."""
    session.flush()
    position: int | None = None
    online: int | None = None
    if handoff.status == "waiting":
        position, online = queue_figures or handoffs.queue_figures(session, handoff)
    if transcript is None or history is None:
        history, transcript = history_and_transcript(session, handoff.id)
    return schemas.HandoffChange.model_validate(
        {**_change_fields(handoff, transcript, history), "queue_position": position, "agents_online": online}
    )


def full(session: Session, handoff: Handoff) -> schemas.HandoffOut:
    # What this request changed must show, including lines and events added after the handoff loaded.
    session.flush()
    position, online = handoffs.queue_figures(session, handoff)
    history, transcript = history_and_transcript(session, handoff.id)
    notes = session.execute(_NOTES, {"handoff_id": handoff.id}).all()
    return schemas.HandoffOut.model_validate(
        {
            **_change_fields(handoff, transcript, history),
            "notes": [{"text": n.text, "author": n.author_name, "at": n.at} for n in notes],
            "queue_position": position,
            "agents_online": online,
        }
    )
