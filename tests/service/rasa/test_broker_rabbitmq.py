"""The RabbitMQ broker consumer against the real RabbitMQ on 127.0.0.1:5672, a queue of its own per test.

Messages are published the way Rasa's PikaEventBroker does (fanout exchange, durable queue, persistent JSON
`{"sender_id": ..., **event}`); tests/e2e/test_rasa_pika_broker.py publishes with Rasa's own class.
"""

import asyncio
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.models import DeadLetter, Handoff, HandoffEvent, Message
from handoff_api.ops import reports
from handoff_api.rasa import amqp_broker as broker_amqp
from handoff_api.rasa.amqp_broker import RabbitBrokerConsumer, source_key
from tests.service.conftest import HandoffFactory

RABBITMQ_URL = os.environ.get("HELPDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
# The last line of the transcript the bot sent with the handoff (see conftest).
CUTOFF = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC).timestamp()
# Generous: the machine is shared; nothing here measures speed.
WAIT_SECONDS = 60.0
T = TypeVar("T")


class Rabbit:
    """A queue and exchange of this test's own, declared as Rasa declares `rasa_core_events`."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection, channel: aio_pika.abc.AbstractChannel):
        self.connection = connection
        self.channel = channel
        suffix = uuid.uuid4().hex[:12]
        self.queue = f"helpdesk_test_{suffix}"
        self.exchange_name = f"helpdesk-test-{suffix}"
        self.exchange: aio_pika.abc.AbstractExchange | None = None

    async def declare(self) -> None:
        self.exchange = await self.channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT)
        queue = await self.channel.declare_queue(self.queue, durable=True)
        await queue.bind(self.exchange, "")

    async def publish_raw(self, body: bytes) -> None:
        assert self.exchange is not None
        await self.exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=""
        )

    async def publish(self, sender_id: str, event: dict[str, Any]) -> None:
        await self.publish_raw(json.dumps({"sender_id": sender_id, **event}).encode())

    async def ready_messages(self) -> int:
        """Messages waiting in the queue (not delivered, or returned after a consumer went away)."""
        declared = await self.channel.declare_queue(self.queue, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count

    def consumer(self, factory: sessionmaker[Session], **options: Any) -> RabbitBrokerConsumer:
        options.setdefault("standby_retry_seconds", 0.2)
        options.setdefault("max_backoff_seconds", 1.0)
        return RabbitBrokerConsumer(factory, RABBITMQ_URL, self.queue, self.exchange_name, **options)


@pytest.fixture
async def rabbit() -> AsyncIterator[Rabbit]:
    try:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"RabbitMQ is not reachable ({type(exc).__name__}); it is required when CI=true")
    channel = await connection.channel()
    created = Rabbit(connection, channel)
    await created.declare()
    try:
        yield created
    finally:
        cleanup = await connection.channel()
        await cleanup.queue_delete(created.queue)
        await cleanup.exchange_delete(created.exchange_name)
        await connection.close()


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.sqlalchemy_url)
    yield make_session_factory(engine)
    engine.dispose()


def _lines(sessions: sessionmaker[Session], handoff_id: object) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(Message.role, Message.text).where(Message.handoff_id == handoff_id).order_by(Message.id)
        )
        return [(role, text) for role, text in rows]


async def _eventually(check: Callable[[], T], what: str, timeout: float = WAIT_SECONDS) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what} (last: {value!r})")
        await asyncio.sleep(0.05)


async def _run_until(consumer: RabbitBrokerConsumer, check: Callable[[], object], what: str) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await _eventually(check, what)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_customer_messages_reach_the_transcript_once(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-b")
    await rabbit.publish("conv-b", {"event": "user", "text": "I want a human", "timestamp": CUTOFF})
    await rabbit.publish("conv-b", {"event": "action", "name": "action_listen", "timestamp": CUTOFF + 1})
    await rabbit.publish("conv-b", {"event": "bot", "text": "I've opened ticket", "timestamp": CUTOFF + 1.5})
    await rabbit.publish(
        "conv-b", {"event": "user", "text": "are you there?", "timestamp": CUTOFF + 2, "message_id": "m1"}
    )
    await rabbit.publish(
        "conv-b",
        {
            "event": "bot",
            "text": "agent says hi",
            "timestamp": CUTOFF + 3,
            "metadata": {"helpdesk_message_id": 7},
        },
    )
    await rabbit.publish("someone-else", {"event": "user", "text": "not for you", "timestamp": CUTOFF + 4})
    await rabbit.publish(
        "conv-b", {"event": "user", "text": "my password is Hunter2!", "timestamp": CUTOFF + 5}
    )

    consumer = rabbit.consumer(sessions)
    await _run_until(consumer, lambda: consumer.acked == 7, "all 7 messages acknowledged")
    assert consumer.appended == 3
    assert _lines(sessions, handoff["id"])[3:] == [
        ("bot", "I've opened ticket"),
        ("customer", "are you there?"),
        ("customer", "my password is [REDACTED PASSWORD]"),  # masked while an engineer holds the chat
    ]
    with sessions() as session:
        kinds = session.scalars(select(HandoffEvent.kind).where(HandoffEvent.handoff_id == handoff["id"]))
        assert list(kinds).count("message.customer") == 2
    assert await rabbit.ready_messages() == 0  # acknowledged: gone for good

    # A second consumer (a restart) finds nothing to do.
    again = rabbit.consumer(sessions)
    await again.consume(until_idle=1.0)
    assert (again.acked, len(_lines(sessions, handoff["id"]))) == (0, 6)


async def test_a_redelivered_message_is_not_appended_twice(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-d")
    event = {"event": "user", "text": "hello?", "timestamp": CUTOFF + 1, "message_id": "abc"}
    await rabbit.publish("conv-d", event)
    await rabbit.publish("conv-d", event)  # the same event again: a redelivery, or Rasa publishing it twice
    # The same words later are another message, and so is the same second with other words.
    await rabbit.publish("conv-d", {**event, "timestamp": CUTOFF + 2, "message_id": "abd"})
    await rabbit.publish("conv-d", {**event, "text": "anyone?", "message_id": "abe"})

    consumer = rabbit.consumer(sessions)
    await _run_until(consumer, lambda: consumer.acked == 4, "4 messages acknowledged")
    assert [text for _, text in _lines(sessions, handoff["id"])][3:] == ["hello?", "hello?", "anyone?"]
    assert consumer.appended == 3


class Crash(Exception):
    """Stands for the worker dying at that point."""


class CrashAfterCommit(RabbitBrokerConsumer):
    def _apply(self, bodies: list[bytes]) -> int:
        super()._apply(bodies)
        raise Crash


class FailOnce(RabbitBrokerConsumer):
    """The first batch fails before anything is committed (the database is away for a moment)."""

    failed = False

    def _apply(self, bodies: list[bytes]) -> int:
        if not self.failed:
            self.failed = True
            raise RuntimeError("database unavailable")
        return super()._apply(bodies)


async def test_a_crash_between_commit_and_ack_redelivers_without_duplicates(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-c")
    for n in range(5):
        await rabbit.publish("conv-c", {"event": "user", "text": f"line {n}", "timestamp": CUTOFF + 1 + n})

    crashing = CrashAfterCommit(
        sessions, RABBITMQ_URL, rabbit.queue, rabbit.exchange_name, standby_retry_seconds=0.2
    )
    with pytest.raises(Crash):
        await crashing.consume()
    expected = [("customer", f"line {n}") for n in range(5)]
    assert _lines(sessions, handoff["id"])[3:] == expected  # committed ...
    assert crashing.acked == 0  # ... but never acknowledged: RabbitMQ has them again
    assert await _eventually(lambda: asyncio.run(_ready(rabbit)) == 5, "the 5 messages back in the queue")

    successor = rabbit.consumer(sessions)
    await _run_until(successor, lambda: successor.acked == 5, "the redelivered messages acknowledged")
    assert successor.appended == 0
    assert _lines(sessions, handoff["id"])[3:] == expected
    assert await rabbit.ready_messages() == 0


async def _ready(rabbit: Rabbit) -> int:
    """The queue's ready count on a connection of its own (for checks run in a worker thread)."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(rabbit.queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_a_failure_before_commit_loses_nothing(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-f")
    for n in range(3):
        await rabbit.publish("conv-f", {"event": "user", "text": f"try {n}", "timestamp": CUTOFF + 1 + n})

    consumer = FailOnce(
        sessions,
        RABBITMQ_URL,
        rabbit.queue,
        rabbit.exchange_name,
        standby_retry_seconds=0.2,
        max_backoff_seconds=1.0,
    )
    # run() logs the failure, lets the messages go back to the queue and subscribes again.
    await _run_until(consumer, lambda: consumer.acked == 3, "the 3 messages acknowledged after a retry")
    assert consumer.failed
    assert [text for _, text in _lines(sessions, handoff["id"])][3:] == ["try 0", "try 1", "try 2"]
    assert await rabbit.ready_messages() == 0


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        def record(event: str, **fields: Any) -> None:
            self.calls.append((event, fields))

        return record


async def test_bad_messages_are_dropped_and_logged_without_blocking_the_queue(
    handoff_factory: HandoffFactory,
    sessions: sessionmaker[Session],
    rabbit: Rabbit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handoff = handoff_factory.create("conv-j")
    logs = Recorder()
    monkeypatch.setattr(broker_amqp, "log", logs)
    await rabbit.publish_raw(b"{not json")
    await rabbit.publish_raw(b"\xff\xfe binary")
    await rabbit.publish_raw(b"[1, 2, 3]")
    await rabbit.publish_raw(json.dumps({"event": "user", "text": "whose?"}).encode())
    await rabbit.publish("conv-j", {"event": "user", "text": "after the junk", "timestamp": CUTOFF + 1})

    consumer = rabbit.consumer(sessions)
    await _run_until(consumer, lambda: consumer.acked == 5, "all 5 messages acknowledged")
    assert _lines(sessions, handoff["id"])[3:] == [("customer", "after the junk")]
    bad = [fields for event, fields in logs.calls if event == "broker.amqp.bad_message"]
    not_an_event = "not an event with a sender_id"
    assert [fields["reason"] for fields in bad] == ["not JSON", "not JSON", not_an_event, not_an_event]
    assert await rabbit.ready_messages() == 0


async def test_an_event_that_cannot_be_applied_is_set_aside_and_the_rest_flow(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    """It used to fail its batch's transaction on every redelivery: no transcript moved again."""
    handoff = handoff_factory.create("conv-dl")
    await rabbit.publish("conv-dl", {"event": "user", "text": "before", "timestamp": CUTOFF + 1})
    await rabbit.publish("conv-dl", {"event": "user", "text": "my code is 123456", "timestamp": "soon"})
    await rabbit.publish("conv-dl", {"event": "user", "text": "after", "timestamp": CUTOFF + 3})

    consumer = rabbit.consumer(sessions)
    await _run_until(consumer, lambda: consumer.acked == 3, "all 3 messages acknowledged")
    assert _lines(sessions, handoff["id"])[3:] == [("customer", "before"), ("customer", "after")]
    with sessions() as session:
        letters = list(session.scalars(select(DeadLetter)))
    assert [(d.conversation_id, d.error.split(":")[0]) for d in letters] == [("conv-dl", "ValueError")]
    assert "123456" not in letters[0].event and '"timestamp": "soon"' in letters[0].event
    assert await rabbit.ready_messages() == 0


class HoldOnce(RabbitBrokerConsumer):
    """Commits its third batch, then waits (before the ack) until the test lets it go: a worker that dies
    with deliveries applied but not acknowledged. Only one of the workers sharing `hold` ever waits."""

    def __init__(self, *args: Any, hold: dict[str, Any], **options: Any) -> None:
        super().__init__(*args, **options)
        self.hold = hold

    def _apply(self, bodies: list[bytes]) -> int:
        appended = super()._apply(bodies)
        with self.hold["lock"]:
            self.hold["batches"] += 1
            waits = self.hold["batches"] == 3
        if waits:
            self.hold["holder"] = self
            self.hold["holding"].set()
            self.hold["release"].wait(WAIT_SECONDS)
        return appended


async def test_two_consumers_neither_duplicate_nor_reorder_a_conversation(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    first = handoff_factory.create("conv-1")
    second = handoff_factory.create("conv-2")
    hold: dict[str, Any] = {
        "lock": threading.Lock(),
        "batches": 0,
        "holding": threading.Event(),
        "release": threading.Event(),
    }
    workers = [
        HoldOnce(
            sessions,
            RABBITMQ_URL,
            rabbit.queue,
            rabbit.exchange_name,
            prefetch=4,
            standby_retry_seconds=0.2,
            hold=hold,
        )
        for _ in range(2)
    ]
    tasks = {worker: asyncio.create_task(worker.run()) for worker in workers}
    try:
        await _eventually(lambda: any(w.active for w in workers), "one worker consuming")
        await asyncio.sleep(0.5)  # the other one has tried by now, and was refused
        assert sum(w.active for w in workers) == 1

        count = 40
        for n in range(count):
            for conversation in ("conv-1", "conv-2"):
                await rabbit.publish(
                    conversation,
                    {"event": "user", "text": f"{conversation} #{n}", "timestamp": CUTOFF + 1 + n},
                )
        # The active worker dies mid-stream, its third batch committed but not acknowledged.
        await _eventually(hold["holding"].is_set, "a batch committed and held before its ack")
        dying: HoldOnce = hold["holder"]
        standby = next(w for w in workers if w is not dying)
        assert dying.active and not standby.active
        tasks[dying].cancel()
        hold["release"].set()
        await asyncio.gather(tasks[dying], return_exceptions=True)

        both_seen = False

        def done() -> bool:
            nonlocal both_seen
            both_seen = both_seen or all(w.active for w in workers)
            return all(len(_lines(sessions, h["id"])) >= 3 + count for h in (first, second))

        await _eventually(done, "every line of both conversations")
        assert standby.active and not both_seen
        await _eventually(lambda: asyncio.run(_ready(rabbit)) == 0, "the queue drained")
    finally:
        hold["release"].set()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    for handoff, conversation in ((first, "conv-1"), (second, "conv-2")):
        lines = [text for _, text in _lines(sessions, handoff["id"])][3:]
        assert lines == [f"{conversation} #{n}" for n in range(count)]  # each once, in order
    # The standby got the held batch again and found its lines there already.
    assert standby.acked > standby.appended
    assert dying.acked + standby.acked == 2 * count


async def test_a_redelivery_does_not_reopen_a_handoff_resolved_since(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-o")
    event = {"event": "user", "text": "it works now, thanks", "timestamp": CUTOFF + 1}
    await rabbit.publish("conv-o", event)
    consumer = rabbit.consumer(sessions)
    await _run_until(consumer, lambda: consumer.acked == 1, "the message acknowledged")
    with sessions() as session, session.begin():
        resolved = session.get(Handoff, handoff["id"])
        assert resolved is not None
        resolved.status, resolved.resolved_at = "resolved", datetime.now(UTC).replace(tzinfo=None)

    await rabbit.publish("conv-o", event)  # delivered again after the engineer resolved it
    await _run_until(consumer, lambda: consumer.acked == 2, "the redelivery acknowledged")
    with sessions() as session:
        again = session.get(Handoff, handoff["id"])
        assert again is not None and again.status == "resolved" and again.reopened_count == 0

    # A new message within the reopen window does reopen it (the SQL path's behaviour).
    await rabbit.publish("conv-o", {**event, "text": "no, it broke again", "timestamp": CUTOFF + 60})
    await _run_until(consumer, lambda: consumer.acked == 3, "the new message acknowledged")
    with sessions() as session:
        reopened = session.get(Handoff, handoff["id"])
        assert reopened is not None and reopened.status == "waiting" and reopened.reopened_count == 1
    assert [text for _, text in _lines(sessions, handoff["id"])][3:] == [
        "it works now, thanks",
        "no, it broke again",
    ]


async def test_a_deleted_queue_is_declared_again_and_consumed(
    handoff_factory: HandoffFactory, sessions: sessionmaker[Session], rabbit: Rabbit
) -> None:
    handoff = handoff_factory.create("conv-q")
    consumer = rabbit.consumer(sessions)
    task = asyncio.create_task(consumer.run())
    try:
        await rabbit.publish("conv-q", {"event": "user", "text": "before", "timestamp": CUTOFF + 1})
        await _eventually(lambda: consumer.acked == 1, "the first message acknowledged")
        await rabbit.channel.queue_delete(rabbit.queue)  # the broker cancels the consumer
        await _eventually(
            lambda: asyncio.run(_consumers(rabbit)) == 1, "the queue declared and consumed again"
        )
        await rabbit.publish("conv-q", {"event": "user", "text": "after", "timestamp": CUTOFF + 2})
        await _eventually(lambda: consumer.acked == 2, "the second message acknowledged")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [text for _, text in _lines(sessions, handoff["id"])][3:] == ["before", "after"]


async def _consumers(rabbit: Rabbit) -> int | None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(rabbit.queue, passive=True)
        return declared.declaration_result.consumer_count
    except aio_pika.exceptions.ChannelClosed:
        return None
    finally:
        await connection.close()


def test_the_dedup_key_is_stable_and_fits_the_column() -> None:
    event = {"event": "user", "text": "hi", "timestamp": 1764151205.123456, "message_id": "m"}
    key = source_key("conv", event)
    assert key == source_key("conv", json.loads(json.dumps(event))) and len(key) <= 100
    assert key != source_key("other", event) and key != source_key("conv", {**event, "timestamp": 1.0})


def test_the_broker_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).helpdesk_event_broker == "sql"  # type: ignore[call-arg]
    monkeypatch.setenv("HELPDESK_EVENT_BROKER", "rabbitmq")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://helpdesk:secret@rabbitmq:5672/%2F")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.helpdesk_event_broker, settings.rabbitmq_url, settings.rabbitmq_queue) == (
        "rabbitmq",
        "amqp://helpdesk:secret@rabbitmq:5672/%2F",
        "rasa_core_events",
    )
    assert settings.rabbitmq_exchange == "rasa-exchange"


def test_the_daily_report_counts_bot_conversations_from_rasas_tracker_store(tmp_path: Path) -> None:
    """With RabbitMQ there is no SQL broker table; RASA_EVENTS_DB_URL points at the SQL tracker store."""
    engine = create_engine(f"sqlite:///{tmp_path / 'rasa_tracker.db'}")
    table = Table(  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent
        "events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255), nullable=False),
        Column("type_name", String(255), nullable=False),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )
    table.create(engine)
    day = datetime(2026, 11, 26, tzinfo=UTC)
    rows = [
        ("a", {"event": "user", "text": "hi", "timestamp": day.timestamp() + 60}),
        ("a", {"event": "bot", "text": "hello", "timestamp": day.timestamp() + 61}),
        ("b", {"event": "action", "name": "action_listen", "timestamp": day.timestamp() + 62}),
    ]
    with engine.begin() as conn:
        for sender_id, event in rows:
            conn.execute(
                insert(table).values(
                    sender_id=sender_id,
                    type_name=event["event"],
                    timestamp=event["timestamp"],
                    data=json.dumps(event),
                )
            )
    engine.dispose()
    found = reports.bot_conversations(
        f"sqlite:///{tmp_path / 'rasa_tracker.db'}", day, day + timedelta(days=1)
    )
    assert found == {day.date(): {"a"}}
