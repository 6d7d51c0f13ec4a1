"""Rasa's conversation lock stores, looking again at a held lock every 50 ms instead of every second.

Rasa handles one message of a conversation at a time: a message that finds the conversation's lock held
(the bot's previous turn, or an engineer's reply that Rasa is still saving after it reached the
customer) sleeps and looks again. Rasa 3.6 sleeps a full second each time, so a customer's second line
typed during the bot's turn, or an answer sent right after an engineer's message, waited up to a second
for work that ends tens of milliseconds later. Measured on the deploy topology (bench/handoff_latency.py):
a customer's line right after an engineer's reply waited 1.02 s on the other Rasa instance.

endpoints.yml: `lock_store: {type: connectors.lock_store.InMemoryLockStore}` on one Rasa, or
`type: connectors.lock_store.RedisLockStore` with Rasa's redis settings (url, port, db, key_prefix, ...).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rasa.core import lock_store as rasa_lock_store
from rasa.core.lock import TicketLock
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05


class _LooksAgainSoon(rasa_lock_store.LockStore):
    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = rasa_lock_store.LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        async with super().lock(conversation_id, lock_lifetime, wait_time_in_seconds) as held:
            yield held


class InMemoryLockStore(_LooksAgainSoon, rasa_lock_store.InMemoryLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None) -> None:
        super().__init__()


class RedisLockStore(_LooksAgainSoon, rasa_lock_store.RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # What Rasa passes its own redis lock store for `type: redis`.
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
