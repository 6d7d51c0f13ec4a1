"""Consumes Rasa's event broker from RabbitMQ: Rasa's `PikaEventBroker` (endpoints.yml `type: pika`).

The alternative to the SQL event broker (`broker.py`) for larger installations; chosen with
`HELPDESK_EVENT_BROKER=rabbitmq`, `RABBITMQ_URL`, `RABBITMQ_QUEUE` (`rasa_core_events`, Rasa's default) and
`RABBITMQ_EXCHANGE` (`rasa-exchange`, Rasa's `exchange_name`). What happens to each event is the SQL
path's `broker.apply_event`: customer lines of conversations a human holds go to the transcript (redacted),
echoes of agents' messages are skipped, a customer writing soon after a resolution reopens the handoff.

Compatibility with Rasa 3.6 (`rasa/core/brokers/pika.py`): Rasa declares a *fanout* exchange that is not
durable, and for each of its `queues` a durable queue without arguments, bound with the routing key "". We
declare exactly the same, so whichever side starts first, the other's declaration matches: a durable
exchange, a queue argument (`x-single-active-consumer`, `x-queue-type`) or another queue flag would make the
second one fail with PRECONDITION_FAILED. The body is `json.dumps({"sender_id": ..., **event.as_dict()})`.
The queue must be the helpdesk's own: Rasa copies every event to each of its `queues`, so another consumer
(analytics, ...) gets a queue of its own in endpoints.yml.

Delivery: at least once, applied once.
- What has been delivered (up to `PREFETCH` messages) is applied in one transaction, and acknowledged
  (one `basic.ack` with `multiple`) only after that transaction committed.
- A crash or lost connection before the ack returns the messages to the queue and they are delivered
  again. Each event has a de-duplication key, stored with its transcript line (`messages.source_key`,
  unique per handoff, as the SQL path stores `rasa:<row id>`): `amqp:` + SHA-256 of the sender id, event
  type, timestamp, text and Rasa's `message_id` (user events). Rasa's pika events carry no row id; these
  fields are identical in every delivery of one event and differ between two events (the timestamp has
  microseconds). So a redelivery appends nothing and does not reopen a handoff, and a message whose
  transaction rolled back is applied when it comes again: nothing is lost, nothing is doubled.
- A message that is not a JSON object with a `sender_id` is logged and acknowledged with its batch: it
  can never be applied, and requeueing it would block the queue for good.
- When applying fails (the database is down), the connection is closed without an ack, the messages go
  back to the queue in their order, and the consumer subscribes again after a backoff (up to 30 s).

Order and several workers: every worker of every service instance runs this consumer, but each subscribes
as an *exclusive consumer* (`basic.consume` with `exclusive`). RabbitMQ lets one consumer at a time read
the queue and refuses the others (ACCESS_REFUSED); they wait on standby and try again every few seconds.
The active one applies deliveries strictly in their order, one batch after the other, so the lines of a
conversation are committed in the order Rasa published them. When it goes away (crash, deploy, missed
heartbeats), RabbitMQ puts its unacknowledged messages back at the head of the queue before a standby can
subscribe, so the order survives a failover too. Should a worker cut off from RabbitMQ still commit its last
batch while its successor applies the same messages, the unique key makes one of the two transactions fail
(PostgreSQL makes the second wait for the first); it is retried and finds the lines there.
Rejected alternatives: `x-single-active-consumer` is a queue argument (a policy cannot set it), so the queue
would have to be declared differently from Rasa's declaration; consuming on the worker holding the database
lease (as the SQL loop does) leaves a window in which a lapsed but living leader and its successor both hold
deliveries of one conversation; competing consumers (round robin) would commit a conversation's lines out
of order.
"""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelAccessRefused
from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from yarl import URL

from handoff_api.rasa.sql_broker import RETRYABLE, apply_event, apply_or_set_aside

log = structlog.get_logger(__name__)
PREFETCH = 500
DEFAULT_QUEUE = "rasa_core_events"
DEFAULT_EXCHANGE = "rasa-exchange"
SOURCE_PREFIX = "amqp:"
# Two transactions applying the same message at once: the unique key fails one; it runs again.
APPLY_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class BrokerEvent:
    sender_id: str
    source_key: str
    event: dict[str, Any]


def source_key(sender_id: str, event: dict[str, Any]) -> str:
    """The event's de-duplication key: the same in every delivery of it, different for another event."""
    fields = [
        sender_id,
        event.get("event"),
        event.get("timestamp"),
        event.get("text"),
        event.get("message_id"),
    ]
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=True, default=str).encode()).hexdigest()
    return SOURCE_PREFIX + digest


def decode(body: bytes) -> BrokerEvent | None:
    """A Rasa pika message as an event, or None (logged) when it is not one."""
    try:
        event = json.loads(body)
    except ValueError:
        log.warning("broker.amqp.bad_message", reason="not JSON", size=len(body))
        return None
    sender_id = event.get("sender_id") if isinstance(event, dict) else None
    if not isinstance(sender_id, str) or not sender_id:
        log.warning("broker.amqp.bad_message", reason="not an event with a sender_id", size=len(body))
        return None
    return BrokerEvent(sender_id, source_key(sender_id, event), event)


def apply_messages(factory: sessionmaker[Session], bodies: Sequence[bytes], reopen_days: int = 7) -> int:
    """Applies a batch of message bodies in one transaction; returns how many transcript lines were added."""
    events = [event for event in map(decode, bodies) if event is not None]
    if not events:
        return 0
    careful = False  # after an event failed: each in a savepoint, and the one that fails set aside
    attempt = 0
    while True:
        try:
            with factory() as session, session.begin():
                if careful:
                    return sum(
                        apply_or_set_aside(session, e.sender_id, e.source_key, e.event, reopen_days)
                        for e in events
                    )
                return sum(
                    apply_event(session, e.sender_id, e.source_key, e.event, reopen_days) for e in events
                )
        except IntegrityError:
            attempt += 1
            if attempt == APPLY_ATTEMPTS:
                raise
            log.info("broker.amqp.applied_concurrently", attempt=attempt)
        except RETRYABLE:
            raise
        except Exception:
            if careful:
                raise
            careful = True


async def declare(channel: AbstractChannel, queue: str, exchange: str) -> AbstractQueue:
    """Declares the exchange and queue exactly as Rasa's PikaEventBroker does (see the module docstring)."""
    fanout = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
    declared = await channel.declare_queue(queue, durable=True)
    await declared.bind(fanout, "")
    return declared


async def _first_closed(
    channel: AbstractChannel, connection: AbstractConnection, cancelled: "asyncio.Future[None]"
) -> None:
    """Returns when the subscription is over: channel or connection closed, or the consumer cancelled by
    the broker (the queue was deleted)."""
    closing: set[asyncio.Future[Any]] = {
        asyncio.ensure_future(channel.closed()),
        asyncio.ensure_future(connection.closed()),
        cancelled,
    }
    try:
        await asyncio.wait(closing, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in closing:
            waiter.cancel()


def _where(url: str) -> str:
    """The broker's address for logs, without the credentials."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}{parsed.path}"


class RabbitBrokerConsumer:
    """Subscribes as the queue's exclusive consumer and applies what Rasa publishes (module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        url: str,
        queue: str = DEFAULT_QUEUE,
        exchange: str = DEFAULT_EXCHANGE,
        reopen_days: int = 7,
        *,
        prefetch: int = PREFETCH,
        standby_retry_seconds: float = 5.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._factory = factory
        self._url = url
        self.queue = queue
        self.exchange = exchange
        self._reopen_days = reopen_days
        self._prefetch = prefetch
        self._standby_retry = standby_retry_seconds
        self._max_backoff = max_backoff_seconds
        # Whether this worker is the queue's consumer now, and what it did (logs and tests).
        self.active = False
        self.acked = 0
        self.appended = 0

    async def run(self) -> None:
        """Forever (cancel to stop): subscribe, or wait on standby while another worker consumes."""
        backoff = 1.0
        standby_logged = False
        while True:
            try:
                await self.consume()
            except asyncio.CancelledError:
                raise
            except ChannelAccessRefused:
                # Another worker is the queue's exclusive consumer.
                if not standby_logged:
                    log.info("broker.amqp.standby", queue=self.queue)
                    standby_logged = True
                backoff = 1.0
                await asyncio.sleep(self._standby_retry)
                continue
            except Exception as exc:
                standby_logged = False
                log.warning(
                    "broker.amqp.consumer_failed",
                    queue=self.queue,
                    broker=_where(self._url),
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 1.0

    async def consume(self, *, until_idle: float | None = None) -> None:
        """One subscription: returns when `until_idle` seconds passed without a delivery (tests), raises
        when the connection or channel is lost, ACCESS_REFUSED when another consumer holds the queue."""
        connection = await aio_pika.connect(self._url, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await declare(channel, self.queue, self.exchange)
            cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def on_cancel(_frame: object) -> None:
                if not cancelled.done():
                    cancelled.set_result(None)

            (await channel.get_underlay_channel()).on_consumer_cancel_callbacks.add(on_cancel)
            deliveries: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(deliveries.put, exclusive=True)
            self.active = True
            log.info("broker.amqp.consuming", queue=self.queue, broker=_where(self._url))
            lost = asyncio.ensure_future(_first_closed(channel, connection, cancelled))
            try:
                while True:
                    batch = await self._next_batch(deliveries, lost, until_idle)
                    if not batch:
                        return
                    await self._process(batch)
            finally:
                lost.cancel()
        finally:
            self.active = False
            # Unacknowledged deliveries go back to the queue, in order, when the connection closes.
            with contextlib.suppress(Exception):
                await connection.close()

    async def _next_batch(
        self,
        deliveries: "asyncio.Queue[AbstractIncomingMessage]",
        lost: "asyncio.Future[Any]",
        until_idle: float | None,
    ) -> list[AbstractIncomingMessage]:
        if lost.done():
            raise ConnectionError("the subscription ended (channel closed, or the queue deleted)")
        if deliveries.empty():
            waiting = asyncio.ensure_future(deliveries.get())
            try:
                done, _ = await asyncio.wait(
                    {waiting, lost}, timeout=until_idle, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not waiting.done():
                    waiting.cancel()
            if waiting not in done:
                if lost in done:
                    raise ConnectionError("the subscription ended (channel closed, or the queue deleted)")
                return []  # idle
            batch = [waiting.result()]
        else:
            batch = [deliveries.get_nowait()]
        while len(batch) < self._prefetch and not deliveries.empty():
            batch.append(deliveries.get_nowait())
        return batch

    async def _process(self, batch: list[AbstractIncomingMessage]) -> None:
        bodies = [message.body for message in batch]
        appended = await to_thread.run_sync(self._apply, bodies)
        # Committed: now (and only now) the broker may forget them.
        await batch[-1].ack(multiple=True)
        self.acked += len(batch)
        self.appended += appended
        log.debug("broker.amqp.batch", messages=len(batch), appended=appended)

    def _apply(self, bodies: list[bytes]) -> int:
        """In a worker thread: one transaction for the batch (tests override it to crash around it)."""
        return apply_messages(self._factory, bodies, self._reopen_days)
