"""What the dev mailbox (demo mode) returns."""

from pydantic import BaseModel

from handoff_api.core.fields import UtcDatetime


class DevMailOut(BaseModel):
    to: str
    subject: str
    body: str
    sent_at: UtcDatetime
