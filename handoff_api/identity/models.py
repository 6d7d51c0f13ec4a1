"""Tables of identity self-service, the dev mailbox, satisfaction ratings and e-mail follow-ups."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models import Base, utcnow


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


class SelfServiceLockout(Base):
    """An account whose self-service is closed after too many wrong codes, until `locked_until`."""

    __tablename__ = "identity_lockouts"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    locked_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(100), default="too many wrong codes")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DevMail(Base):
    """A message the dev mailer 'sent': readable by a lead in demo mode only."""

    __tablename__ = "dev_mailbox"
    __table_args__ = (Index("ix_dev_mailbox_to", "to", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rating(Base):
    """A customer's 1-5 satisfaction rating of a conversation, or of a handoff an agent handled."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), index=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """A customer's request to be e-mailed about a handoff while nobody of its tier is online."""

    __tablename__ = "handoff_followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The id of the last message of the handoff already mailed (or already there when the customer asked).
    mailed_through: Mapped[int] = mapped_column(default=0, server_default="0")
    mail_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    mail_retry_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
