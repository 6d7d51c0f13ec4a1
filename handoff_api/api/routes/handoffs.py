"""Handoffs: the bot creates them; agents claim, reply, note, escalate and resolve."""

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff_api.api import links, serializers
from handoff_api.api.deps import CurrentAgent, CurrentBot, SessionDep, check_tier, committed, visible_tiers
from handoff_api.core.db import statements_alone
from handoff_api.core.errors import Invalid
from handoff_api.handoffs import schemas
from handoff_api.handoffs import service as handoffs
from handoff_api.models import User

router = APIRouter(prefix="/api/v1/handoffs", tags=["handoffs"])


def _wake_outbox(request: Request) -> None:
    """On the event loop only: asyncio.Event is not thread-safe. Another worker is told only if it delivers
    the outbox (signals/publisher.py)."""
    request.app.state.outbox_wakeup.set()
    request.app.state.change_publisher.outbox_queued()


# The busiest writes (create, claim, message) are `async def` and do their database work and commit in
# one worker-thread hop (`committed`).


@router.post(
    "",
    response_model=schemas.HandoffChange,
    status_code=status.HTTP_201_CREATED,
    responses={
        **links.responses(201, links.FROM_CREATED_HANDOFF),
        **links.responses(200, links.FROM_CREATED_HANDOFF),
    },
)
async def create_handoff(
    body: schemas.HandoffCreate, session: SessionDep, bot: CurrentBot, response: Response
) -> schemas.HandoffChange:
    def work() -> schemas.HandoffChange:
        with statements_alone(session):  # one statement writes it all; an open one found is only read
            done = handoffs.create(session, body, bot)
            if not done.created:
                response.status_code = status.HTTP_200_OK
            return serializers.change(
                session,
                done.handoff,
                transcript=done.transcript,
                history=done.history,
                queue_figures=done.queue_figures,
            )

    return await committed(session, work)


@router.get("/{handoff_id}", response_model=schemas.HandoffOut)
def read_handoff(handoff_id: int, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    return serializers.full(session, handoff)


@router.post(
    "/{handoff_id}/claim",
    response_model=schemas.HandoffChange,
    responses=links.responses(200, links.FROM_HANDOFF),
)
async def claim_handoff(handoff_id: int, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffChange:
    def work() -> schemas.HandoffChange:
        with statements_alone(session):  # the claim is one statement; on SQLite the answer only reads
            claimed = handoffs.claim_waiting(session, handoff_id, agent, visible_tiers(agent))
            if claimed is not None:
                return serializers.change(
                    session, claimed.handoff, transcript=claimed.transcript, history=claimed.history
                )
        # Unknown, another tier's, or not waiting: the slow path gives the right answer.
        handoff = handoffs.get(session, handoff_id)
        check_tier(agent, handoff)
        handoffs.claim(session, handoff, agent)
        return serializers.change(session, handoff)

    return await committed(session, work)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=64,
        pattern=r"^[!-~]+$",
        description="any 1-64 printable ASCII characters, new per reply; a retry with the same key "
        "returns the reply already written (200) instead of sending it twice",
    ),
]


@router.post(
    "/{handoff_id}/messages",
    response_model=schemas.MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": schemas.MessageOut, "description": "a retry: the reply written earlier"}},
)
async def send_message(
    handoff_id: int,
    body: schemas.MessageIn,
    session: SessionDep,
    agent: CurrentAgent,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> schemas.MessageOut:
    # With a key, a retried request (the answer was lost) returns the reply it wrote: 200, not a second one.
    source_key = f"reply:{idempotency_key}" if idempotency_key else None

    def work() -> schemas.MessageOut:
        raced: IntegrityError | None = None
        with statements_alone(session):  # the reply is one statement; a retry's lookup only reads
            message = handoffs.earlier_reply(session, handoff_id, agent, source_key) if source_key else None
            if message is not None:
                response.status_code = status.HTTP_200_OK
            else:
                try:
                    message = handoffs.reply(session, handoff_id, agent, body.text, source_key)
                except IntegrityError as exc:
                    raced = exc
        if raced:
            # The same key in flight twice (PostgreSQL): the other request wrote the reply.
            session.rollback()
            message = handoffs.earlier_reply(session, handoff_id, agent, source_key or "")
            if message is None:
                raise raced
            response.status_code = status.HTTP_200_OK
        if message is None:
            # Unknown, another tier's, resolved or someone else's: the slow path gives the right answer.
            handoff = handoffs.get(session, handoff_id)
            check_tier(agent, handoff)
            message = handoffs.send_agent_message(session, handoff, agent, body.text, source_key)
        return schemas.MessageOut(
            id=message.id,
            role=message.role,
            text=message.text,
            at=message.at,
            author=message.author_name,
            delivery="queued",
        )

    out = await committed(session, work)
    _wake_outbox(request)  # after the commit, on the event loop
    return out


@router.post("/{handoff_id}/notes", response_model=schemas.NoteOut, status_code=status.HTTP_201_CREATED)
def add_note(
    handoff_id: int, body: schemas.NoteIn, session: SessionDep, agent: CurrentAgent
) -> schemas.NoteOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    note = handoffs.add_note(session, handoff, agent, body.text)
    return schemas.NoteOut(text=note.text, author=note.author_name, at=note.at)


@router.post(
    "/{handoff_id}/escalate",
    response_model=schemas.HandoffChange,
    responses=links.responses(200, links.FROM_HANDOFF),
)
async def escalate_handoff(
    handoff_id: int, body: schemas.EscalateIn, session: SessionDep, agent: CurrentAgent, request: Request
) -> schemas.HandoffChange:
    def work() -> schemas.HandoffChange:
        handoff = handoffs.get(session, handoff_id)
        check_tier(agent, handoff)
        handoffs.escalate(session, handoff, agent, body.tier, body.note, body.vendor_name, body.vendor_case)
        return serializers.change(session, handoff)

    out = await committed(session, work)
    _wake_outbox(request)  # the customer is told where their ticket went
    return out


@router.post(
    "/{handoff_id}/resolve",
    response_model=schemas.HandoffChange,
    responses=links.responses(200, links.FROM_HANDOFF),
)
async def resolve_handoff(
    handoff_id: int, body: schemas.ResolveIn, session: SessionDep, agent: CurrentAgent, request: Request
) -> schemas.HandoffChange:
    def work() -> schemas.HandoffChange:
        handoff = handoffs.get(session, handoff_id)
        check_tier(agent, handoff)
        handoffs.resolve(session, handoff, agent, body.resolution, body.return_to_bot)
        return serializers.change(session, handoff)

    out = await committed(session, work)
    _wake_outbox(request)  # after the commit, on the event loop
    return out


@router.post(
    "/{handoff_id}/transfer",
    response_model=schemas.HandoffChange,
    responses=links.responses(200, links.FROM_HANDOFF),
)
def transfer_handoff(
    handoff_id: int, body: schemas.TransferIn, session: SessionDep, agent: CurrentAgent
) -> schemas.HandoffChange:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    to = session.scalar(select(User).where(User.name == body.agent))
    if to is None:
        raise Invalid(f"agent: nobody is called {body.agent}")
    return serializers.change(session, handoffs.transfer(session, handoff, agent, to))


@router.post(
    "/{handoff_id}/release",
    response_model=schemas.HandoffChange,
    responses=links.responses(200, links.FROM_HANDOFF),
)
async def release_handoff(
    handoff_id: int, session: SessionDep, agent: CurrentAgent, request: Request
) -> schemas.HandoffChange:
    def work() -> schemas.HandoffChange:
        handoff = handoffs.get(session, handoff_id)
        check_tier(agent, handoff)
        return serializers.change(session, handoffs.release(session, handoff, agent))

    out = await committed(session, work)
    _wake_outbox(request)  # the customer is told their ticket is back in the queue
    return out
