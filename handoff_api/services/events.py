"""The handoff's history, which is also the feed of server-sent events."""

from typing import Any

from sqlalchemy.orm import Session

from handoff_api.models import Handoff, HandoffEvent, User


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
    return event
