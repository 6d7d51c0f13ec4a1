"""What the chat widget fetches from the service: the engineers' replies it may have missed.

Rasa pushes an engineer's reply only to a widget that is connected at that moment: a customer who closed
the tab, or whose network dropped, would never see it. On every (re)connection the widget asks here for
the replies after the last one it has and shows those it lacks (they carry the `helpdesk_message_id` the
live messages carry). No token: the widget's conversation id, 128 random bits that only that browser
holds, is the key, as it is for Rasa's socket.io channel. Only widget conversations (channel `socketio`,
an id of the widget's form) are answered, so that a messenger's guessable sender id reads nothing.
`open` says whether an engineer still has the conversation, for a widget that missed the hand-back;
`more`, that replies follow the last one of this answer (at most 50 come at once).
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from handoff_api.api.deps import SessionDep
from handoff_api.models import OPEN_STATUSES, Handoff, Message, User
from handoff_api.schemas import WidgetEngineer, WidgetReplies, WidgetReply

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])

WIDGET_CONVERSATION = r"^[0-9a-f]{32}$"
REPLIES_PER_ANSWER = 50


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
        select(Message.id, Message.text, Message.at, Message.author_name, User.role)
        .join(Handoff, Handoff.id == Message.handoff_id)
        .outerjoin(User, User.id == Message.author_id)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.channel == "socketio",
            Message.role == "agent",
            Message.id > after,
        )
        .order_by(Message.id)
        .limit(REPLIES_PER_ANSWER + 1)
    ).all()
    open_handoff = session.scalar(
        select(Handoff.id).where(
            Handoff.conversation_id == conversation_id,
            Handoff.channel == "socketio",
            Handoff.status.in_(OPEN_STATUSES),
        )
    )
    return WidgetReplies(
        open=open_handoff is not None,
        more=len(rows) > REPLIES_PER_ANSWER,
        replies=[
            WidgetReply(
                id=row.id,
                text=row.text,
                at=row.at,
                agent=WidgetEngineer(name=row.author_name or "Engineer", tier=row.role or ""),
            )
            for row in rows[:REPLIES_PER_ANSWER]
        ],
    )
