"""A reply queued on any worker wakes the outbox deliverer of every worker (PostgreSQL LISTEN/NOTIFY)."""

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from handoff_api.core.config import Settings
from handoff_api.services import outbox_signal

from .conftest import HandoffFactory, Tokens, _postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url() -> Iterator[str]:
    # Overrides conftest's SQLite-and-PostgreSQL choice: SQLite serves one worker, nothing to signal.
    yield from _postgres_database()


def test_a_queued_reply_wakes_the_listening_workers(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-signal")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200

    async def scenario() -> None:
        wakeup = asyncio.Event()
        dsn = outbox_signal.conninfo(settings.sqlalchemy_url)
        listener = asyncio.create_task(outbox_signal.listen(dsn, wakeup))
        try:
            await asyncio.wait_for(wakeup.wait(), 10)  # listening: it wakes once for what came before
            wakeup.clear()
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

    asyncio.run(scenario())


def test_the_listener_waits_out_an_unreachable_database() -> None:
    async def scenario() -> bool:
        wakeup = asyncio.Event()
        listener = asyncio.create_task(
            outbox_signal.listen("postgresql://postgres@127.0.0.1:1/none", wakeup, retry_seconds=0.05)
        )
        await asyncio.sleep(0.3)
        alive = not listener.done()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        return alive and not wakeup.is_set()

    assert asyncio.run(scenario())
