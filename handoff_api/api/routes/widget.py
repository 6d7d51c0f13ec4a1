"""What the chat widget fetches from the service: the engineers' replies it may have missed.

Rasa pushes an engineer's reply only to a widget that is connected at that moment: a customer who closed
the tab, or whose network dropped, would never see it. On every (re)connection the widget asks here for
the replies after the last one it has and shows those it lacks (they carry the `helpdesk_message_id` the
live messages carry), and with them the help desk's notices that the ticket waits in a queue again
(escalated, released: no engineer, and the ticket and tier). No token: the widget's conversation id, 128
random bits that only that browser holds, is the key, as it is for Rasa's socket.io channel. Only widget
conversations (channel `socketio`, an id of the widget's form) are answered, so that a messenger's
guessable sender id reads nothing.
`open` says whether an engineer still has the conversation, and `handed_back` how the last handoff ended
when it ended with a hand-back to the bot, for a widget that missed it (it shows the line then, and the
bot's rating question while no rating of that handoff is stored); `more`, that replies follow the last one
of this answer (at most 50 come at once).
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from handoff_api.api.deps import SessionDep
from handoff_api.core.i18n import translate
from handoff_api.handoffs.schemas import (
    WidgetChoice,
    WidgetEngineer,
    WidgetHandBack,
    WidgetQuestion,
    WidgetQueued,
    WidgetReplies,
    WidgetReply,
)
from handoff_api.handoffs.service import RETURN_TO_BOT_TEXT
from handoff_api.models import OPEN_STATUSES, SENT_BY_THE_DESK, Handoff, Message, Rating, User, ticket_number

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])

WIDGET_CONVERSATION = r"^[0-9a-f]{32}$"
REPLIES_PER_ANSWER = 50
# The bot's `utter_ask_rating_engineer` (bot/domain.yml), word for word in the conversation's language: its
# `rate` intent stores the answer for the handoff it asked about (the `rating_for` slot it set then).
RATING_QUESTION = (
    "How happy are you with the help on {ticket_number}? Please rate it from 1 (poor) to 5 (great)."
)


def rating_question(language: str, ticket: str) -> WidgetQuestion:
    return WidgetQuestion(
        text=translate(language, RATING_QUESTION, ticket_number=ticket),
        quick_replies=[WidgetChoice(title=str(n), payload=f'/rate{{"rating": "{n}"}}') for n in range(1, 6)],
    )


@router.get("/replies", response_model=WidgetReplies)
def missed_replies(
    session: SessionDep,
    response: Response,
    conversation_id: Annotated[
        str, Query(pattern=WIDGET_CONVERSATION, description="the widget's session id (32 hex digits)")
    ],
    after: Annotated[int, Query(ge=0, le=2**62, description="the last reply id the widget has")] = 0,
) -> WidgetReplies:
    # Any page may embed the widget; the answer is the same for every origin and sets no cookie.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    rows = session.execute(
        select(
            Message.id,
            Message.text,
            Message.at,
            Message.author_name,
            Message.role,
            User.role,
            Handoff.id,
            Handoff.tier,
        )
        .join(Handoff, Handoff.id == Message.handoff_id)
        .outerjoin(User, User.id == Message.author_id)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.channel == "socketio",
            SENT_BY_THE_DESK,
            Message.id > after,
        )
        .order_by(Message.id)
        .limit(REPLIES_PER_ANSWER + 1)
    ).all()
    last = session.execute(
        select(Handoff.id, Handoff.status, Handoff.returned_to_bot, Handoff.resolved_at, Handoff.language)
        .where(Handoff.conversation_id == conversation_id, Handoff.channel == "socketio")
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()
    is_open = last is not None and last.status in OPEN_STATUSES
    handed_back = None
    if last is not None and not is_open and last.returned_to_bot and last.resolved_at is not None:
        rated = session.scalar(select(Rating.id).where(Rating.handoff_id == last.id).limit(1))
        handed_back = WidgetHandBack(
            ticket=ticket_number(last.id),
            at=last.resolved_at,
            text=translate(last.language, RETURN_TO_BOT_TEXT),
            rating=rating_question(last.language, ticket_number(last.id)) if rated is None else None,
        )
    return WidgetReplies(
        open=is_open,
        handed_back=handed_back,
        more=len(rows) > REPLIES_PER_ANSWER,
        replies=[_reply(*row) for row in rows[:REPLIES_PER_ANSWER]],
    )


def _reply(
    message_id: int,
    text: str,
    at: datetime,
    author_name: str | None,
    said_by: str,
    agent_role: str | None,
    handoff_id: int,
    tier: str,
) -> WidgetReply:
    if said_by == "agent":
        engineer = WidgetEngineer(name=author_name or "Engineer", tier=agent_role or "")
        return WidgetReply(id=message_id, text=text, at=at, agent=engineer)
    # The help desk's notice that the ticket waits in a queue again: where, not at which place any more.
    queued = WidgetQueued(ticket=ticket_number(handoff_id), tier=tier, queue_position=None)
    return WidgetReply(id=message_id, text=text, at=at, agent=None, handoff=queued)
