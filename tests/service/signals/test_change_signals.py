"""What one worker commits wakes the other workers at once (PostgreSQL NOTIFY after the commit, LISTEN):
the outbox deliverer for a queued reply, the event streams for a handoff event."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.signals import listener as change_signals
from handoff_api.signals.local import feed_signal, mark
from handoff_api.signals.publisher import EVENTS_CHANNEL, ChangePublisher
from tests.service.conftest import HandoffFactory, Tokens, _postgres_database

pytestmark = pytest.mark.postgres
QUIET_SECONDS = 0.5


@pytest.fixture
def database_url() -> Iterator[str]:
    # Overrides conftest's SQLite-and-PostgreSQL choice: SQLite serves one worker, nothing to signal.
    yield from _postgres_database()


async def _with_listener(
    dsn: str,
    wakeup: asyncio.Event,
    scenario: Callable[[], Awaitable[None]],
    own: ChangePublisher | None = None,
) -> None:
    """Another worker's listener (or, with `own`, this worker's) around `scenario`."""
    listener = asyncio.create_task(change_signals.listen(dsn, wakeup, own=own))
    try:
        await scenario()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def _publishing(publisher: ChangePublisher) -> None:
    for _ in range(200):
        if publisher.backend_pid is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the publisher did not connect")


def test_a_reply_queued_here_wakes_the_worker_that_delivers_the_outbox(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-signal")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
    dsn = change_signals.conninfo(settings.sqlalchemy_url)
    publisher: ChangePublisher = client.app.state.change_publisher  # type: ignore[attr-defined]
    wakeup = asyncio.Event()

    async def post(path: str, body: dict[str, str]) -> None:
        answer = await asyncio.to_thread(client.post, f"{base}/{path}", json=body, headers=tokens.auth("l2"))
        assert answer.status_code == 201

    async def scenario() -> None:
        await asyncio.wait_for(wakeup.wait(), 10)  # listening: it wakes once for what came before
        wakeup.clear()
        assert feed_signal.hears_every_worker  # the event streams may read on a slow timer now
        await _publishing(publisher)
        await post("notes", {"text": "internal"})
        await asyncio.sleep(QUIET_SECONDS)
        assert not wakeup.is_set(), "a note queues nothing for the customer"
        await post("messages", {"text": "on my way"})
        await asyncio.wait_for(wakeup.wait(), 10)
        wakeup.clear()
        # While this worker holds the outbox lease its own deliverer is woken directly: nobody else is.
        publisher.delivers_outbox = True
        await post("messages", {"text": "nearly there"})
        await asyncio.sleep(QUIET_SECONDS)
        assert not wakeup.is_set(), "the worker that delivers was told by the worker that delivers"

    async def both() -> None:
        sender = asyncio.create_task(publisher.run(dsn))
        try:
            await _with_listener(dsn, wakeup, scenario)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert not feed_signal.hears_every_worker

    asyncio.run(both())


def test_a_commit_that_wrote_a_handoff_event_tells_the_other_workers(
    handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-stream-signal")
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_session_factory(engine)
    dsn = change_signals.conninfo(settings.sqlalchemy_url)
    publisher = ChangePublisher()
    insert = text(
        "INSERT INTO handoff_events (handoff_id, kind, tier, actor, at, detail) "
        "VALUES (:id, 'message.customer', 'l2', 'customer', now(), '{}')"
    )

    def commit_event(marked: bool) -> None:
        with transaction(sessions) as session:
            session.execute(insert, {"id": handoff["id"]})
            if marked:
                mark(session)  # what services/events.py does for every event it writes

    async def next_notification(conn: psycopg.AsyncConnection) -> psycopg.Notify | None:
        async for notification in conn.notifies(timeout=QUIET_SECONDS):
            return notification
        return None

    async def scenario() -> tuple[psycopg.Notify | None, psycopg.Notify | None]:
        sender = asyncio.create_task(publisher.run(dsn))
        try:
            # Another worker, as PostgreSQL sees it: a connection listening on the channel.
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as other_worker:
                await other_worker.execute(f"LISTEN {EVENTS_CHANNEL}")
                await _publishing(publisher)
                await asyncio.to_thread(commit_event, False)
                unmarked = await next_notification(other_worker)
                await asyncio.to_thread(commit_event, True)
                marked = await next_notification(other_worker)
                return unmarked, marked
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    try:
        unmarked, marked = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert unmarked is None, "a commit that wrote no event was told"
    assert marked is not None and marked.channel == EVENTS_CHANNEL


def test_a_notification_crosses_between_workers_but_does_not_come_back_to_its_sender(
    settings: Settings,
) -> None:
    dsn = change_signals.conninfo(settings.sqlalchemy_url)
    sender, other = ChangePublisher(), ChangePublisher()
    senders_wakeup, others_wakeup = asyncio.Event(), asyncio.Event()

    async def scenario() -> None:
        await asyncio.wait_for(senders_wakeup.wait(), 10)  # both listening
        await asyncio.wait_for(others_wakeup.wait(), 10)
        await _publishing(sender)
        senders_wakeup.clear()
        others_wakeup.clear()
        sender.outbox_queued()
        await asyncio.wait_for(others_wakeup.wait(), 10)
        await asyncio.sleep(QUIET_SECONDS)
        assert not senders_wakeup.is_set(), "the sender woke itself a second time"

    async def run() -> None:
        tasks = [asyncio.create_task(p.run(dsn)) for p in (sender, other)]
        other_listener = asyncio.create_task(change_signals.listen(dsn, others_wakeup, own=other))
        try:
            await _with_listener(dsn, senders_wakeup, scenario, own=sender)
        finally:
            for task in (*tasks, other_listener):
                task.cancel()
            await asyncio.gather(*tasks, other_listener, return_exceptions=True)
        assert not ChangePublisher.running

    asyncio.run(run())


def test_what_is_committed_while_the_database_is_away_is_told_when_it_is_back(settings: Settings) -> None:
    publisher = ChangePublisher()

    async def scenario() -> None:
        sender = asyncio.create_task(
            publisher.run("postgresql://postgres@127.0.0.1:1/none", retry_seconds=0.05)
        )
        await asyncio.sleep(0.3)
        publisher.publish(EVENTS_CHANNEL)
        await asyncio.sleep(0.1)
        assert not sender.done() and publisher.backend_pid is None
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        # The wake-up waits for the connection: the next run sends it.
        dsn = change_signals.conninfo(settings.sqlalchemy_url)
        heard = asyncio.Event()
        feed_signal_woken = feed_signal.subscribe()

        async def listening() -> None:
            with feed_signal_woken as wake:
                await asyncio.wait_for(wake.wait(), 10)  # the listener's own start-up wake
                wake.clear()
                resend = asyncio.create_task(publisher.run(dsn))
                try:
                    await asyncio.wait_for(wake.wait(), 10)
                    heard.set()
                finally:
                    resend.cancel()
                    await asyncio.gather(resend, return_exceptions=True)

        await _with_listener(dsn, asyncio.Event(), listening)
        assert heard.is_set()

    asyncio.run(scenario())


def test_the_listener_waits_out_an_unreachable_database() -> None:
    async def scenario() -> bool:
        wakeup = asyncio.Event()
        listener = asyncio.create_task(
            change_signals.listen("postgresql://postgres@127.0.0.1:1/none", wakeup, retry_seconds=0.05)
        )
        await asyncio.sleep(0.3)
        alive = not listener.done() and not feed_signal.hears_every_worker
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        return alive and not wakeup.is_set()

    assert asyncio.run(scenario())
