"""Identity self-service: one-time code verifications and accounts whose self-service is closed."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class Verification(Base):
    """One one-time code sent to an account's contact on record; only its keyed hash is stored."""

    __tablename__ = "identity_verifications"
    __table_args__ = (Index("ix_identity_verifications_account", "account", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    # The directory's username (uid) of the account being verified.
    account: Mapped[str] = mapped_column(String(200))
    code_hash: Mapped[str] = mapped_column(String(64))
    masked_destination: Mapped[str] = mapped_column(String(320))
    # pending -> verified -> (unlocked / reset_sent are recorded in `used_for`); or expired / failed.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    used_for: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    # The conversation's language: the code's and the reset link's mails are written in it.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")


class SelfServiceLockout(Base):
    """An account whose self-service is closed after too many wrong codes, until `locked_until`."""

    __tablename__ = "identity_lockouts"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    locked_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(100), default="too many wrong codes")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
