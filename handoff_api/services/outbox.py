"""Delivers agent messages and returns-to-bot to Rasa, in order per conversation, retrying with backoff."""

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from handoff_api.models import OutboxItem, utcnow
from handoff_api.services.handoffs import TRIGGER_INTENT
from handoff_api.services.rasa_client import RasaClient, RasaUnavailable

log = structlog.get_logger(__name__)


def backoff_seconds(attempts: int, ceiling: float) -> float:
    return float(min(ceiling, 0.5 * 2 ** max(attempts - 1, 0)))


def _pending(factory: sessionmaker[Session]) -> list[OutboxItem]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxItem).where(OutboxItem.status == "pending").order_by(OutboxItem.id).limit(200)
            )
        )


def _mark_sent(factory: sessionmaker[Session], item_id: int) -> None:
    with factory() as session, session.begin():
        item = session.get(OutboxItem, item_id)
        if item is not None:
            item.status = "sent"
            item.sent_at = utcnow()


def _mark_attempt(factory: sessionmaker[Session], item_id: int) -> None:
    """Counted before sending: after a crash mid-send, the retry checks Rasa before sending again."""
    with factory() as session, session.begin():
        item = session.get(OutboxItem, item_id)
        if item is not None:
            item.attempts += 1


def _stamped(item: OutboxItem, event: dict[str, Any]) -> dict[str, Any]:
    """Marks what Rasa stores for this item, so a retry can tell it arrived already."""
    return {**event, "metadata": {**(event.get("metadata") or {}), "helpdesk_outbox_id": item.id}}


async def _send(rasa: RasaClient, item: OutboxItem) -> None:
    pending: list[dict[str, Any]] = []
    for event in item.events:
        if event.get("event") != TRIGGER_INTENT:
            pending.append(_stamped(item, event))
            continue
        if pending:
            await rasa.append_events(item.conversation_id, pending)
            pending = []
        await rasa.trigger_intent(item.conversation_id, event["name"], event.get("entities") or {})
    if pending:
        await rasa.append_events(item.conversation_id, pending)


def _mark_failed(factory: sessionmaker[Session], item_id: int, error: str, ceiling: float) -> None:
    with factory() as session, session.begin():
        item = session.get(OutboxItem, item_id)
        if item is not None:
            item.last_error = error[:1000]
            item.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(item.attempts, ceiling))


async def _deliver_one(
    factory: sessionmaker[Session], rasa: RasaClient, item: OutboxItem, ceiling: float
) -> bool:
    """Sends one item; False when Rasa did not take it (it is retried later, after backoff)."""
    try:
        if item.attempts and await rasa.has_outbox_item(item.conversation_id, item.id):
            log.info("outbox.already_delivered", item=item.id)
        else:
            await run_in_threadpool(_mark_attempt, factory, item.id)
            await _send(rasa, item)
    except RasaUnavailable as exc:
        log.warning("outbox.delivery_failed", item=item.id, attempts=item.attempts + 1, error=str(exc))
        await run_in_threadpool(_mark_failed, factory, item.id, str(exc), ceiling)
        return False
    await run_in_threadpool(_mark_sent, factory, item.id)
    return True


async def deliver_due(
    factory: sessionmaker[Session], rasa: RasaClient, ceiling: float, concurrency: int = 8
) -> int:
    """One pass over the outbox; returns how many items were delivered.

    Conversations are served side by side, up to `concurrency` at a time (one Rasa round trip is tens
    of milliseconds, and one at a time capped the whole desk at a few deliveries per second); within a
    conversation items go one after the other, and the first that cannot go stops the rest, so that a
    later message never overtakes an earlier one.
    """
    now = utcnow()
    conversations: dict[str, list[OutboxItem]] = {}
    for item in await run_in_threadpool(_pending, factory):
        conversations.setdefault(item.conversation_id, []).append(item)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def deliver_conversation(items: list[OutboxItem]) -> int:
        delivered = 0
        async with gate:
            for item in items:
                if item.next_attempt_at > now or not await _deliver_one(factory, rasa, item, ceiling):
                    break
                delivered += 1
        return delivered

    return sum(await asyncio.gather(*(deliver_conversation(items) for items in conversations.values())))
