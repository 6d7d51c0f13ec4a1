"""The stack's floor: the same three handoff writes done by FastAPI + SQLAlchemy + psycopg with nothing else.

A baseline for bench/service_throughput.py (backend `stack-floor`): what the libraries the service is
built on cost, on the same machine, in the same run, served the same way (a socket per worker,
handoff_api/core/serving.py), on the same tables (the service's migrated schema). Each request does the
least a handoff write needs and no more:

* create:  the handoff row (INSERT ... RETURNING id) and its transcript lines (one executemany);
* claim:   one conditional UPDATE ... RETURNING;
* message: the agent's line (one INSERT).

Left out, on purpose, is everything the service does besides: the history entry of every change, the
queue position and agents online in the bot's answer, the transcript in the claim's answer, the outbox
row and its delivery to Rasa, the holder and tier checks, idempotency keys, the one-open-handoff rule,
SLA times, metrics, the access log, request ids, rate limits, and the change notifications. Tokens are
checked against the users' keyed hashes read once at start-up (the service caches them too).

Run by the bench:  python -c "..." (see service_throughput.serve_command); not a product part.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import bindparam, create_engine, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from handoff_api.core.security import hash_token
from handoff_api.models import HANDOFFS, MESSAGES, User, utcnow

engine = create_engine(os.environ["DATABASE_URL"], pool_size=20, pool_pre_ping=False)
Sessions = sessionmaker(engine)
_secret = os.environ["HELPDESK_SECRET_KEY"]
with Sessions() as _session:
    TOKENS: dict[str, int] = dict(_session.execute(select(User.token_hash, User.id)).tuples().all())
app = FastAPI(title="stack floor")


class Line(BaseModel):
    role: str
    text: str
    at: datetime | None = None


class HandoffIn(BaseModel):
    conversation_id: str
    channel: str
    reason: str
    context: dict[str, Any]
    transcript: list[Line]


class MessageIn(BaseModel):
    text: str


class Written(BaseModel):
    id: int
    status: str


async def user_id(authorization: Annotated[str | None, Header()] = None) -> int:
    scheme, _, token = (authorization or "").partition(" ")
    known = TOKENS.get(hash_token(token, _secret)) if scheme.lower() == "bearer" else None
    if known is None:
        raise HTTPException(401, "a valid bearer token is required")
    return known


UserId = Annotated[int, Depends(user_id)]
_INSERT_HANDOFF = insert(HANDOFFS).returning(HANDOFFS.c.id)
_INSERT_LINES = insert(MESSAGES)
_CLAIM = (
    update(HANDOFFS)
    .where(HANDOFFS.c.id == bindparam("handoff_id"), HANDOFFS.c.status == "waiting")
    .values(status="assigned", assignee_id=bindparam("agent_id"), updated_at=bindparam("now"))
    .returning(HANDOFFS.c.id)
)


def _naive(at: datetime | None) -> datetime | None:
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None


@app.post("/api/v1/handoffs", status_code=201, response_model=Written)
async def create(body: HandoffIn, _bot: UserId) -> Written:
    def work() -> Written:
        now = utcnow()
        with Sessions() as session, session.begin():
            handoff_id = _insert(session, body, now)
        return Written(id=handoff_id, status="waiting")

    return await run_in_threadpool(work)


def _insert(session: Session, body: HandoffIn, now: datetime) -> int:
    values = {
        "conversation_id": body.conversation_id,
        "channel": body.channel,
        "tier": "l2",
        "status": "waiting",
        "priority": "p3",
        "reason": body.reason,
        "customer": {},
        "context": body.context,
        "transcript_cutoff": 0.0,
        "created_at": now,
        "updated_at": now,
        "first_response_due": now + timedelta(hours=1),
        "resolution_due": now + timedelta(hours=8),
        "returned_to_bot": False,
        "breaches_announced": [],
        "reopened_count": 0,
    }
    handoff_id: int = session.execute(_INSERT_HANDOFF, values).scalar_one()
    lines = [
        {"handoff_id": handoff_id, "role": line.role, "text": line.text, "at": _naive(line.at) or now}
        for line in body.transcript
    ]
    if lines:
        session.execute(_INSERT_LINES, lines)
    return handoff_id


@app.post("/api/v1/handoffs/{handoff_id}/claim", response_model=Written)
async def claim(handoff_id: int, agent_id: UserId) -> Written:
    def work() -> int | None:
        with Sessions() as session, session.begin():
            params = {"handoff_id": handoff_id, "agent_id": agent_id, "now": utcnow()}
            claimed: int | None = session.execute(_CLAIM, params).scalar()
            return claimed

    if await run_in_threadpool(work) is None:
        raise HTTPException(409, f"handoff {handoff_id} is not waiting")
    return Written(id=handoff_id, status="assigned")


@app.post("/api/v1/handoffs/{handoff_id}/messages", status_code=201, response_model=Written)
async def message(handoff_id: int, body: MessageIn, _agent: UserId) -> Written:
    def work() -> None:
        with Sessions() as session, session.begin():
            line = {"handoff_id": handoff_id, "role": "agent", "text": body.text, "at": utcnow()}
            session.execute(_INSERT_LINES, line)

    await run_in_threadpool(work)
    return Written(id=handoff_id, status="assigned")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
