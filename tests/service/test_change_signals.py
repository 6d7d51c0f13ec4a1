"""What one worker commits wakes every worker at once (PostgreSQL triggers and LISTEN, migration 0006):
the outbox deliverer for a queued reply, the event streams for a handoff event."""

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, TextClause, text

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine
from handoff_api.services import change_signals
from handoff_api.services.feed_signal import feed_signal

from .conftest import HandoffFactory, Tokens, _postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url() -> Iterator[str]:
    # Overrides conftest's SQLite-and-PostgreSQL choice: SQLite serves one worker, nothing to signal.
    yield from _postgres_database()


def test_a_queued_reply_wakes_the_listening_workers_deliverer(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-signal")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200

    async def scenario() -> None:
        wakeup = asyncio.Event()
        dsn = change_signals.conninfo(settings.sqlalchemy_url)
        listener = asyncio.create_task(change_signals.listen(dsn, wakeup))
        try:
            await asyncio.wait_for(wakeup.wait(), 10)  # listening: it wakes once for what came before
            wakeup.clear()
            assert feed_signal.hears_every_worker  # the event streams may read on a slow timer now
            note = await asyncio.to_thread(
                client.post, f"{base}/notes", json={"text": "internal"}, headers=tokens.auth("l2")
            )
            assert note.status_code == 201
            await asyncio.sleep(0.5)
            assert not wakeup.is_set(), "a note queues nothing for the customer"
            reply = await asyncio.to_thread(
                client.post, f"{base}/messages", json={"text": "on my way"}, headers=tokens.auth("l2")
            )
            assert reply.status_code == 201
            await asyncio.wait_for(wakeup.wait(), 10)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        assert not feed_signal.hears_every_worker

    asyncio.run(scenario())


def test_an_event_committed_by_another_process_wakes_this_workers_streams(
    handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-stream-signal")
    # Another worker's commit: a plain connection, so this process's own wake-up (a session hook) is not
    # involved; only PostgreSQL's notification can reach the stream.
    engine = make_engine(settings.sqlalchemy_url)
    insert = text(
        "INSERT INTO handoff_events (handoff_id, kind, tier, actor, at, detail) "
        "VALUES (:id, 'message.customer', 'l2', 'customer', now(), '{}')"
    )

    async def scenario() -> None:
        listener = asyncio.create_task(
            change_signals.listen(change_signals.conninfo(settings.sqlalchemy_url), asyncio.Event())
        )
        with feed_signal.subscribe() as wake:
            try:
                await asyncio.wait_for(wake.wait(), 10)  # listening
                wake.clear()
                await asyncio.sleep(0.5)
                assert not wake.is_set()
                await asyncio.to_thread(_commit, engine, insert, handoff["id"])
                await asyncio.wait_for(wake.wait(), 10)
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


def _commit(engine: Engine, statement: TextClause, handoff_id: object) -> None:
    with engine.begin() as conn:
        conn.execute(statement, {"id": handoff_id})


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
