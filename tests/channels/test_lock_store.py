"""Rasa's conversation lock, looked at again every 50 ms (connectors/lock_store.py), on a real Redis too."""

import asyncio
import time
import uuid

import pytest
from connectors import lock_store
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

HELD_SECONDS = 0.1


async def _second_message_waits(store: LockStore) -> float:
    """The bot's turn holds the conversation for HELD_SECONDS; how long after it the next message starts."""
    released = asyncio.get_running_loop().create_future()

    async def first_turn() -> None:
        async with store.lock("conv-lock"):
            await asyncio.sleep(HELD_SECONDS)
        released.set_result(time.monotonic())

    async def second_message() -> float:
        await asyncio.sleep(0.01)  # arrives during the first turn
        async with store.lock("conv-lock"):
            return time.monotonic()

    _, started = await asyncio.gather(first_turn(), second_message())
    return started - await released


def _configured(type_: str, redis: bool) -> LockStore:
    """The store endpoints.yml names, as Rasa builds it."""
    if not redis:
        return LockStore.create(EndpointConfig(type=type_))
    return LockStore.create(
        EndpointConfig.from_dict(
            {"type": type_, "url": "127.0.0.1", "port": 6379, "db": 0, "key_prefix": uuid.uuid4().hex}
        )
    )


@pytest.mark.parametrize(
    ("ours", "stock", "redis"),
    [
        ("connectors.lock_store.InMemoryLockStore", "in_memory", False),
        ("connectors.lock_store.RedisLockStore", "redis", True),
    ],
)
def test_a_message_behind_a_turn_starts_soon_after_it(ours: str, stock: str, redis: bool) -> None:
    store = _configured(ours, redis)
    assert isinstance(store, (lock_store.InMemoryLockStore, lock_store.RedisLockStore))
    stock_store = _configured(stock, redis)
    assert type(stock_store) in (InMemoryLockStore, RedisLockStore)
    waited = asyncio.run(_second_message_waits(store))
    stock_waited = asyncio.run(_second_message_waits(stock_store))
    # Rasa's own store looks again a second after the first try; ours every 50 ms.
    assert stock_waited > 0.8
    assert waited < 0.4
