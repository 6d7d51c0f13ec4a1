"""Run with Rasa's interpreter (.venv-bot): publishes a conversation through Rasa's own PikaEventBroker.

The events go the way the Rasa server sends them: a tracker store with the broker saves the tracker, and
`TrackerStore.stream_events` publishes every new event as `{"sender_id": ..., **event.as_dict()}`.

    python rasa_pika_publisher.py publish  HOST PORT USER PASSWORD QUEUE EXCHANGE SENDER_ID
    python rasa_pika_publisher.py declare  HOST PORT USER PASSWORD QUEUE EXCHANGE

`declare` only connects (Rasa declares its exchange and queue) and disconnects.
"""

import asyncio
import json
import sys
import time

from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered


async def _drain(broker: PikaEventBroker) -> None:
    # publish() schedules a task per event; wait until all of them went out.
    deadline = time.monotonic() + 30
    while broker._background_tasks:
        if time.monotonic() > deadline:
            raise TimeoutError("events were not published")
        await asyncio.sleep(0.05)


async def main(
    command: str, host: str, port: str, user: str, password: str, queue: str, exchange: str, *rest: str
) -> None:
    broker = PikaEventBroker(
        host,
        user,
        password,
        port=port,
        queues=[queue],
        exchange_name=exchange,
        raise_on_failure=True,
        connection_attempts=5,
        retry_delay_in_seconds=1,
    )
    await broker.connect()
    try:
        if command == "publish":
            (sender_id,) = rest
            store = InMemoryTrackerStore(Domain.empty(), event_broker=broker)
            tracker = await store.get_or_create_tracker(sender_id, append_action_listen=False)
            tracker.update(UserUttered("is anyone there?", message_id="e2e-1"))
            tracker.update(ActionExecuted("action_listen"))
            await store.save(tracker)
            # An engineer's reply, as the service's outbox puts it in the tracker: its echo is skipped.
            tracker.update(BotUttered("Hi, Alice from L2 here", metadata={"helpdesk_message_id": 1}))
            tracker.update(UserUttered("my password is Hunter2! and it expired", message_id="e2e-2"))
            tracker.update(UserUttered("thanks", message_id="e2e-3"))
            await store.save(tracker)
            await _drain(broker)
            print(json.dumps({"published": len(tracker.events)}))
        elif command != "declare":
            raise SystemExit(f"unknown command {command}")
    finally:
        await broker.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
