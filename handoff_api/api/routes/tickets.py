"""What the bot may tell a customer about their tickets: status, tier and last update only.

A ticket is answered only for the conversation that opened it (`conversation_id` is required and
compared); any other ticket number is 404, whether it exists or not.
"""

import re
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import func, select

from handoff_api.api.deps import CurrentBot, MailerDep, SessionDep
from handoff_api.core.errors import Invalid, NotFound
from handoff_api.feedback import followups as followup_mail
from handoff_api.feedback import schemas
from handoff_api.handoffs import history as events
from handoff_api.mail.sender import MailUnavailable
from handoff_api.models import FollowUp, Handoff

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

TICKET = re.compile(r"^\s*(?:HD)?[-\s#]?0*(\d{1,9})\s*$", re.IGNORECASE)
ConversationId = Annotated[str, Query(min_length=1, max_length=200)]


def ticket_id(number: str) -> int:
    """`HD-01001` (or `hd 1001`, `1001`) -> handoff id 1."""
    match = TICKET.match(number)
    if match is None or int(match.group(1)) <= 1000:
        raise Invalid("number: a ticket number looks like HD-01001")
    return int(match.group(1)) - 1000


def _status(handoff: Handoff) -> schemas.TicketStatus:
    return schemas.TicketStatus(
        number=handoff.number, status=handoff.status, tier=handoff.tier, updated_at=handoff.updated_at
    )


def _owned(session: SessionDep, number: str, conversation_id: str) -> Handoff:
    handoff = session.get(Handoff, ticket_id(number))
    if handoff is None or handoff.conversation_id != conversation_id:
        raise NotFound(f"no ticket {number.strip().upper()} belongs to this conversation")
    return handoff


@router.get("", response_model=schemas.TicketList)
def list_tickets(
    session: SessionDep, _bot: CurrentBot, conversation_id: ConversationId
) -> schemas.TicketList:
    rows = session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())
        .limit(20)
    )
    return schemas.TicketList(tickets=[_status(handoff) for handoff in rows])


@router.get("/{number}", response_model=schemas.TicketStatus)
def read_ticket(
    number: str, session: SessionDep, _bot: CurrentBot, conversation_id: ConversationId
) -> schemas.TicketStatus:
    return _status(_owned(session, number, conversation_id))


@router.post("/{number}/follow-up", response_model=schemas.FollowUpOut, status_code=status.HTTP_201_CREATED)
def request_follow_up(
    number: str, body: schemas.FollowUpIn, session: SessionDep, bot: CurrentBot, mailer: MailerDep
) -> schemas.FollowUpOut:
    """The customer wants e-mail about a ticket while nobody is online: recorded on the handoff
    (`context.email_follow_up`, `customer.email` when unknown, a history entry) and confirmed by mail.
    From then on the engineers' replies are mailed to that address too (feedback/followups.py);
    asking again for the same address changes nothing about what is mailed."""
    handoff = _owned(session, number, body.conversation_id)
    email = str(body.email)
    known = session.scalar(
        select(FollowUp.id).where(
            FollowUp.handoff_id == handoff.id, func.lower(FollowUp.email) == email.lower()
        )
    )
    if known is None:
        session.add(
            FollowUp(
                handoff_id=handoff.id,
                conversation_id=body.conversation_id,
                email=email,
                mailed_through=followup_mail.last_message_id(session, handoff.id),
            )
        )
    handoff.context = {**handoff.context, "email_follow_up": email}
    if not handoff.customer.get("email"):
        handoff.customer = {**handoff.customer, "email": email}
    events.record(session, handoff, "followup.requested", events.actor_name(bot), email=email)
    try:
        mailer.send(
            session,
            email,
            f"Your IT help desk ticket {handoff.number}",
            f"Hello,\n\nwe have your request {handoff.number}. An engineer will answer in the chat and "
            "by e-mail to this address as soon as one is available.\n",
        )
        sent = True
    except MailUnavailable:
        sent = False
    return schemas.FollowUpOut(number=handoff.number, email=email, confirmation_sent=sent)
