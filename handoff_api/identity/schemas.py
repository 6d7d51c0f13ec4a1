"""What the identity, ratings, tickets and dev-mailbox routes accept and return."""

from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

from handoff_api.schemas import Identifier, StrictModel, Text, UtcDatetime


class VerificationStart(StrictModel):
    username_or_email: Annotated[str, Field(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$")]
    conversation_id: Identifier


class VerificationOut(BaseModel):
    verification_id: str
    masked_destination: str
    expires_at: UtcDatetime
    code_length: int = 6


class CodeCheck(StrictModel):
    # Exactly what the bot read; never echoed back, logged or stored.
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class VerifiedCustomer(BaseModel):
    id: str
    name: str
    email: str | None
    verified: bool = True


class CheckOut(BaseModel):
    status: Literal["verified", "wrong_code", "expired", "locked"]
    attempts_left: int
    locked_until: UtcDatetime | None = None
    # Only once verified: who the customer is, and whether their account is locked out.
    customer: VerifiedCustomer | None = None
    account_locked: bool | None = None


class UnlockOut(BaseModel):
    unlocked: bool
    was_locked: bool


class ResetLinkOut(BaseModel):
    sent: bool
    masked_destination: str


class LockedOut(BaseModel):
    detail: str
    locked_until: UtcDatetime


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


class DevMailOut(BaseModel):
    to: str
    subject: str
    body: str
    sent_at: UtcDatetime
