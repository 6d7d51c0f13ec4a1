"""What the bot asks about a conversation: is a human holding it?"""

from fastapi import APIRouter

from handoff_api.api import serializers
from handoff_api.api.deps import BotOrAgent, SessionDep, check_tier
from handoff_api.core.errors import NotFound
from handoff_api.handoffs import schemas
from handoff_api.handoffs import service as handoffs

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("/{conversation_id}/handoff", response_model=schemas.HandoffOut)
def read_open_handoff(conversation_id: str, session: SessionDep, user: BotOrAgent) -> schemas.HandoffOut:
    handoff = handoffs.open_for_conversation(session, conversation_id)
    if handoff is None:
        raise NotFound(f"conversation {conversation_id} has no open handoff")
    if user.role != "bot":
        check_tier(user, handoff)
    return serializers.full(session, handoff)
