"""The waiting handoffs of a tier, most urgent first."""

from fastapi import APIRouter

from handoff_api.api import links, serializers
from handoff_api.api.deps import CurrentAgent, SessionDep, visible_tiers
from handoff_api.core.errors import Forbidden
from handoff_api.handoffs import schemas
from handoff_api.handoffs import service as handoffs
from handoff_api.models.vocabulary import Tier

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])


@router.get("/{tier}", response_model=schemas.QueueOut)
def read_queue(tier: Tier, session: SessionDep, agent: CurrentAgent) -> schemas.QueueOut:
    if tier not in visible_tiers(agent):
        raise Forbidden(f"role {agent.role} may not see the {tier} queue")
    waiting = handoffs.queue(session, tier)
    return schemas.QueueOut(tier=tier, count=len(waiting), handoffs=[serializers.summary(h) for h in waiting])


@router.post(
    "/{tier}/next", response_model=schemas.HandoffChange, responses=links.responses(200, links.FROM_HANDOFF)
)
def claim_next(tier: Tier, session: SessionDep, agent: CurrentAgent) -> schemas.HandoffChange:
    """Claims the most urgent waiting handoff the agent's skills cover; 404 when there is none."""
    if tier not in visible_tiers(agent):
        raise Forbidden(f"role {agent.role} may not take from the {tier} queue")
    return serializers.change(session, handoffs.claim_next(session, agent, tier))
