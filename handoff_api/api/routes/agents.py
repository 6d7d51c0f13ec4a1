"""Agents: presence and capacity, and who is on which queue."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from handoff_api.api.deps import CurrentAgent, SessionDep, require_roles
from handoff_api.handoffs import service as handoffs
from handoff_api.models import User
from handoff_api.models.vocabulary import AGENT_ROLES

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    presence: Literal["online", "away", "offline"]
    capacity: Annotated[int | None, Field(ge=1, le=50)] = None


class AgentOut(BaseModel):
    id: int
    name: str
    role: str
    tier_skills: list[str]
    presence: str
    capacity: int
    assigned: int


def _out(session: SessionDep, agent: User) -> AgentOut:
    return AgentOut(
        id=agent.id,
        name=agent.name,
        role=agent.role,
        tier_skills=agent.tier_skills,
        presence=agent.presence,
        capacity=agent.capacity,
        assigned=handoffs.assigned_count(session, agent),
    )


@router.put("/me/presence", response_model=AgentOut)
def set_presence(body: PresenceIn, session: SessionDep, agent: CurrentAgent) -> AgentOut:
    agent.presence = body.presence
    if body.capacity is not None:
        agent.capacity = body.capacity
    session.flush()
    return _out(session, agent)


@router.get("", response_model=list[AgentOut])
def list_agents(
    session: SessionDep, user: Annotated[User, Depends(require_roles(*AGENT_ROLES))]
) -> list[AgentOut]:
    """A lead sees everyone; an agent sees the colleagues of their tier (to transfer to)."""
    roles = AGENT_ROLES if user.role == "lead" else (user.role,)
    agents = session.scalars(
        select(User).where(User.role.in_(roles), User.active.is_(True)).order_by(User.name)
    )
    return [_out(session, agent) for agent in agents]
