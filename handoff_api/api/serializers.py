"""Handoff rows to API documents."""

from sqlalchemy.orm import Session

from handoff_api import schemas
from handoff_api.models import Handoff, utcnow
from handoff_api.services import handoffs, sla


def summary(handoff: Handoff) -> schemas.HandoffSummary:
    return schemas.HandoffSummary.model_validate(_summary_fields(handoff))


def _summary_fields(handoff: Handoff) -> dict[str, object]:
    return {
        "id": handoff.id,
        "number": handoff.number,
        "conversation_id": handoff.conversation_id,
        "channel": handoff.channel,
        "tier": handoff.tier,
        "status": handoff.status,
        "priority": handoff.priority,
        "category": handoff.category,
        "reason": handoff.reason,
        "summary": handoff.summary,
        "customer": handoff.customer,
        "assignee": {"id": handoff.assignee.id, "name": handoff.assignee.name} if handoff.assignee else None,
        "sla": {
            "first_response_due": handoff.first_response_due,
            "resolution_due": handoff.resolution_due,
            "breached": sla.breached(handoff, utcnow()),
        },
        "created_at": handoff.created_at,
        "updated_at": handoff.updated_at,
    }


def full(session: Session, handoff: Handoff) -> schemas.HandoffOut:
    # What this request changed must show, including lines and events added after the handoff loaded.
    session.flush()
    session.refresh(handoff, ["assignee", "messages", "notes", "history"])
    return schemas.HandoffOut.model_validate(
        {
            **_summary_fields(handoff),
            "context": handoff.context,
            "transcript": [
                {"role": m.role, "text": m.text, "at": m.at, "author": m.author_name}
                for m in handoff.messages
            ],
            "notes": [{"text": n.text, "author": n.author_name, "at": n.at} for n in handoff.notes],
            "history": [
                {"kind": e.kind, "actor": e.actor, "at": e.at, "tier": e.tier, "detail": e.detail}
                for e in handoff.history
            ],
            "resolution": handoff.resolution,
            "vendor_name": handoff.vendor_name,
            "vendor_case": handoff.vendor_case,
            "reopened_count": handoff.reopened_count,
            "queue_position": handoffs.queue_position(session, handoff),
            "agents_online": handoffs.agents_online(session, handoff.tier),
        }
    )
