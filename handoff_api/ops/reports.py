"""The daily report: how much the bot contains, how handoffs move through the tiers, how fast and how well.

Every figure is per UTC calendar day; docs/reports.md gives the exact definitions (kept in step with
`DayReport` and the endpoint's docstring).
"""

import json
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import structlog
from pydantic import BaseModel
from sqlalchemy import MetaData, Table, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from handoff_api.core.db import make_engine
from handoff_api.models import Handoff, HandoffEvent, KbQuery, Rating

log = structlog.get_logger(__name__)
MAX_DAYS = 92


class Durations(BaseModel):
    count: int
    mean_seconds: float | None
    median_seconds: float | None


class Escalations(BaseModel):
    entered_l2: int
    l2_to_l3: int
    l2_to_l3_rate: float | None
    entered_l3: int
    l3_to_l4: int
    l3_to_l4_rate: float | None


class Satisfaction(BaseModel):
    ratings: int
    average: float | None


class DayReport(BaseModel):
    day: date
    conversations: int
    bot_conversations: int | None
    handed_over: int
    contained: int | None
    containment_rate: float | None
    escalations: Escalations
    first_human_response: Durations
    time_to_resolve: Durations
    satisfaction: Satisfaction
    kb_questions: int
    kb_unanswered: int


class DailyReport(BaseModel):
    from_date: date
    to_date: date
    bot_conversations_source: str
    days: list[DayReport]


def _durations(values: list[float]) -> Durations:
    if not values:
        return Durations(count=0, mean_seconds=None, median_seconds=None)
    return Durations(
        count=len(values),
        mean_seconds=round(statistics.fmean(values), 1),
        median_seconds=round(statistics.median(values), 1),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def bot_conversations(events_db_url: str, start: datetime, end: datetime) -> dict[date, set[str]] | None:
    """Distinct Rasa sender ids with at least one customer (`user`) event per UTC day, read from Rasa's SQL
    event broker; None when the broker database cannot be read."""
    url = make_url(events_db_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return None
    engine = make_engine(events_db_url)
    days: dict[date, set[str]] = defaultdict(set)
    try:
        table = Table("events", MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(select(table.c.sender_id, table.c.data).where(table.c.data.like('%"user"%')))
            lo, hi = start.timestamp(), end.timestamp()
            for sender_id, data in rows:
                try:
                    event = json.loads(data)
                    stamp = float(event.get("timestamp", 0))
                except (TypeError, ValueError):
                    continue
                if event.get("event") == "user" and lo <= stamp < hi:
                    days[datetime.fromtimestamp(stamp, UTC).date()].add(str(sender_id))
    except SQLAlchemyError as exc:
        log.info("reports.broker_unavailable", error=type(exc).__name__)
        return None
    finally:
        engine.dispose()
    return days


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min)


def daily(session: Session, first: date, last: date, events_db_url: str) -> DailyReport:
    start, end = _utc(first), _utc(last + timedelta(days=1))
    # Timestamps in the database are naive UTC; `timestamp()` on them must not apply the local zone.
    broker = bot_conversations(events_db_url, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))

    handed: dict[date, set[str]] = defaultdict(set)
    first_response: dict[date, list[float]] = defaultdict(list)
    for conversation_id, created_at, first_response_at in session.execute(
        select(Handoff.conversation_id, Handoff.created_at, Handoff.first_response_at).where(
            Handoff.created_at >= start, Handoff.created_at < end
        )
    ):
        handed[created_at.date()].add(conversation_id)
        if first_response_at is not None:
            first_response[created_at.date()].append((first_response_at - created_at).total_seconds())

    resolve: dict[date, list[float]] = defaultdict(list)
    for created_at, resolved_at in session.execute(
        select(Handoff.created_at, Handoff.resolved_at).where(
            Handoff.resolved_at >= start, Handoff.resolved_at < end
        )
    ):
        if resolved_at is None:
            continue
        resolve[resolved_at.date()].append((resolved_at - created_at).total_seconds())

    entered: dict[tuple[date, str], int] = defaultdict(int)
    moved: dict[tuple[date, str, str], int] = defaultdict(int)
    for kind, tier, at, detail in session.execute(
        select(HandoffEvent.kind, HandoffEvent.tier, HandoffEvent.at, HandoffEvent.detail).where(
            HandoffEvent.kind.in_(("handoff.created", "handoff.escalated")),
            HandoffEvent.at >= start,
            HandoffEvent.at < end,
        )
    ):
        entered[(at.date(), tier)] += 1
        if kind == "handoff.escalated":
            from_tier = (detail or {}).get("from_tier")
            moved[(at.date(), str(from_tier), tier)] += 1

    ratings: dict[date, list[int]] = defaultdict(list)
    for value, at in session.execute(
        select(Rating.rating, Rating.created_at).where(Rating.created_at >= start, Rating.created_at < end)
    ):
        ratings[at.date()].append(value)

    kb: dict[date, list[bool]] = defaultdict(list)
    for abstained, at in session.execute(
        select(KbQuery.abstained, KbQuery.at).where(
            KbQuery.asked_by == "bot", KbQuery.at >= start, KbQuery.at < end
        )
    ):
        kb[at.date()].append(bool(abstained))

    days: list[DayReport] = []
    day = first
    while day <= last:
        handed_ids = handed.get(day, set())
        bot_ids = broker.get(day, set()) if broker is not None else None
        everyone = handed_ids | (bot_ids or set())
        contained = len(everyone - handed_ids) if bot_ids is not None else None
        l2_to_l3 = moved.get((day, "l2", "l3"), 0)
        l3_to_l4 = moved.get((day, "l3", "l4"), 0)
        day_ratings = ratings.get(day, [])
        days.append(
            DayReport(
                day=day,
                conversations=len(everyone),
                bot_conversations=len(bot_ids) if bot_ids is not None else None,
                handed_over=len(handed_ids),
                contained=contained,
                containment_rate=_rate(contained, len(everyone)) if contained is not None else None,
                escalations=Escalations(
                    entered_l2=entered.get((day, "l2"), 0),
                    l2_to_l3=l2_to_l3,
                    l2_to_l3_rate=_rate(l2_to_l3, entered.get((day, "l2"), 0)),
                    entered_l3=entered.get((day, "l3"), 0),
                    l3_to_l4=l3_to_l4,
                    l3_to_l4_rate=_rate(l3_to_l4, entered.get((day, "l3"), 0)),
                ),
                first_human_response=_durations(first_response.get(day, [])),
                time_to_resolve=_durations(resolve.get(day, [])),
                satisfaction=Satisfaction(
                    ratings=len(day_ratings),
                    average=round(statistics.fmean(day_ratings), 2) if day_ratings else None,
                ),
                kb_questions=len(kb.get(day, [])),
                kb_unanswered=sum(kb.get(day, [])),
            )
        )
        day += timedelta(days=1)
    return DailyReport(
        from_date=first,
        to_date=last,
        bot_conversations_source="rasa_event_broker" if broker is not None else "unavailable",
        days=days,
    )
