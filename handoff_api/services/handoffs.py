"""What can happen to a handoff: create, claim, reply, note, escalate, resolve."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff_api.core.db import changed_rows
from handoff_api.errors import Conflict, Invalid, NotFound
from handoff_api.models import OPEN_STATUSES, Handoff, Message, Note, OutboxItem, User, utcnow
from handoff_api.schemas import TIER_ORDER, HandoffCreate
from handoff_api.services import events, sla

# An outbox entry that is not a tracker event: Rasa's trigger_intent, sent after the events before it.
TRIGGER_INTENT = "trigger_intent"
RETURN_TO_BOT_TEXT = (
    "The engineer has handed you back to the virtual assistant. Is there anything else I can help with?"
)


def get(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound(f"handoff {handoff_id} does not exist")
    return handoff


def open_for_conversation(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
    )


def create(session: Session, data: HandoffCreate, bot: User) -> tuple[Handoff, bool]:
    """Returns the handoff and whether it is new; an open handoff of the conversation is reused."""
    existing = open_for_conversation(session, data.conversation_id)
    if existing is not None:
        return existing, False
    now = utcnow()
    priority = sla.priority_for(data.impact, data.urgency, data.priority, data.customer.vip)
    first_due, resolution_due = sla.due_times(priority, now)
    stamps = [line.at.timestamp() for line in data.transcript if line.at is not None]
    handoff = Handoff(
        conversation_id=data.conversation_id,
        channel=data.channel,
        tier=data.tier,
        status="waiting",
        priority=priority,
        category=data.category,
        reason=data.reason,
        summary=data.summary,
        customer=data.customer.model_dump(mode="json"),
        context=data.context.model_dump(mode="json"),
        transcript_cutoff=max(stamps, default=0.0),
        first_response_due=first_due,
        resolution_due=resolution_due,
    )
    try:
        with session.begin_nested():
            session.add(handoff)
            session.flush()
    except IntegrityError:
        # Another request created it between our check and our insert.
        existing = open_for_conversation(session, data.conversation_id)
        if existing is None:
            raise
        return existing, False
    for line in data.transcript:
        session.add(
            Message(
                handoff_id=handoff.id,
                role=line.role,
                text=line.text,
                at=(line.at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None),
                author_name=line.author,
            )
        )
    events.record(session, handoff, "handoff.created", events.actor_name(bot), reason=data.reason)
    return handoff, True


def queue(session: Session, tier: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.tier == tier, Handoff.status == "waiting")
            .order_by(Handoff.priority, Handoff.first_response_due, Handoff.id)
        )
    )


def queue_position(session: Session, handoff: Handoff) -> int | None:
    if handoff.status != "waiting":
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.tier == handoff.tier,
            Handoff.status == "waiting",
            (Handoff.priority < handoff.priority)
            | (
                (Handoff.priority == handoff.priority)
                & (Handoff.first_response_due < handoff.first_response_due)
            )
            | (
                (Handoff.priority == handoff.priority)
                & (Handoff.first_response_due == handoff.first_response_due)
                & (Handoff.id < handoff.id)
            ),
        )
    )
    return (ahead or 0) + 1


def agents_online(session: Session, tier: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == tier, User.presence == "online", User.active.is_(True))
        )
        or 0
    )


def claim(session: Session, handoff: Handoff, agent: User) -> Handoff:
    # A conditional update is atomic on every database: exactly one claimer sees a row change.
    won = changed_rows(
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, Handoff.status == "waiting", Handoff.tier == handoff.tier)
            .values(status="assigned", assignee_id=agent.id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if not won:
        session.refresh(handoff)
        if handoff.assignee_id == agent.id and handoff.status == "assigned":
            return handoff
        holder = handoff.assignee.name if handoff.assignee else None
        raise Conflict(
            f"handoff {handoff.number} is held by {holder}"
            if holder
            else f"handoff {handoff.number} is {handoff.status}"
        )
    session.refresh(handoff)
    events.record(session, handoff, "handoff.claimed", events.actor_name(agent), assignee=agent.name)
    return handoff


def _require_holder(handoff: Handoff, agent: User) -> None:
    if handoff.status == "resolved":
        raise Conflict(f"handoff {handoff.number} is resolved")
    if agent.role == "lead":
        return
    if handoff.assignee_id != agent.id:
        raise Conflict(
            f"handoff {handoff.number} is held by {handoff.assignee.name}"
            if handoff.assignee
            else f"claim handoff {handoff.number} first"
        )


def send_agent_message(session: Session, handoff: Handoff, agent: User, text: str) -> Message:
    _require_holder(handoff, agent)
    message = Message(
        handoff_id=handoff.id, role="agent", text=text, author_id=agent.id, author_name=agent.name
    )
    session.add(message)
    session.flush()
    if handoff.first_response_at is None:
        handoff.first_response_at = message.at
    session.add(
        OutboxItem(
            handoff_id=handoff.id,
            conversation_id=handoff.conversation_id,
            events=[
                {
                    "event": "bot",
                    "text": text,
                    "metadata": {
                        "helpdesk_message_id": message.id,
                        "agent": {"name": agent.name, "tier": agent.role},
                    },
                }
            ],
        )
    )
    events.record(session, handoff, "message.agent", events.actor_name(agent), message_id=message.id)
    return message


def add_note(session: Session, handoff: Handoff, agent: User, text: str) -> Note:
    note = Note(handoff_id=handoff.id, author_id=agent.id, author_name=agent.name, text=text)
    session.add(note)
    session.flush()
    events.record(session, handoff, "note.added", events.actor_name(agent), note_id=note.id)
    return note


def escalate(
    session: Session,
    handoff: Handoff,
    agent: User,
    tier: str,
    note: str | None,
    vendor_name: str | None = None,
    vendor_case: str | None = None,
) -> Handoff:
    _require_holder(handoff, agent)
    if TIER_ORDER[tier] <= TIER_ORDER[handoff.tier]:
        raise Invalid(f"tier: escalation goes up, from {handoff.tier} to a higher tier, not to {tier}")
    if tier == "l4":
        if not vendor_name:
            raise Invalid("vendor_name: an escalation to L4 names the vendor")
        handoff.vendor_name = vendor_name
        handoff.vendor_case = vendor_case
    if note:
        add_note(session, handoff, agent, note)
    from_tier = handoff.tier
    # Filed under the new tier: that queue is where the handoff now waits.
    events.record(
        session,
        handoff,
        "handoff.escalated",
        events.actor_name(agent),
        tier,
        from_tier=from_tier,
        vendor_name=vendor_name,
        vendor_case=vendor_case,
    )
    handoff.tier = tier
    handoff.status = "waiting"
    handoff.assignee_id = None
    session.flush()
    session.refresh(handoff)
    return handoff


def resolve(session: Session, handoff: Handoff, agent: User, resolution: str, return_to_bot: bool) -> Handoff:
    _require_holder(handoff, agent)
    handoff.status = "resolved"
    handoff.resolution = resolution
    handoff.resolved_at = utcnow()
    handoff.returned_to_bot = return_to_bot
    if return_to_bot:
        session.add(
            Message(handoff_id=handoff.id, role="bot", text=RETURN_TO_BOT_TEXT, author_name="assistant")
        )
        session.add(
            OutboxItem(
                handoff_id=handoff.id,
                conversation_id=handoff.conversation_id,
                # The bot takes over with its own words (and asks for a rating) on the external intent.
                events=[
                    {"event": "resume"},
                    {
                        "event": TRIGGER_INTENT,
                        "name": "EXTERNAL_handed_back",
                        "entities": {"handoff_id": str(handoff.id), "ticket_number": handoff.number},
                    },
                ],
            )
        )
    events.record(session, handoff, "handoff.resolved", events.actor_name(agent), return_to_bot=return_to_bot)
    return handoff


def append_customer_message(
    session: Session, handoff: Handoff, role: str, text: str, at: datetime, source_key: str
) -> Message | None:
    exists = session.scalar(
        select(Message.id).where(Message.handoff_id == handoff.id, Message.source_key == source_key)
    )
    if exists is not None:
        return None
    message = Message(handoff_id=handoff.id, role=role, text=text, at=at, source_key=source_key)
    session.add(message)
    session.flush()
    events.record(
        session, handoff, f"message.{role}", role if role == "customer" else "bot", message_id=message.id
    )
    return message


def assigned_count(session: Session, agent: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.assignee_id == agent.id, Handoff.status == "assigned")
        )
        or 0
    )


def _check_capacity(session: Session, agent: User) -> None:
    if agent.role != "lead" and assigned_count(session, agent) >= agent.capacity:
        raise Conflict(
            f"{agent.name} holds {agent.capacity} handoffs already (their capacity); resolve or release one"
        )


def claim_next(session: Session, agent: User, tier: str) -> Handoff:
    """Claims the most urgent waiting handoff of the tier that matches the agent's skills."""
    _check_capacity(session, agent)
    query = (
        select(Handoff.id)
        .where(Handoff.tier == tier, Handoff.status == "waiting")
        .order_by(Handoff.priority, Handoff.first_response_due, Handoff.id)
    )
    if agent.tier_skills:
        query = query.where(Handoff.category.is_(None) | Handoff.category.in_(agent.tier_skills))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Concurrent claimers skip each other's locked rows instead of queueing behind them.
        query = query.with_for_update(skip_locked=True, of=Handoff)
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    for handoff_id in session.scalars(query.limit(1 if postgres else 20)).all():
        handoff = get(session, handoff_id)
        try:
            with session.begin_nested():
                return claim(session, handoff, agent)
        except Conflict:
            continue  # someone else won this one; try the next
    raise NotFound(
        f"no waiting handoff in the {tier} queue" + (" for your skills" if agent.tier_skills else "")
    )


def transfer(session: Session, handoff: Handoff, agent: User, to: User) -> Handoff:
    _require_holder(handoff, agent)
    if to.role not in (handoff.tier, "lead") or not to.active:
        raise Invalid(f"agent: {to.name} is not an active {handoff.tier} agent")
    _check_capacity(session, to)
    handoff.assignee_id = to.id
    session.flush()
    session.refresh(handoff)
    events.record(session, handoff, "handoff.transferred", events.actor_name(agent), assignee=to.name)
    return handoff


def release(session: Session, handoff: Handoff, agent: User) -> Handoff:
    _require_holder(handoff, agent)
    handoff.status = "waiting"
    handoff.assignee_id = None
    session.flush()
    session.refresh(handoff)
    events.record(session, handoff, "handoff.released", events.actor_name(agent))
    return handoff


def reopenable(session: Session, conversation_id: str, within_days: int) -> Handoff | None:
    """The conversation's latest handoff if it was resolved recently and not handed back to the bot."""
    latest = session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1)
    )
    if latest is None or latest.status != "resolved" or latest.returned_to_bot or latest.resolved_at is None:
        return None
    if latest.resolved_at < utcnow() - timedelta(days=within_days):
        return None
    return latest


def reopen(session: Session, handoff: Handoff) -> Handoff:
    handoff.status = "waiting"
    handoff.assignee_id = None
    handoff.resolved_at = None
    handoff.reopened_count += 1
    now = utcnow()
    handoff.first_response_due, handoff.resolution_due = sla.due_times(handoff.priority, now)
    handoff.first_response_at = None
    handoff.breaches_announced = []
    session.flush()
    events.record(session, handoff, "handoff.reopened", "customer")
    return handoff
