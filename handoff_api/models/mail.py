"""The dev mailbox: mail the demo "sent", kept so a person trying the demo can read it."""

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class DevMail(Base):
    """A message the dev mailer 'sent': readable by a lead in demo mode only."""

    __tablename__ = "dev_mailbox"
    __table_args__ = (Index("ix_dev_mailbox_to", "to", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
