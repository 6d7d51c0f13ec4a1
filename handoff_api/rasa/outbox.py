"""Delivers agent messages and returns-to-bot to Rasa, in order per conversation, retrying with backoff."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import structlog
from anyio import to_thread
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.handoffs.service import TRIGGER_INTENT
from handoff_api.models import Handoff, OutboxItem, utcnow
from handoff_api.rasa.client import RasaClient, RasaUnavailable

log = structlog.get_logger(__name__)


def backoff_seconds(attempts: int, ceiling: float) -> float:
    return float(min(ceiling, 0.5 * 2 ** max(attempts - 1, 0)))


# A pass serves at most this many conversations, and this many items of each, in order.
CONVERSATIONS_PER_PASS = 200
ITEMS_PER_CONVERSATION = 50


def _pending(factory: sessionmaker[Session], now: datetime) -> list[tuple[OutboxItem, str]]:
    """The pending items of the conversations whose next item is due, the longest waiting first.

    Chosen by conversation, not by item id: the first 200 pending items used to be read, so 200 items
    of conversations that keep failing (backing off) hid every other conversation's replies. Each with
    its handoff's channel, where it goes."""
    firsts = (
        select(OutboxItem.conversation_id, func.min(OutboxItem.id).label("first_id"))
        .where(OutboxItem.status == "pending")
        .group_by(OutboxItem.conversation_id)
        .subquery()
    )
    due = (
        select(firsts.c.conversation_id)
        .join(OutboxItem, OutboxItem.id == firsts.c.first_id)
        .where(OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(CONVERSATIONS_PER_PASS)
    )
    place = (
        func.row_number().over(partition_by=OutboxItem.conversation_id, order_by=OutboxItem.id).label("place")
    )
    numbered = (
        select(OutboxItem.id, place)
        .where(OutboxItem.status == "pending", OutboxItem.conversation_id.in_(due))
        .subquery()
    )
    with factory() as session:
        rows = session.execute(
            select(OutboxItem, Handoff.channel)
            .join(numbered, numbered.c.id == OutboxItem.id)
            .join(Handoff, Handoff.id == OutboxItem.handoff_id)
            .where(numbered.c.place <= ITEMS_PER_CONVERSATION)
            .order_by(OutboxItem.id)
        ).all()
    return [(item, channel) for item, channel in rows]


def _mark_sent(factory: sessionmaker[Session], item_ids: list[int]) -> None:
    if not item_ids:
        return
    with factory() as session, session.begin():
        session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(item_ids)).values(status="sent", sent_at=utcnow())
        )


def _mark_attempt(factory: sessionmaker[Session], item_ids: list[int]) -> None:
    """Counted before sending: after a crash mid-send, the retry checks Rasa before sending again."""
    if not item_ids:
        return
    with factory() as session, session.begin():
        session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(item_ids)).values(attempts=OutboxItem.attempts + 1)
        )


def _stamped(item: OutboxItem, event: dict[str, Any]) -> dict[str, Any]:
    """Marks what Rasa stores for this item, so a retry can tell it arrived already."""
    return {**event, "metadata": {**(event.get("metadata") or {}), "helpdesk_outbox_id": item.id}}


async def _send(rasa: RasaClient, item: OutboxItem, channel: str, events_arrived: bool = False) -> None:
    """The item's events, then its trigger; `events_arrived`: the events are there already (a retry),
    only the trigger goes."""
    pending: list[dict[str, Any]] = []
    for event in item.events:
        if events_arrived and event.get("event") != TRIGGER_INTENT:
            continue
        if event.get("event") != TRIGGER_INTENT:
            pending.append(_stamped(item, event))
            continue
        if pending:
            await rasa.append_events(item.conversation_id, pending, channel)
            pending = []
        await rasa.trigger_intent(item.conversation_id, event["name"], event.get("entities") or {}, channel)
    if pending:
        await rasa.append_events(item.conversation_id, pending, channel)


def _mark_failed(factory: sessionmaker[Session], item_id: int, error: str, ceiling: float) -> None:
    with factory() as session, session.begin():
        item = session.get(OutboxItem, item_id)
        if item is not None:
            item.last_error = error[:1000]
            item.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(item.attempts, ceiling))


async def _deliver_one(
    factory: sessionmaker[Session],
    rasa: RasaClient,
    item: OutboxItem,
    channel: str,
    ceiling: float,
    counted: bool,
) -> bool:
    """Sends one item; False when Rasa did not take it (it is retried later, after backoff).

    `counted`: its attempt is in the database already (the pass counts first attempts together)."""
    trigger = next((e.get("name") for e in item.events if e.get("event") == TRIGGER_INTENT), None)
    try:
        arrived, triggered = (
            await rasa.outbox_item_arrived(item.conversation_id, item.id, trigger)
            if item.attempts
            else (False, False)
        )
        if arrived and (trigger is None or triggered):
            log.info("outbox.already_delivered", item=item.id)
        else:
            if not counted:
                await to_thread.run_sync(_mark_attempt, factory, [item.id])
            if arrived:
                log.info("outbox.completing", item=item.id, trigger=trigger)
            await _send(rasa, item, channel, events_arrived=arrived)
    except RasaUnavailable as exc:
        log.warning("outbox.delivery_failed", item=item.id, attempts=item.attempts + 1, error=str(exc))
        await to_thread.run_sync(_mark_failed, factory, item.id, str(exc), ceiling)
        return False
    return True


async def deliver_due(
    factory: sessionmaker[Session], rasa: RasaClient, ceiling: float, concurrency: int = 8
) -> int:
    """One pass over the outbox; returns how many items were delivered.

    Conversations are served side by side, up to `concurrency` at a time (one Rasa round trip is tens
    of milliseconds, and one at a time capped the whole desk at a few deliveries per second); within a
    conversation items go one after the other, and the first that cannot go stops the rest, so that a
    later message never overtakes an earlier one.

    The database hears of the pass in two statements, not two per item: the first attempts of the
    conversations' first items, counted together before anything is sent, and every delivered item marked
    sent at the end. A crash in between leaves those items pending with their attempt counted, so the
    next pass asks Rasa whether each arrived before sending it again.
    """
    now = utcnow()
    conversations: dict[str, list[OutboxItem]] = {}
    channels: dict[int, str] = {}
    for item, channel in await to_thread.run_sync(_pending, factory, now):
        conversations.setdefault(item.conversation_id, []).append(item)
        channels[item.id] = channel
    first_tries = {
        items[0].id
        for items in conversations.values()
        if items[0].next_attempt_at <= now and not items[0].attempts
    }
    await to_thread.run_sync(_mark_attempt, factory, sorted(first_tries))
    delivered: list[int] = []
    gate = asyncio.Semaphore(max(1, concurrency))

    async def deliver_conversation(items: list[OutboxItem]) -> None:
        async with gate:
            for item in items:
                if item.next_attempt_at > now or not await _deliver_one(
                    factory, rasa, item, channels[item.id], ceiling, counted=item.id in first_tries
                ):
                    break
                delivered.append(item.id)

    try:
        await asyncio.gather(*(deliver_conversation(items) for items in conversations.values()))
    finally:
        await to_thread.run_sync(_mark_sent, factory, delivered)
    return len(delivered)
