"""Customers' 1-5 satisfaction ratings: the bot stores them; leads read them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import select

from handoff_api.api.deps import CurrentBot, SessionDep, require_roles
from handoff_api.core.errors import Conflict, Invalid
from handoff_api.feedback import schemas
from handoff_api.models import Handoff, Rating, User

router = APIRouter(prefix="/api/v1/ratings", tags=["ratings"])

CurrentLead = Annotated[User, Depends(require_roles("lead"))]


def _out(rating: Rating) -> schemas.RatingOut:
    return schemas.RatingOut(
        id=rating.id,
        conversation_id=rating.conversation_id,
        handoff_id=rating.handoff_id,
        rating=rating.rating,
        comment=rating.comment,
        created_at=rating.created_at,
    )


@router.post("", response_model=schemas.RatingOut, status_code=status.HTTP_201_CREATED)
def create_rating(body: schemas.RatingIn, session: SessionDep, _bot: CurrentBot) -> schemas.RatingOut:
    if body.handoff_id is not None:
        handoff = session.get(Handoff, body.handoff_id)
        # A conversation rates only its own handoffs.
        if handoff is None or handoff.conversation_id != body.conversation_id:
            raise Invalid("handoff_id: no handoff of this conversation has that id")
        # Once per handoff: an engineer's figures are not for anyone to stuff.
        if session.scalar(select(Rating.id).where(Rating.handoff_id == handoff.id).limit(1)) is not None:
            raise Conflict(f"handoff {handoff.number} has been rated already")
    rating = Rating(
        conversation_id=body.conversation_id,
        handoff_id=body.handoff_id,
        rating=body.rating,
        comment=(body.comment or "").strip() or None,
    )
    session.add(rating)
    session.flush()
    return _out(rating)


@router.get("", response_model=list[schemas.RatingOut])
def list_ratings(
    session: SessionDep,
    _lead: CurrentLead,
    handoff_id: Annotated[int | None, Query(ge=1)] = None,
    conversation_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.RatingOut]:
    query = select(Rating).order_by(Rating.id.desc()).limit(limit)
    if handoff_id is not None:
        query = query.where(Rating.handoff_id == handoff_id)
    if conversation_id is not None:
        query = query.where(Rating.conversation_id == conversation_id)
    return [_out(rating) for rating in session.scalars(query)]
