"""Operations endpoints for leads: the daily report and the audit log."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from handoff_api.api.deps import SessionDep, SettingsDep, require_roles
from handoff_api.core.errors import Invalid
from handoff_api.models import User, utcnow
from handoff_api.ops import audit, reports

router = APIRouter(prefix="/api/v1", tags=["operations"])
CurrentLead = Annotated[User, Depends(require_roles("lead"))]


@router.get("/reports/daily", response_model=reports.DailyReport)
def daily_report(
    session: SessionDep,
    settings: SettingsDep,
    _lead: CurrentLead,
    from_: Annotated[date | None, Query(alias="from", description="first day (UTC), default to - 6")] = None,
    to: Annotated[date | None, Query(description="last day (UTC), inclusive; default today")] = None,
) -> reports.DailyReport:
    """Per UTC day from `from` to `to` (inclusive, at most 92 days):

    - `handed_over`: distinct conversation ids of handoffs created that day.
    - `bot_conversations`: distinct Rasa sender ids with at least one customer (`user`) event that day in
      Rasa's SQL event broker (null when the broker database cannot be read; see
      `bot_conversations_source`).
    - `conversations`: the union of both sets; `contained` = conversations of the day with no handoff
      created that day; `containment_rate` = contained / conversations (null when unknown or 0).
    - `escalations`: `entered_l2` / `entered_l3` = handoffs created in that tier plus escalations into it
      that day (`handoff_events` kinds `handoff.created`, `handoff.escalated`); `l2_to_l3` / `l3_to_l4` =
      `handoff.escalated` events that day with `detail.from_tier` l2 / l3 and tier l3 / l4; the rates are
      those counts divided by the entered counts of the lower tier.
    - `first_human_response`: handoffs created that day that have an agent's first message:
      `first_response_at - created_at`, count, mean and median in seconds.
    - `time_to_resolve`: handoffs resolved that day: `resolved_at - created_at`, count, mean, median.
    - `satisfaction`: ratings (1-5) given that day: count and average.
    - `kb_questions` / `kb_unanswered`: the bot's knowledge-base searches that day, and those where the
      search abstained (table `kb_queries`, `asked_by = bot`).

    The same definitions, with caveats, are in docs/reports.md.
    """
    last = to or utcnow().date()
    first = from_ or last - timedelta(days=6)
    if first > last:
        raise Invalid("from: must be on or before to")
    if (last - first).days + 1 > reports.MAX_DAYS:
        raise Invalid(f"from: at most {reports.MAX_DAYS} days per report")
    return reports.daily(session, first, last, settings.events_db_url)


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@router.get("/audit", response_model=list[AuditEntryOut])
def audit_log(
    session: SessionDep,
    _lead: CurrentLead,
    action: Annotated[str | None, Query(max_length=50)] = None,
    target: Annotated[str | None, Query(max_length=150)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryOut]:
    """User and token administration, newest first: who (`actor`), when, `action`, `target` user."""
    return [
        AuditEntryOut(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, detail=e.detail)
        for e in audit.entries(session, limit=limit, action=action, target=target)
    ]
