"""The handoff's history, which is also the feed of server-sent events."""

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import insert
from sqlalchemy.orm import Session

from handoff_api.models import EVENTS, Handoff, HandoffEvent, User, utcnow
from handoff_api.signals.local import mark

_INSERT = insert(EVENTS)


class EventRow(NamedTuple):
    """A history entry as written (what `insert` returns)."""

    kind: str
    actor: str
    at: datetime
    tier: str
    detail: dict[str, Any]


def actor_name(user: User | None) -> str:
    return "customer" if user is None else f"{user.role}:{user.name}"


def record(
    session: Session,
    handoff: Handoff,
    kind: str,
    actor: str,
    tier: str | None = None,
    **detail: Any,
) -> HandoffEvent:
    event = HandoffEvent(
        handoff_id=handoff.id, kind=kind, tier=tier or handoff.tier, actor=actor, detail=detail
    )
    session.add(event)
    mark(session)
    return event


def insert_now(
    session: Session, handoff_id: int, tier: str, kind: str, actor: str, **detail: Any
) -> EventRow:
    """`record` as one INSERT at once and no ORM object: what the busiest writes use. Only where no
    `record`ed event of the same request is still waiting for the flush, so that ids keep the order."""
    event = EventRow(kind, actor, utcnow(), tier, detail)
    session.execute(
        _INSERT,
        {
            "handoff_id": handoff_id,
            "kind": kind,
            "tier": tier,
            "actor": actor,
            "at": event.at,
            "detail": detail,
        },
    )
    mark(session)
    return event
