"""What the ratings, ticket-status and follow-up routes accept and return."""

from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from handoff_api.core.fields import Identifier, StrictModel, Text, UtcDatetime


class RatingIn(StrictModel):
    conversation_id: Identifier
    handoff_id: int | None = Field(default=None, ge=1)
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Text | None = Field(default=None, max_length=2000)


class RatingOut(BaseModel):
    id: int
    conversation_id: str
    handoff_id: int | None
    rating: int
    comment: str | None
    created_at: UtcDatetime


class TicketStatus(BaseModel):
    number: str
    status: str
    tier: str
    updated_at: UtcDatetime


class TicketList(BaseModel):
    tickets: list[TicketStatus]


class FollowUpIn(StrictModel):
    conversation_id: Identifier
    email: EmailStr


class FollowUpOut(BaseModel):
    number: str
    email: str
    confirmation_sent: bool
