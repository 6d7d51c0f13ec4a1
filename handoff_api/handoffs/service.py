"""What can happen to a handoff, and who may make it happen: create, claim, reply, note, escalate, transfer,
release, resolve, reopen. How each reaches the database is `repository`'s business."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from handoff_api.core.db import changed_rows
from handoff_api.core.errors import Conflict, Invalid, NotFound
from handoff_api.core.i18n import translate
from handoff_api.handoffs import history, repository, rules, sla
from handoff_api.handoffs.repository import (
    Claimed,
    Created,
    Line,
    Sent,
    agents_online,
    assigned_count,
    earlier_reply,
    get,
    open_for_conversation,
    queue,
    queue_figures,
    queue_position,
)
from handoff_api.handoffs.schemas import HandoffCreate
from handoff_api.models import NOTICE_KEY_PREFIX, Handoff, Message, Note, OutboxItem, User
from handoff_api.models.base import utcnow
from handoff_api.models.vocabulary import TIER_ORDER

__all__ = [
    "Claimed",
    "Created",
    "Line",
    "Sent",
    "agents_online",
    "assigned_count",
    "earlier_reply",
    "get",
    "open_for_conversation",
    "queue",
    "queue_figures",
    "queue_position",
]

# An outbox entry that is not a tracker event: Rasa's trigger_intent, sent after the events before it.
TRIGGER_INTENT = "trigger_intent"
RETURN_TO_BOT_TEXT = (
    "The engineer has handed you back to the virtual assistant. Is there anything else I can help with?"
)
# What the customer is told when their handoff goes back to a queue (`_tell_waiting`), in the conversation's
# language (handoff_api/locale).
TEAM_NAMES = {"l2": "L2 engineers", "l3": "L3 engineers (our specialists)", "l4": "vendor liaisons"}
ESCALATED_TEXT = (
    "Your ticket {number} has gone to our {team}. They have everything you've told us so far and will "
    "answer in this chat."
)
RELEASED_TEXT = (
    "Your engineer has put ticket {number} back in the queue: the next of our {team} will pick it up, "
    "with everything you've told us so far, in this chat."
)


def create(session: Session, data: HandoffCreate, bot: User) -> Created:
    """An open handoff of the conversation is reused (`created` false)."""
    now = utcnow()
    priority = sla.priority_for(data.impact, data.urgency, data.priority, data.customer.vip)
    first_due, resolution_due = sla.due_times(priority, now)
    stamps = [line.at.timestamp() for line in data.transcript if line.at is not None]
    values: dict[str, Any] = {
        "conversation_id": data.conversation_id,
        "channel": data.channel,
        "tier": data.tier,
        "status": "waiting",
        "priority": priority,
        "category": data.category,
        "reason": data.reason,
        "summary": data.summary,
        "customer": data.customer.model_dump(mode="json"),
        "context": data.context.model_dump(mode="json"),
        "transcript_cutoff": max(stamps, default=0.0),
        "assignee_id": None,
        "created_at": now,
        "updated_at": now,
        "first_response_due": first_due,
        "resolution_due": resolution_due,
        "first_response_at": None,
        "resolved_at": None,
        "resolution": None,
        "returned_to_bot": False,
        "vendor_name": None,
        "vendor_case": None,
        "breaches_announced": [],
        "reopened_count": 0,
        "language": data.language,
    }
    transcript = [
        repository.Line(
            line.role,
            line.text,
            (line.at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None),
            line.author,
        )
        for line in data.transcript
    ]
    return repository.writes_for(session).create(
        session, values, transcript, history.actor_name(bot), data.reason
    )


def claim_waiting(session: Session, handoff_id: int, agent: User, tiers: tuple[str, ...]) -> Claimed | None:
    """The common claim in one statement: the handoff if it was waiting in one of `tiers` and is now the
    agent's. None when it is unknown, of another tier, or not waiting (any more): `claim` then gives the
    right answer (404, 403, 409, or 200 to the holder claiming again)."""
    return repository.writes_for(session).claim(session, handoff_id, agent, tiers, utcnow())


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
    history.record(session, handoff, "handoff.claimed", history.actor_name(agent), assignee=agent.name)
    return handoff


def require_holder(handoff: Handoff, agent: User) -> None:
    """409 unless `agent` may act on `handoff` (rules.refusal)."""
    problem = rules.refusal(handoff, agent, handoff.assignee.name if handoff.assignee else None)
    if problem is not None:
        raise problem


def send_agent_message(
    session: Session, handoff: Handoff, agent: User, text: str, source_key: str | None = None
) -> Sent:
    require_holder(handoff, agent)
    session.flush()  # what is pending goes first: the reply's history entry comes after it
    sent = repository.write_reply(session, handoff, agent, text, source_key)
    if handoff.first_response_at is None:  # written by the statement: the loaded handoff follows
        set_committed_value(handoff, "first_response_at", sent.at)
        set_committed_value(handoff, "updated_at", sent.at)
    return sent


def reply(
    session: Session, handoff_id: int, agent: User, text: str, source_key: str | None = None
) -> Sent | None:
    """The common agent reply, without loading the handoff: None (nothing written) unless the agent may
    reply in it (rules.may_reply), when `send_agent_message` on the loaded handoff gives the right answer
    (404, 403, 409)."""
    return repository.writes_for(session).reply(session, handoff_id, agent, text, source_key)


def add_note(session: Session, handoff: Handoff, agent: User, text: str) -> Note:
    note = Note(handoff_id=handoff.id, author_id=agent.id, author_name=agent.name, text=text)
    session.add(note)
    session.flush()
    history.record(session, handoff, "note.added", history.actor_name(agent), note_id=note.id)
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
    require_holder(handoff, agent)
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
    history.record(
        session,
        handoff,
        "handoff.escalated",
        history.actor_name(agent),
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
    vendor = f" ({vendor_name})" if tier == "l4" and vendor_name else ""
    team = translate(handoff.language, TEAM_NAMES[tier]) + vendor
    _tell_waiting(
        session, handoff, translate(handoff.language, ESCALATED_TEXT, number=handoff.number, team=team)
    )
    return handoff


def resolve(session: Session, handoff: Handoff, agent: User, resolution: str, return_to_bot: bool) -> Handoff:
    require_holder(handoff, agent)
    handoff.status = "resolved"
    handoff.resolution = resolution
    handoff.resolved_at = utcnow()
    handoff.returned_to_bot = return_to_bot
    if return_to_bot:
        session.add(
            Message(
                handoff_id=handoff.id,
                role="bot",
                text=translate(handoff.language, RETURN_TO_BOT_TEXT),
                author_name="assistant",
            )
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
    history.record(
        session, handoff, "handoff.resolved", history.actor_name(agent), return_to_bot=return_to_bot
    )
    return handoff


def append_customer_message(
    session: Session, handoff: Handoff, role: str, text: str, at: datetime, source_key: str
) -> Message | None:
    if repository.has_line(session, handoff.id, source_key):
        return None
    message = Message(handoff_id=handoff.id, role=role, text=text, at=at, source_key=source_key)
    session.add(message)
    session.flush()
    history.record(
        session, handoff, f"message.{role}", role if role == "customer" else "bot", message_id=message.id
    )
    return message


def _check_capacity(session: Session, agent: User) -> None:
    if agent.role != "lead" and repository.assigned_count(session, agent) >= agent.capacity:
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
    candidates = repository.writes_for(session).claim_candidates(session, query)
    for handoff_id in candidates:
        handoff = repository.get(session, handoff_id)
        try:
            with session.begin_nested():
                return claim(session, handoff, agent)
        except Conflict:
            continue  # someone else won this one; try the next
    raise NotFound(
        f"no waiting handoff in the {tier} queue" + (" for your skills" if agent.tier_skills else "")
    )


def transfer(session: Session, handoff: Handoff, agent: User, to: User) -> Handoff:
    require_holder(handoff, agent)
    if to.role not in (handoff.tier, "lead") or not to.active:
        raise Invalid(f"agent: {to.name} is not an active {handoff.tier} agent")
    _check_capacity(session, to)
    handoff.assignee_id = to.id
    session.flush()
    session.refresh(handoff)
    history.record(session, handoff, "handoff.transferred", history.actor_name(agent), assignee=to.name)
    return handoff


def release(session: Session, handoff: Handoff, agent: User) -> Handoff:
    require_holder(handoff, agent)
    handoff.status = "waiting"
    handoff.assignee_id = None
    session.flush()
    session.refresh(handoff)
    history.record(session, handoff, "handoff.released", history.actor_name(agent))
    team = translate(handoff.language, TEAM_NAMES[handoff.tier])
    _tell_waiting(
        session, handoff, translate(handoff.language, RELEASED_TEXT, number=handoff.number, team=team)
    )
    return handoff


def _tell_waiting(session: Session, handoff: Handoff, text: str) -> None:
    """The customer's handoff waits in a queue again (escalated, released): a line in the transcript, and
    the same words through the outbox to the customer's channel, with the ticket and its place in the queue,
    so that a widget shows them waiting instead of with the engineer who left. `helpdesk_message_id` makes
    it what an engineer's reply is to the broker consumer (an echo, not a customer line) and to the widget
    (caught up by `GET /api/v1/widget/replies` when it was away)."""
    position, _online = repository.queue_figures(session, handoff)
    line = Message(
        handoff_id=handoff.id,
        role="bot",
        text=text,
        author_name="assistant",
        source_key=f"{NOTICE_KEY_PREFIX}{uuid.uuid4().hex}",
    )
    session.add(line)
    session.flush()
    queued = {"ticket": handoff.number, "tier": handoff.tier, "queue_position": position}
    session.add(
        OutboxItem(
            handoff_id=handoff.id,
            conversation_id=handoff.conversation_id,
            events=[
                {
                    "event": "bot",
                    "text": text,
                    "metadata": {"helpdesk_message_id": line.id, "handoff": queued},
                }
            ],
        )
    )


def reopenable(session: Session, conversation_id: str, within_days: int) -> Handoff | None:
    """The conversation's latest handoff if it was resolved recently and not handed back to the bot."""
    latest = repository.latest_for_conversation(session, conversation_id)
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
    history.record(session, handoff, "handoff.reopened", "customer")
    return handoff
