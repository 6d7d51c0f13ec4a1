"""The service's background loops: the broker consumer, the outbox deliverer, the SLA announcer and the
follow-up mailer, one worker at a time.

The SQL broker consumer, the outbox, the SLA announcer and the follow-up mailer run on the worker holding
their database lease; the RabbitMQ consumer runs on every worker and RabbitMQ lets one of them consume
(see broker_amqp).
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine
from handoff_api.feedback import followups as followup_mail
from handoff_api.handoffs import sla
from handoff_api.mail.sender import make_mailer
from handoff_api.models import utcnow
from handoff_api.privacy import service as privacy
from handoff_api.rasa import amqp_broker as broker_amqp
from handoff_api.rasa import outbox
from handoff_api.rasa import sql_broker as broker
from handoff_api.rasa.client import RasaClient
from handoff_api.signals import listener as change_signals
from handoff_api.signals.publisher import ChangePublisher
from handoff_api.workers import lease

log = structlog.get_logger(__name__)
LEASE_SECONDS = 10.0
LEASE_ASK_SECONDS = 1.0
DATABASE_DOWN_RETRY_SECONDS = 2.0
FOLLOWUP_MAIL_SECONDS = 5.0
RETENTION_SECONDS = 3600.0
# Outbox passes start at least this far apart. A pass costs three statements whatever it carries; woken
# on every queued reply, a deliverer that keeps up runs one pass per reply, and under load that overhead
# cost more than the deliveries (bench/service_throughput.py, message phase). Replies that arrive within
# the gap go in the next pass together; a reply after a quiet spell goes at once.
OUTBOX_PASS_GAP_SECONDS = 0.02
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


async def _while_renewing(
    name: str, step: Callable[[], Awaitable[int]], renew: Callable[[], Awaitable[bool]]
) -> int:
    """One pass, the lease renewed every third of its term while the pass lasts: a pass waiting on a slow
    Rasa (a 10 s timeout per call, eight conversations at a time) can outlast the term, and another worker
    would deliver the same items alongside. A lease lost all the same cancels the pass."""
    task = asyncio.ensure_future(step())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=LEASE_SECONDS / 3)
            if done:
                return task.result()
            if not await renew():
                log.warning("background.lease_lost", loop=name, pass_cancelled=True)
                return 0
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _leader_loop(
    factory: sessionmaker[Session],
    name: str,
    interval: float,
    step: Callable[[], Awaitable[int]],
    wakeup: asyncio.Event | None = None,
    holder: str = WORKER_ID,
    pass_gap: float = 0.0,
    leading: Callable[[bool], None] = lambda _leader: None,
) -> None:
    # The holder renews every third of the term: between passes, while passes follow one another without
    # a pause (a busy outbox), and during a long pass; a lease that lapses lets a second worker deliver the
    # same items. Another worker asks at most once a second, not on every pass: it is woken on every
    # queued reply (signals/listener.py) and would otherwise ask each time.
    checked_at = -LEASE_SECONDS
    passed_at = -pass_gap
    leader = False
    database_down = False
    loop = asyncio.get_running_loop()

    async def renew() -> bool:
        nonlocal checked_at, leader
        leader = await to_thread.run_sync(lease.acquire, factory, name, holder, LEASE_SECONDS)
        checked_at = loop.time()
        leading(leader)
        return leader

    while True:
        busy = False
        try:
            if loop.time() - checked_at > (LEASE_SECONDS / 3 if leader else LEASE_ASK_SECONDS):
                await renew()
            if leader:
                if (wait := passed_at + pass_gap - loop.time()) > 0:
                    await asyncio.sleep(wait)
                passed_at = loop.time()
                # work was done: more may be waiting, the next pass at once (or after the gap)
                busy = bool(await _while_renewing(name, step, renew))
            if database_down:
                log.info("background.database_back", loop=name)
                database_down = False
        except asyncio.CancelledError:
            raise
        except OperationalError as exc:
            # The database is unreachable: one line when it goes (not a traceback every pass), one when
            # it is back, and passes DATABASE_DOWN_RETRY_SECONDS apart meanwhile.
            if not database_down:
                log.warning("background.database_unavailable", loop=name, error=str(exc.orig or exc)[:200])
            database_down = True
        except Exception:
            log.exception("background.step_failed", loop=name)
        if database_down:
            await asyncio.sleep(max(interval, DATABASE_DOWN_RETRY_SECONDS))
            continue
        if busy:
            await asyncio.sleep(0)  # the pass may not have awaited anything: let the event loop breathe
            continue
        if wakeup is None:
            await asyncio.sleep(interval)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=interval)
        wakeup.clear()


class BackgroundLoops:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        outbox_wakeup: asyncio.Event,
        publisher: ChangePublisher | None = None,
    ) -> None:
        self._settings = settings
        self._factory = factory
        self._wakeup = outbox_wakeup
        self._publisher = publisher or ChangePublisher()
        self._events_engine: Engine | None = None
        self._amqp: broker_amqp.RabbitBrokerConsumer | None = None
        if settings.helpdesk_event_broker == "rabbitmq":
            # Every worker runs it; RabbitMQ lets one consume at a time (exclusive consumer, see broker_amqp).
            self._amqp = broker_amqp.RabbitBrokerConsumer(
                factory,
                settings.rabbitmq_url,
                settings.rabbitmq_queue,
                settings.rabbitmq_exchange,
                settings.helpdesk_reopen_days,
            )
        else:
            self._events_engine = make_engine(settings.events_db_url, write_transactions=False)
            self._source = broker.SqlBrokerSource(self._events_engine)
        self._rasa = RasaClient(settings.rasa_url, settings.rasa_token)
        self._mailer = make_mailer(settings)
        self._tasks: list[asyncio.Task[None]] = []

    async def _consume(self) -> int:
        return await to_thread.run_sync(
            broker.consume_once, self._factory, self._source, self._settings.helpdesk_reopen_days
        )

    async def _announce_breaches(self) -> int:
        def announce() -> int:
            with self._factory() as session, session.begin():
                sla.announce_breaches(session, utcnow())
            return 0  # one pass per interval

        return await to_thread.run_sync(announce)

    async def _mail_followups(self) -> int:
        return await to_thread.run_sync(
            followup_mail.mail_due,
            self._factory,
            self._mailer,
            self._settings.helpdesk_followup_mail_quiet_seconds,
        )

    async def _retain(self) -> int:
        days = self._settings.helpdesk_retention_days

        def retain() -> int:
            cutoff = utcnow() - timedelta(days=days)
            with self._factory() as session, session.begin():
                expired, counts = privacy.apply_retention(session, cutoff)
            # Rasa's events table: the SQL broker's, or (RASA_EVENTS_DB_URL, with RabbitMQ) the tracker's.
            engine = self._events_engine or make_engine(
                self._settings.events_db_url, write_transactions=False
            )
            try:
                rasa_rows = privacy.expire_in_rasa(engine, expired, cutoff)
            finally:
                if engine is not self._events_engine:
                    engine.dispose()
            erased = sum(counts.values()) + rasa_rows
            if erased:
                log.info(
                    "retention.erased", days=days, conversations=len(expired), rasa_rows=rasa_rows, **counts
                )
            return erased

        return await to_thread.run_sync(retain)

    async def _deliver(self) -> int:
        return await outbox.deliver_due(
            self._factory,
            self._rasa,
            self._settings.outbox_retry_max_seconds,
            self._settings.outbox_concurrency,
        )

    def start(self) -> None:
        interval = self._settings.broker_poll_seconds
        consumer = (
            self._amqp.run()
            if self._amqp is not None
            else _leader_loop(self._factory, "broker", interval, self._consume)
        )
        self._tasks = [
            asyncio.create_task(consumer),
            asyncio.create_task(
                _leader_loop(
                    self._factory,
                    "outbox",
                    0.5,
                    self._deliver,
                    self._wakeup,
                    pass_gap=OUTBOX_PASS_GAP_SECONDS,
                    leading=self._leads_outbox,
                )
            ),
            asyncio.create_task(_leader_loop(self._factory, "sla", 5.0, self._announce_breaches)),
            asyncio.create_task(
                _leader_loop(self._factory, "followup_mail", FOLLOWUP_MAIL_SECONDS, self._mail_followups)
            ),
        ]
        if self._settings.helpdesk_retention_days > 0:
            self._tasks.append(
                asyncio.create_task(_leader_loop(self._factory, "retention", RETENTION_SECONDS, self._retain))
            )
        if self._settings.sqlalchemy_url.startswith("postgresql"):
            dsn = change_signals.conninfo(self._settings.sqlalchemy_url)
            self._tasks.append(asyncio.create_task(self._publisher.run(dsn)))
            self._tasks.append(
                asyncio.create_task(change_signals.listen(dsn, self._wakeup, own=self._publisher))
            )

    def _leads_outbox(self, leader: bool) -> None:
        self._publisher.delivers_outbox = leader

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for name in ("broker", "outbox", "sla", "followup_mail", "retention"):
            await to_thread.run_sync(lease.release, self._factory, name, WORKER_ID)
        await self._rasa.aclose()
        if self._events_engine is not None:
            self._events_engine.dispose()
