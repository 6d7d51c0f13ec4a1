"""Export and erasure of one customer's data, by conversation id or by e-mail address.

What a conversation leaves behind in the service: its handoffs (summary, customer, bot context,
resolution), their transcript lines, engineers' notes and history, ratings, e-mail follow-up requests,
identity verifications, outbox items, broker dead letters, and mail in the dev mailbox; in Rasa's
stores, the tracker's (or the SQL broker's) `events` rows of the sender id. Erasure keeps each handoff's
row for the figures (tier, status, priority, times) and empties everything said in it: the reports and
ticket numbers stay, the person does not.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, MetaData, Table, case, delete, func, select, update
from sqlalchemy.exc import NoSuchTableError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from handoff_api.core.db import changed_rows
from handoff_api.models import (
    DeadLetter,
    DevMail,
    FollowUp,
    Handoff,
    HandoffEvent,
    KbQuery,
    Message,
    Note,
    OutboxItem,
    Rating,
    Verification,
)

ERASED = "[erased]"


def conversations_of(session: Session, email: str) -> list[str]:
    """The conversations a person is known in by e-mail address: as a handoff's customer, or as the
    address a follow-up was asked to."""
    address = email.strip().lower()
    by_handoff = session.scalars(
        select(Handoff.conversation_id).where(func.lower(Handoff.customer["email"].as_string()) == address)
    )
    by_followup = session.scalars(
        select(FollowUp.conversation_id).where(func.lower(FollowUp.email) == address)
    )
    return sorted(set(by_handoff) | set(by_followup))


def export(session: Session, conversation_ids: Iterable[str], email: str | None = None) -> dict[str, Any]:
    """Everything stored about these conversations (and mail to `email`), as JSON-ready data."""
    ids = sorted(set(conversation_ids))
    handoffs = list(session.scalars(select(Handoff).where(Handoff.conversation_id.in_(ids))))
    out: dict[str, Any] = {"conversations": ids, "handoffs": []}
    for handoff in handoffs:
        out["handoffs"].append(
            {
                "number": handoff.number,
                "conversation_id": handoff.conversation_id,
                "channel": handoff.channel,
                "status": handoff.status,
                "created_at": _time(handoff.created_at),
                "summary": handoff.summary,
                "customer": handoff.customer,
                "context": handoff.context,
                "resolution": handoff.resolution,
                "transcript": [
                    {"role": m.role, "text": m.text, "at": _time(m.at), "author": m.author_name}
                    for m in handoff.messages
                ],
                "notes": [
                    {"text": n.text, "author": n.author_name, "at": _time(n.at)} for n in handoff.notes
                ],
            }
        )
    out["ratings"] = [
        {
            "conversation_id": r.conversation_id,
            "rating": r.rating,
            "comment": r.comment,
            "at": _time(r.created_at),
        }
        for r in session.scalars(select(Rating).where(Rating.conversation_id.in_(ids)))
    ]
    out["follow_ups"] = [
        {"conversation_id": f.conversation_id, "email": f.email}
        for f in session.scalars(select(FollowUp).where(FollowUp.conversation_id.in_(ids)))
    ]
    out["verifications"] = [
        {
            "conversation_id": v.conversation_id,
            "account": v.account,
            "status": v.status,
            "at": _time(v.created_at),
        }
        for v in session.scalars(select(Verification).where(Verification.conversation_id.in_(ids)))
    ]
    if email:
        out["mail"] = [
            {"to": m.to, "subject": m.subject, "sent_at": _time(m.sent_at)}
            for m in session.scalars(select(DevMail).where(func.lower(DevMail.to) == email.strip().lower()))
        ]
    return out


def erase(session: Session, conversation_ids: Iterable[str], email: str | None = None) -> dict[str, int]:
    """Deletes or empties what these conversations (and mail to `email`) left; returns counts per kind."""
    ids = sorted(set(conversation_ids))
    handoff_ids = list(session.scalars(select(Handoff.id).where(Handoff.conversation_id.in_(ids))))
    counts = {
        "handoffs": len(handoff_ids),
        "transcript_lines": _deleted(session, delete(Message).where(Message.handoff_id.in_(handoff_ids))),
        "notes": _deleted(session, delete(Note).where(Note.handoff_id.in_(handoff_ids))),
        "outbox_items": _deleted(session, delete(OutboxItem).where(OutboxItem.conversation_id.in_(ids))),
        "ratings": _deleted(session, delete(Rating).where(Rating.conversation_id.in_(ids))),
        "follow_ups": _deleted(session, delete(FollowUp).where(FollowUp.conversation_id.in_(ids))),
        "verifications": _deleted(session, delete(Verification).where(Verification.conversation_id.in_(ids))),
        "dead_letters": _deleted(session, delete(DeadLetter).where(DeadLetter.conversation_id.in_(ids))),
    }
    if handoff_ids:
        session.execute(
            update(Handoff)
            .where(Handoff.id.in_(handoff_ids))
            .values(summary=ERASED, customer={}, context={}, resolution=None, vendor_case=None)
        )
        # The history keeps who did what and when; its details may quote the customer.
        session.execute(
            update(HandoffEvent).where(HandoffEvent.handoff_id.in_(handoff_ids)).values(detail={})
        )
    if email:
        counts["mail"] = _deleted(
            session, delete(DevMail).where(func.lower(DevMail.to) == email.strip().lower())
        )
    return counts


def erase_from_rasa(engine: Engine, conversation_ids: Iterable[str]) -> int:
    """Deletes the sender ids' rows from Rasa's `events` table (tracker store or SQL event broker)."""
    ids = sorted(set(conversation_ids))
    try:
        table = Table("events", MetaData(), autoload_with=engine)
    except (NoSuchTableError, OperationalError, ProgrammingError):
        return 0
    with engine.begin() as conn:
        return int(conn.execute(delete(table).where(table.c.sender_id.in_(ids))).rowcount or 0)


def _deleted(session: Session, statement: Any) -> int:
    return changed_rows(session.execute(statement))


def _time(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def expired_conversations(session: Session, cutoff: datetime) -> list[str]:
    """Conversations whose every handoff was resolved before `cutoff` and that still hold what was said."""
    still_held = func.sum(case((Handoff.summary.is_(None) | (Handoff.summary != ERASED), 1), else_=0))
    open_count = func.sum(case((Handoff.resolved_at.is_(None), 1), else_=0))
    return list(
        session.scalars(
            select(Handoff.conversation_id)
            .group_by(Handoff.conversation_id)
            .having(open_count == 0, func.max(Handoff.resolved_at) < cutoff, still_held > 0)
        )
    )


def apply_retention(session: Session, cutoff: datetime) -> tuple[list[str], dict[str, int]]:
    """Erases what is older than `cutoff`: the conversations whose handoffs were all resolved before it,
    and, by their own age, verifications, the bot's search log, dead letters, dev mail and rating
    comments (the ratings stay for the reports). Returns the erased conversations and counts."""
    expired = expired_conversations(session, cutoff)
    counts = erase(session, expired) if expired else {}
    counts["old_verifications"] = _deleted(
        session, delete(Verification).where(Verification.created_at < cutoff)
    )
    counts["old_searches"] = _deleted(session, delete(KbQuery).where(KbQuery.at < cutoff))
    counts["old_dead_letters"] = _deleted(session, delete(DeadLetter).where(DeadLetter.at < cutoff))
    counts["old_mail"] = _deleted(session, delete(DevMail).where(DevMail.sent_at < cutoff))
    counts["old_rating_comments"] = changed_rows(
        session.execute(
            update(Rating).where(Rating.created_at < cutoff, Rating.comment.is_not(None)).values(comment=None)
        )
    )
    return expired, counts


def expire_in_rasa(engine: Engine, conversation_ids: Iterable[str], cutoff: datetime) -> int:
    """Rasa's side of retention: the expired conversations' rows, and (a tracker store's table has a
    `timestamp` column) every row older than `cutoff`."""
    removed = erase_from_rasa(engine, conversation_ids)
    try:
        table = Table("events", MetaData(), autoload_with=engine)
    except (NoSuchTableError, OperationalError, ProgrammingError):
        return removed
    if "timestamp" not in table.c:
        return removed
    epoch = (cutoff - datetime(1970, 1, 1)).total_seconds()
    with engine.begin() as conn:
        return removed + int(conn.execute(delete(table).where(table.c.timestamp < epoch)).rowcount or 0)
