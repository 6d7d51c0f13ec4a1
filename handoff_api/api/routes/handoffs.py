"""Handoffs: the bot creates them; agents claim, reply, note, escalate and resolve."""

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from handoff_api import schemas
from handoff_api.api import serializers
from handoff_api.api.deps import CurrentAgent, CurrentBot, SessionDep, check_tier
from handoff_api.errors import Invalid
from handoff_api.models import User
from handoff_api.services import handoffs

router = APIRouter(prefix="/api/v1/handoffs", tags=["handoffs"])


def _wake_outbox(request: Request) -> None:
    request.app.state.outbox_wakeup.set()


@router.post("", response_model=schemas.HandoffOut, status_code=status.HTTP_201_CREATED)
def create_handoff(
    body: schemas.HandoffCreate, session: SessionDep, bot: CurrentBot, response: Response
) -> schemas.HandoffOut:
    handoff, created = handoffs.create(session, body, bot)
    if not created:
        response.status_code = status.HTTP_200_OK
    session.flush()
    return serializers.full(session, handoff)


@router.get("/{handoff_id}", response_model=schemas.HandoffOut)
def read_handoff(handoff_id: int, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    return serializers.full(session, handoff)


@router.post("/{handoff_id}/claim", response_model=schemas.HandoffOut)
def claim_handoff(handoff_id: int, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    handoffs.claim(session, handoff, agent)
    return serializers.full(session, handoff)


@router.post("/{handoff_id}/messages", response_model=schemas.MessageOut, status_code=status.HTTP_201_CREATED)
def send_message(
    handoff_id: int, body: schemas.MessageIn, session: SessionDep, agent: CurrentAgent, request: Request
) -> schemas.MessageOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    message = handoffs.send_agent_message(session, handoff, agent, body.text)
    session.commit()
    _wake_outbox(request)
    return schemas.MessageOut(
        id=message.id,
        role=message.role,
        text=message.text,
        at=message.at,
        author=message.author_name,
        delivery="queued",
    )


@router.post("/{handoff_id}/notes", response_model=schemas.NoteOut, status_code=status.HTTP_201_CREATED)
def add_note(
    handoff_id: int, body: schemas.NoteIn, session: SessionDep, agent: CurrentAgent
) -> schemas.NoteOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    note = handoffs.add_note(session, handoff, agent, body.text)
    return schemas.NoteOut(text=note.text, author=note.author_name, at=note.at)


@router.post("/{handoff_id}/escalate", response_model=schemas.HandoffOut)
def escalate_handoff(
    handoff_id: int, body: schemas.EscalateIn, session: SessionDep, agent: CurrentAgent
) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    handoffs.escalate(session, handoff, agent, body.tier, body.note, body.vendor_name, body.vendor_case)
    return serializers.full(session, handoff)


@router.post("/{handoff_id}/resolve", response_model=schemas.HandoffOut)
def resolve_handoff(
    handoff_id: int, body: schemas.ResolveIn, session: SessionDep, agent: CurrentAgent, request: Request
) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    handoffs.resolve(session, handoff, agent, body.resolution, body.return_to_bot)
    out = serializers.full(session, handoff)
    session.commit()
    _wake_outbox(request)
    return out


@router.post("/{handoff_id}/transfer", response_model=schemas.HandoffOut)
def transfer_handoff(
    handoff_id: int, body: schemas.TransferIn, session: SessionDep, agent: CurrentAgent
) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    to = session.scalar(select(User).where(User.name == body.agent))
    if to is None:
        raise Invalid(f"agent: nobody is called {body.agent}")
    return serializers.full(session, handoffs.transfer(session, handoff, agent, to))


@router.post("/{handoff_id}/release", response_model=schemas.HandoffOut)
def release_handoff(handoff_id: int, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffOut:
    handoff = handoffs.get(session, handoff_id)
    check_tier(agent, handoff)
    return serializers.full(session, handoffs.release(session, handoff, agent))
