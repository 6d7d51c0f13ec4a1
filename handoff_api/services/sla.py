"""SLA targets per priority and whether a handoff has breached them."""

from datetime import datetime, timedelta

from handoff_api.models import Handoff

# (first response, resolution) per priority, in minutes of wall-clock time.
TARGETS: dict[str, tuple[int, int]] = {
    "p1": (15, 4 * 60),
    "p2": (30, 8 * 60),
    "p3": (2 * 60, 24 * 60),
    "p4": (8 * 60, 72 * 60),
}


def due_times(priority: str, start: datetime) -> tuple[datetime, datetime]:
    first, resolution = TARGETS[priority]
    return start + timedelta(minutes=first), start + timedelta(minutes=resolution)


def breached(handoff: Handoff, now: datetime) -> bool:
    responded = handoff.first_response_at or (None if handoff.status != "resolved" else handoff.resolved_at)
    if (responded or now) > handoff.first_response_due:
        return True
    return (handoff.resolved_at or now) > handoff.resolution_due
