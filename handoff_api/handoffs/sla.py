"""SLA targets per priority and whether a handoff has breached them."""

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handoff_api.handoffs import history as events
from handoff_api.models import Handoff

# (first response, resolution) per priority, in minutes of wall-clock time.
TARGETS: dict[str, tuple[int, int]] = {
    "p1": (15, 4 * 60),
    "p2": (30, 8 * 60),
    "p3": (2 * 60, 24 * 60),
    "p4": (8 * 60, 72 * 60),
}


# ITIL priority matrix: impact x urgency (each high / medium / low) -> p1 (critical) .. p4 (low).
PRIORITY_MATRIX: dict[tuple[str, str], str] = {
    ("high", "high"): "p1",
    ("high", "medium"): "p2",
    ("medium", "high"): "p2",
    ("high", "low"): "p3",
    ("medium", "medium"): "p3",
    ("low", "high"): "p3",
    ("medium", "low"): "p4",
    ("low", "medium"): "p4",
    ("low", "low"): "p4",
}


def priority_for(impact: str | None, urgency: str | None, given: str, vip: bool) -> str:
    """The matrix decides when impact and urgency are known; a VIP's handoff is raised one level."""
    priority = PRIORITY_MATRIX[(impact, urgency)] if impact and urgency else given
    if vip and priority != "p1":
        priority = f"p{int(priority[1]) - 1}"
    return priority


def due_times(priority: str, start: datetime) -> tuple[datetime, datetime]:
    first, resolution = TARGETS[priority]
    return start + timedelta(minutes=first), start + timedelta(minutes=resolution)


def breached(handoff: Handoff, now: datetime) -> bool:
    responded = handoff.first_response_at or (None if handoff.status != "resolved" else handoff.resolved_at)
    if (responded or now) > handoff.first_response_due:
        return True
    return (handoff.resolved_at or now) > handoff.resolution_due


def announce_breaches(session: Session, now: datetime) -> int:
    """Records one `sla.breached` event per newly missed target; returns how many were raised."""
    raised = 0
    overdue = session.scalars(
        select(Handoff).where(
            Handoff.status.in_(("waiting", "assigned")),
            or_(
                (Handoff.first_response_at.is_(None)) & (Handoff.first_response_due < now),
                Handoff.resolution_due < now,
            ),
        )
    )
    for handoff in overdue:
        announced = list(handoff.breaches_announced or [])
        missed = []
        if (
            handoff.first_response_at is None
            and handoff.first_response_due < now
            and "first_response" not in announced
        ):
            missed.append("first_response")
        if handoff.resolution_due < now and "resolution" not in announced:
            missed.append("resolution")
        for target in missed:
            events.record(
                session, handoff, "sla.breached", "system", target=target, priority=handoff.priority
            )
            raised += 1
        if missed:
            handoff.breaches_announced = announced + missed
    return raised
