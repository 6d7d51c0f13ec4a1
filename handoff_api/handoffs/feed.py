"""Reads the handoff event log in id order without skipping an event that commits late.

PostgreSQL hands out ids when a row is inserted, not when its transaction commits: event 11 can be
visible while event 10 is still being committed by another request or worker. A reader that moved its
cursor past 11 would never see 10. So the feed stops at the first hole in the ids and waits for it to
fill; a hole still open after `gap_wait` seconds was a rolled-back insert (sequences never reuse ids)
and is stepped over. SQLite serialises writers and reuses no ids, so it never waits there.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.models import Handoff, HandoffEvent, ticket_number

BATCH = 200
GAP_WAIT_SECONDS = 3.0


@dataclass
class FeedCursor:
    """Where one reader is: the last id it stepped over, and since when it waits at a hole."""

    position: int
    gap_since: float | None = None


def read_after(
    factory: sessionmaker[Session],
    cursor: FeedCursor,
    tiers: tuple[str, ...],
    now: float,
    gap_wait: float = GAP_WAIT_SECONDS,
) -> list[dict[str, Any]]:
    """The next events of `tiers`, advancing `cursor` over every contiguous id (of any tier)."""
    with factory() as session:
        rows = session.execute(
            select(HandoffEvent, Handoff.status, Handoff.priority)
            .join(Handoff, Handoff.id == HandoffEvent.handoff_id)
            .where(HandoffEvent.id > cursor.position)
            .order_by(HandoffEvent.id)
            .limit(BATCH)
        ).all()
    delivered: list[dict[str, Any]] = []
    for event, status, priority in rows:
        if event.id > cursor.position + 1:
            if cursor.gap_since is None:
                cursor.gap_since = now
            if now - cursor.gap_since < gap_wait:
                break
        cursor.gap_since = None
        cursor.position = event.id
        if event.tier in tiers:
            delivered.append(
                {
                    "id": event.id,
                    "kind": event.kind,
                    "handoff_id": event.handoff_id,
                    "number": ticket_number(event.handoff_id),
                    "tier": event.tier,
                    "status": status,
                    "priority": priority,
                    "actor": event.actor,
                    "at": event.at.isoformat() + "Z",
                    "detail": event.detail,
                }
            )
    return delivered
