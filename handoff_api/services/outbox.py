"""Delivers agent messages and returns-to-bot to Rasa, in order per conversation, retrying with backoff."""

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


async def deliver_due(factory: sessionmaker[Session], rasa: RasaClient, ceiling: float) -> int:
    """One pass over the outbox; returns how many items were delivered."""
    delivered = 0
    blocked: set[str] = set()
    now = utcnow()
    for item in await run_in_threadpool(_pending, factory):
        # A later message must not overtake an earlier one of the same conversation.
        if item.conversation_id in blocked:
            continue
        if item.next_attempt_at > now:
            blocked.add(item.conversation_id)
            continue
        try:
            if item.attempts and await rasa.has_outbox_item(item.conversation_id, item.id):
                log.info("outbox.already_delivered", item=item.id)
            else:
                await run_in_threadpool(_mark_attempt, factory, item.id)
                await _send(rasa, item)
        except RasaUnavailable as exc:
            blocked.add(item.conversation_id)
            log.warning("outbox.delivery_failed", item=item.id, attempts=item.attempts + 1, error=str(exc))
            await run_in_threadpool(_mark_failed, factory, item.id, str(exc), ceiling)
            continue
        await run_in_threadpool(_mark_sent, factory, item.id)
        delivered += 1
    return delivered
