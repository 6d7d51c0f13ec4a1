"""What the API accepts and returns."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, PlainSerializer

Tier = Literal["l2", "l3", "l4"]
Role = Literal["bot", "l2", "l3", "l4", "lead", "editor"]
Priority = Literal["p1", "p2", "p3", "p4"]
Level = Literal["high", "medium", "low"]
Status = Literal["waiting", "assigned", "resolved"]
Reason = Literal[
    "customer_request",
    "low_confidence",
    "kb_no_answer",
    "flow_failed",
    "identity_verification_failed",
    "action_failed",
    "reported_issue",
]
TIER_ORDER: dict[str, int] = {"l2": 2, "l3": 3, "l4": 4}


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(lambda d: _as_utc(d).isoformat().replace("+00:00", "Z"), return_type=str),
]
ShortText = Annotated[str, Field(min_length=1, max_length=4000)]
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Customer(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    verified: bool = False
    vip: bool = False


class BotContext(BaseModel):
    """What the bot understood before it handed over; extra keys are kept."""

    model_config = ConfigDict(extra="allow")

    intent: str | None = Field(default=None, max_length=100)
    confidence: float | None = Field(default=None, ge=0, le=1)
    slots: dict[str, Any] = Field(default_factory=dict)
    kb_articles_tried: list[Any] = Field(default_factory=list, max_length=100)
    steps_tried: list[Any] = Field(default_factory=list, max_length=100)


class TranscriptLine(BaseModel):
    role: Literal["customer", "bot", "agent"]
    text: Annotated[str, Field(max_length=4000)]
    at: UtcDatetime | None = None
    author: str | None = None


class HandoffCreate(StrictModel):
    conversation_id: Identifier
    channel: Annotated[str, Field(min_length=1, max_length=50)]
    reason: Reason
    tier: Tier = "l2"
    category: str | None = Field(default=None, max_length=100)
    priority: Priority = Field(default="p3", description="used when impact and urgency are not both given")
    impact: Level | None = Field(default=None, description="how many people or how much work it stops")
    urgency: Level | None = Field(default=None, description="how soon it hurts")
    summary: str | None = Field(default=None, max_length=4000)
    customer: Customer = Field(default_factory=Customer)
    context: BotContext = Field(default_factory=BotContext)
    transcript: list[TranscriptLine] = Field(default_factory=list, max_length=500)


class AgentRef(BaseModel):
    id: int
    name: str


class Sla(BaseModel):
    first_response_due: UtcDatetime
    resolution_due: UtcDatetime
    breached: bool


class NoteOut(BaseModel):
    text: str
    author: str
    at: UtcDatetime


class HistoryEntry(BaseModel):
    kind: str
    actor: str
    at: UtcDatetime
    tier: str
    detail: dict[str, Any]


class HandoffSummary(BaseModel):
    id: int
    number: str
    conversation_id: str
    channel: str
    tier: Tier
    status: Status
    priority: Priority
    category: str | None
    reason: str
    summary: str | None
    customer: Customer
    assignee: AgentRef | None
    sla: Sla
    created_at: UtcDatetime
    updated_at: UtcDatetime


class HandoffOut(HandoffSummary):
    context: BotContext
    transcript: list[TranscriptLine]
    notes: list[NoteOut]
    history: list[HistoryEntry]
    resolution: str | None
    vendor_name: str | None = None
    vendor_case: str | None = None
    reopened_count: int = 0
    queue_position: int | None = Field(description="1-based place among the tier's waiting handoffs")
    agents_online: int = Field(description="agents of the handoff's tier who are online now")


class QueueOut(BaseModel):
    tier: Tier
    count: int
    handoffs: list[HandoffSummary]


class MessageIn(StrictModel):
    text: ShortText


class NoteIn(StrictModel):
    text: ShortText


class EscalateIn(StrictModel):
    tier: Tier
    note: str | None = Field(default=None, max_length=4000)
    vendor_name: str | None = Field(default=None, max_length=100, description="required for l4")
    vendor_case: str | None = Field(default=None, max_length=100, description="the vendor's case reference")


class TransferIn(StrictModel):
    agent: Annotated[
        str, Field(min_length=1, max_length=100, description="the name of the agent taking over")
    ]


class ResolveIn(StrictModel):
    resolution: ShortText
    return_to_bot: bool = True


class MessageOut(BaseModel):
    id: int
    role: str
    text: str
    at: UtcDatetime
    author: str | None
    delivery: Literal["queued", "sent"]
