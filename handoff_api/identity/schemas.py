"""What the identity self-service routes accept and return."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from handoff_api.core.fields import Identifier, StrictModel, UtcDatetime


class VerificationStart(StrictModel):
    username_or_email: Annotated[str, Field(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$")]
    conversation_id: Identifier
    language: Literal["en", "de"] = Field(
        default="en", description="the language of the mails to the customer"
    )


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
    locked_by_administrator: bool = Field(
        default=False,
        description="the account was locked by an administrator: self-service leaves it locked and an "
        "engineer decides",
    )


class ResetLinkOut(BaseModel):
    sent: bool
    masked_destination: str


class LockedOut(BaseModel):
    detail: str
    locked_until: UtcDatetime
