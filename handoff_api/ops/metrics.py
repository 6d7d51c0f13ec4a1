"""Prometheus metrics computed from the database at scrape time, so every worker reports the same figures.

- `helpdesk_queue_length{tier}`: handoffs waiting in the tier's queue.
- `helpdesk_queue_oldest_wait_seconds{tier}`: age (now - created_at) of the oldest waiting handoff of the
  tier; 0 when the queue is empty.
- `helpdesk_sla_breached_handoffs{tier,state}`: handoffs whose `sla.breached` is true (the same rule as
  `handoff_api.handoffs.sla.breached`, evaluated in SQL), `state` open (waiting/assigned) or resolved.
- `helpdesk_handoffs_created_total{reason}`: handoffs ever created, by reason (a counter: rows are never
  deleted).
- `helpdesk_handoffs{tier,status}`: handoffs by current tier and status.
- `helpdesk_metrics_db_up`: 1 when the figures above could be read, else 0 (and they are left out).
"""

from collections.abc import Callable, Iterator
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import DateTime, case, func, literal, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.models import OPEN_STATUSES, DeadLetter, Handoff, utcnow

TIERS = ("l2", "l3", "l4")
log = structlog.get_logger(__name__)


def breached_clause(now: datetime):  # type: ignore[no-untyped-def]
    """`sla.breached` as SQL: the first response (or the resolution) came after its due time, or the
    handoff is still unanswered/unresolved past it."""
    at_now = literal(now, DateTime())
    responded = func.coalesce(
        Handoff.first_response_at,
        case((Handoff.status == "resolved", Handoff.resolved_at), else_=None),
        at_now,
    )
    return or_(
        responded > Handoff.first_response_due,
        func.coalesce(Handoff.resolved_at, at_now) > Handoff.resolution_due,
    )


class HelpdeskCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("helpdesk_metrics_db_up", "1 when the database figures could be read")
        try:
            families = self._from_database()
        except SQLAlchemyError as exc:
            log.warning("metrics.db_unavailable", error=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_database(self) -> list[Metric]:
        now = self.clock()
        with self.sessions() as session:
            waiting = {
                tier: (count, oldest)
                for tier, count, oldest in session.execute(
                    select(Handoff.tier, func.count(), func.min(Handoff.created_at))
                    .where(Handoff.status == "waiting")
                    .group_by(Handoff.tier)
                )
            }
            breaches = session.execute(
                select(Handoff.tier, Handoff.status, func.count())
                .where(breached_clause(now))
                .group_by(Handoff.tier, Handoff.status)
            ).all()
            by_reason = session.execute(select(Handoff.reason, func.count()).group_by(Handoff.reason)).all()
            by_status = session.execute(
                select(Handoff.tier, Handoff.status, func.count()).group_by(Handoff.tier, Handoff.status)
            ).all()
            dead_letters = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
        length = GaugeMetricFamily("helpdesk_queue_length", "handoffs waiting in the queue", labels=["tier"])
        oldest = GaugeMetricFamily(
            "helpdesk_queue_oldest_wait_seconds",
            "age of the oldest waiting handoff of the tier (0 when empty)",
            labels=["tier"],
        )
        for tier in TIERS:
            count, first = waiting.get(tier, (0, None))
            length.add_metric([tier], count)
            oldest.add_metric([tier], max(0.0, (now - first).total_seconds()) if first else 0.0)
        breached = GaugeMetricFamily(
            "helpdesk_sla_breached_handoffs",
            "handoffs whose SLA is breached (sla.breached), by tier and open/resolved",
            labels=["tier", "state"],
        )
        seen: dict[tuple[str, str], int] = {}
        for tier, status, count in breaches:
            state = "open" if status in OPEN_STATUSES else "resolved"
            seen[(tier, state)] = seen.get((tier, state), 0) + count
        for tier in TIERS:
            for state in ("open", "resolved"):
                breached.add_metric([tier, state], seen.get((tier, state), 0))
        created = CounterMetricFamily(
            "helpdesk_handoffs_created", "handoffs created, by reason", labels=["reason"]
        )
        for reason, count in by_reason:
            created.add_metric([reason], count)
        current = GaugeMetricFamily(
            "helpdesk_handoffs", "handoffs by current tier and status", labels=["tier", "status"]
        )
        for tier, status, count in by_status:
            current.add_metric([tier, status], count)
        set_aside = CounterMetricFamily(
            "helpdesk_broker_dead_letters",
            "Rasa events the broker consumer could not apply and set aside (table broker_dead_letters)",
        )
        set_aside.add_metric([], dead_letters)
        return [length, oldest, breached, created, current, set_aside]


def make_registry(sessions: sessionmaker[Session]) -> tuple[CollectorRegistry, Counter]:
    """One registry per app (tests build many apps in one process): process metrics, the database
    figures, and the counter of requests refused by the rate limiter."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(HelpdeskCollector(sessions))
    rejected = Counter(
        "helpdesk_rate_limited_requests",
        "requests refused with 429 by this worker's rate limiter",
        labelnames=["kind"],
        registry=registry,
    )
    return registry, rejected
