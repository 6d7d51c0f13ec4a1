"""Mails the engineers' replies (and the desk's notices that the ticket waits in a queue again: escalated,
released) to the customers who asked for e-mail follow-up on a ticket.

A customer who leaves their address (`POST /api/v1/tickets/{number}/follow-up`, asked by the bot when no
engineer is online) was promised the answer in the chat and by e-mail. One mail per follow-up gathers the
replies written since its last mail: a follow-up is mailed once its newest unmailed reply is
`quiet_seconds` old, so an engineer writing three lines in a row sends one mail, not three. Its
`mailed_through` moves past those replies in the transaction that records the mail; a mail the server
refuses leaves it where it was, to be retried with backoff. At least once: a crash after the mail server
took a mail and before the commit mails those replies again. Bodies are never logged.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.i18n import translate
from handoff_api.handoffs import history as events
from handoff_api.mail.sender import Mailer, MailUnavailable
from handoff_api.models import SENT_BY_THE_DESK, FollowUp, Handoff, Message, utcnow

log = structlog.get_logger(__name__)
FOLLOWUPS_PER_PASS = 100
REPLIES_PER_MAIL = 50
RETRY_FIRST_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
DESK = "IT help desk"  # the author of the desk's own notices


@dataclass(frozen=True)
class Reply:
    id: int
    author: str
    at: datetime
    text: str


def last_message_id(session: Session, handoff_id: int) -> int:
    """Where a new follow-up starts: after every line already on the handoff."""
    return session.scalar(select(func.max(Message.id)).where(Message.handoff_id == handoff_id)) or 0


def retry_seconds(attempts: int) -> float:
    return float(min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0)))


def _due(session: Session, now: datetime, quiet_seconds: float) -> list[int]:
    """Follow-ups with replies to mail whose newest is quiet_seconds old, and no retry pending."""
    newest = func.max(Message.at)
    return list(
        session.scalars(
            select(FollowUp.id)
            .join(
                Message,
                (Message.handoff_id == FollowUp.handoff_id)
                & (Message.id > FollowUp.mailed_through)
                & SENT_BY_THE_DESK,
            )
            .where(or_(FollowUp.mail_retry_at.is_(None), FollowUp.mail_retry_at <= now))
            .group_by(FollowUp.id)
            .having(newest <= now - timedelta(seconds=quiet_seconds))
            .order_by(FollowUp.id)
            .limit(FOLLOWUPS_PER_PASS)
        )
    )


def _replies(session: Session, followup: FollowUp) -> list[Reply]:
    rows = session.execute(
        select(Message.id, Message.role, Message.author_name, Message.at, Message.text)
        .where(
            Message.handoff_id == followup.handoff_id,
            Message.id > followup.mailed_through,
            SENT_BY_THE_DESK,
        )
        .order_by(Message.id)
        .limit(REPLIES_PER_MAIL)
    )
    return [
        Reply(row.id, (row.author_name or "An engineer") if row.role == "agent" else DESK, row.at, row.text)
        for row in rows
    ]


MAIL_SUBJECT = "Re: Your IT help desk ticket {number}"
MAIL_GREETING = "Hello,"
MAIL_ANSWERED = "an engineer answered your IT help desk request {number}:"
MAIL_NEWS = "there is news on your IT help desk request {number}:"
MAIL_FOOTER = (
    "To answer, write in the chat on the help desk's page, where the conversation goes on, or give the\n"
    "assistant your ticket number {number}. Replies to this e-mail are not read."
)


def compose(number: str, replies: list[Reply], language: str = "en") -> tuple[str, str]:
    """The subject and plain-text body of one follow-up mail, in the conversation's language."""
    news = MAIL_ANSWERED if any(reply.author != DESK for reply in replies) else MAIL_NEWS
    lines = [translate(language, MAIL_GREETING), "", translate(language, news, number=number), ""]
    for reply in replies:
        author = translate(language, reply.author) if reply.author == DESK else reply.author
        lines.append(f"{author}, {reply.at:%Y-%m-%d %H:%M} UTC:")
        lines += [f"  {line}" for line in reply.text.splitlines() or [""]]
        lines.append("")
    lines.append(translate(language, MAIL_FOOTER, number=number))
    return translate(language, MAIL_SUBJECT, number=number), "\n".join(lines) + "\n"


def _mail_one(session: Session, mailer: Mailer, followup: FollowUp, now: datetime) -> bool | None:
    """True: mailed; False: the mail system refused it; None: nothing to mail."""
    replies = _replies(session, followup)
    handoff = session.get(Handoff, followup.handoff_id)
    if not replies or handoff is None:
        return None
    subject, body = compose(handoff.number, replies, handoff.language)
    try:
        mailer.send(session, followup.email, subject, body)
    except MailUnavailable as exc:
        followup.mail_attempts += 1
        followup.mail_retry_at = now + timedelta(seconds=retry_seconds(followup.mail_attempts))
        followup.last_error = str(exc)[:1000]
        log.warning(
            "followup_mail.failed", followup=followup.id, attempts=followup.mail_attempts, error=str(exc)
        )
        return False
    followup.mailed_through = replies[-1].id
    followup.mail_attempts = 0
    followup.mail_retry_at = None
    followup.last_error = None
    events.record(session, handoff, "followup.mailed", "system", email=followup.email, replies=len(replies))
    log.info("followup_mail.sent", followup=followup.id, handoff=handoff.id, replies=len(replies))
    return True


def mail_due(
    factory: sessionmaker[Session], mailer: Mailer, quiet_seconds: float, now: datetime | None = None
) -> int:
    """One pass; returns how many mails went out. Each follow-up in a transaction of its own. The first
    refusal ends the pass: a mail server that is down costs one timeout per pass, not one per follow-up,
    and the refused follow-up waits for its retry time, so one bad address holds up the others once."""
    now = now or utcnow()
    with factory() as session:
        due = _due(session, now, quiet_seconds)
    mailed = 0
    for followup_id in due:
        with factory() as session, session.begin():
            followup = session.get(FollowUp, followup_id)
            outcome = None if followup is None else _mail_one(session, mailer, followup, now)
        if outcome is False:
            break
        mailed += outcome is True
    return mailed
