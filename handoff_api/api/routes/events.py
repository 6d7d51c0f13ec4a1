"""Server-sent events for the caller's queues, resumable with Last-Event-ID."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from handoff_api.api.deps import CurrentAgent, visible_tiers
from handoff_api.models import Handoff, HandoffEvent, ticket_number

router = APIRouter(prefix="/api/v1", tags=["events"])
POLL_SECONDS = 0.2
BATCH = 200


def _latest_id(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.max(HandoffEvent.id))) or 0


def _events_after(
    factory: sessionmaker[Session], last_id: int, tiers: tuple[str, ...]
) -> list[dict[str, Any]]:
    with factory() as session:
        rows = session.execute(
            select(HandoffEvent, Handoff.status, Handoff.priority)
            .join(Handoff, Handoff.id == HandoffEvent.handoff_id)
            .where(HandoffEvent.id > last_id, HandoffEvent.tier.in_(tiers))
            .order_by(HandoffEvent.id)
            .limit(BATCH)
        ).all()
        return [
            {
                "id": event.id,
                "kind": event.kind,
                "handoff_id": event.handoff_id,
                "number": ticket_number(event.handoff_id),
                "tier": event.tier,
                "status": status,
                "priority": priority,
                "actor": event.actor,
                "at": event.at.isoformat() + "Z",
                "detail": event.detail,
            }
            for event, status, priority in rows
        ]


@router.get("/events")
async def stream_events(
    request: Request,
    agent: CurrentAgent,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> EventSourceResponse:
    factory: sessionmaker[Session] = request.app.state.read_sessions
    tiers = visible_tiers(agent)
    start = last_event_id if last_event_id is not None else await run_in_threadpool(_latest_id, factory)

    async def feed() -> AsyncIterator[dict[str, str]]:
        cursor = start
        while True:
            batch = await run_in_threadpool(_events_after, factory, cursor, tiers)
            for item in batch:
                cursor = item["id"]
                yield {"id": str(item["id"]), "event": item["kind"], "data": json.dumps(item)}
            if len(batch) < BATCH:
                await asyncio.sleep(POLL_SECONDS)

    return EventSourceResponse(feed(), ping=15)
