"""What the handoff, queue, conversation and widget routes accept and return."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from handoff_api.core.fields import Identifier, ShortText, StrictModel, Text, UtcDatetime
from handoff_api.models.vocabulary import Language, Level, Priority, Reason, Status, Tier


class Customer(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    verified: bool = False
    # When a one-time code proved who the customer is (the bot's "verified" lasts 15 minutes).
    verified_at: UtcDatetime | None = None
    vip: bool = False


class CustomerIn(Customer):
    # Input only (what is already stored is shown as it is): the `Text` checks.
    id: Text | None = Field(default=None, max_length=200)
    name: Text | None = Field(default=None, max_length=200)


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
    # No bound here: a customer's line from the chat channel is stored whole and must read back.
    text: str
    at: UtcDatetime | None = None
    author: str | None = None


class TranscriptLineIn(TranscriptLine):
    text: Annotated[Text, Field(max_length=4000)]
    author: Text | None = None


class HandoffCreate(StrictModel):
    conversation_id: Identifier
    channel: Annotated[Text, Field(min_length=1, max_length=50)]
    reason: Reason
    tier: Tier = "l2"
    category: Text | None = Field(default=None, max_length=100)
    priority: Priority = Field(default="p3", description="used when impact and urgency are not both given")
    impact: Level | None = Field(default=None, description="how many people or how much work it stops")
    urgency: Level | None = Field(default=None, description="how soon it hurts")
    summary: Text | None = Field(default=None, max_length=4000)
    customer: CustomerIn = Field(default_factory=CustomerIn)
    context: BotContext = Field(default_factory=BotContext)
    transcript: list[TranscriptLineIn] = Field(default_factory=list, max_length=500)
    language: Language = Field(default="en", description="the conversation's language")


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
    language: Language = "en"


class HandoffChange(HandoffSummary):
    """What a write answers (create, claim, escalate, resolve, transfer, release, take next): the handoff as
    the contract describes it, without the agents' notes; `GET /api/v1/handoffs/{id}` has everything."""

    context: BotContext
    transcript: list[TranscriptLine]
    history: list[HistoryEntry]
    resolution: str | None
    vendor_name: str | None = None
    vendor_case: str | None = None
    reopened_count: int = 0
    queue_position: int | None = Field(
        description="1-based place among the tier's waiting handoffs; null unless it waits"
    )
    agents_online: int | None = Field(
        description="agents of the handoff's tier who are online now; null unless it waits"
    )


class HandoffOut(HandoffChange):
    notes: list[NoteOut]
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
    note: Text | None = Field(default=None, max_length=4000)
    vendor_name: Text | None = Field(default=None, max_length=100, description="required for l4")
    vendor_case: Text | None = Field(default=None, max_length=100, description="the vendor's case reference")


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


class WidgetEngineer(BaseModel):
    name: str
    tier: str


class WidgetQueued(BaseModel):
    ticket: str
    tier: str
    queue_position: int | None = Field(description="as it was when the customer was told; null: not known")


class WidgetReply(BaseModel):
    """An engineer's reply as the widget shows it, or the help desk's notice that the customer's ticket waits
    in a queue again (escalated or released: no `agent`, and `handoff`); `id` is the `helpdesk_message_id`
    of the live message."""

    id: int
    text: str
    at: UtcDatetime
    agent: WidgetEngineer | None
    handoff: WidgetQueued | None = None


class WidgetChoice(BaseModel):
    title: str
    payload: str = Field(description="what the widget sends to the bot when the customer picks it")


class WidgetQuestion(BaseModel):
    """A bot message with choices, as Rasa's socket.io channel sends one (`text` and `quick_replies`)."""

    text: str
    quick_replies: list[WidgetChoice]


class WidgetHandBack(BaseModel):
    """The engineer handed the customer back to the bot: what the widget shows a customer who was away."""

    ticket: str
    at: UtcDatetime
    text: str
    rating: WidgetQuestion | None = Field(
        description="the bot's 1-5 rating question, which it asked when it took the chat back and a widget "
        "that was away never received; null once the customer has rated this handoff"
    )


class WidgetReplies(BaseModel):
    replies: list[WidgetReply]
    # Whether an engineer's handoff of this conversation is still open (waiting or assigned): a widget
    # that missed the hand-back to the bot learns here that it no longer talks to an engineer.
    open: bool
    # More replies follow the last one here: the widget asks again, after it.
    more: bool = False
    # The conversation's last handoff ended with a hand-back to the bot (only while none is open).
    handed_back: WidgetHandBack | None = None
