"""Who may reply in a handoff: the SQL form (the busiest writes) and the Python form (every other action,
and the explanation) agree on every case, on the real handoffs table."""

import itertools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, insert, select

from handoff_api.handoffs import rules
from handoff_api.models import HANDOFFS, Base
from handoff_api.models.vocabulary import ROLES, TIERS, ticket_number

AGENT_ID = 7
OTHER_ID = 8


@dataclass
class _Agent:
    id: int
    role: str


@dataclass
class _Handoff:
    id: int
    tier: str
    status: str
    assignee_id: int | None

    @property
    def number(self) -> str:
        return ticket_number(self.id)


def test_the_sql_and_the_python_rule_agree_on_every_case() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    cases = list(itertools.product(TIERS, ("waiting", "assigned", "resolved"), (None, AGENT_ID, OTHER_ID)))
    now = datetime(2026, 12, 7, 12, 0)
    with engine.begin() as conn:
        for handoff_id, (tier, status, assignee) in enumerate(cases, start=1):
            conn.execute(
                insert(HANDOFFS).values(
                    id=handoff_id,
                    conversation_id=f"c{handoff_id}",
                    channel="socketio",
                    tier=tier,
                    status=status,
                    priority="p3",
                    reason="customer_request",
                    customer={},
                    context={},
                    assignee_id=assignee,
                    transcript_cutoff=0.0,
                    created_at=now,
                    updated_at=now,
                    first_response_due=now,
                    resolution_due=now,
                    returned_to_bot=False,
                    breaches_announced=[],
                    reopened_count=0,
                )
            )
    agent_roles = [role for role in ROLES if role not in ("bot", "editor")]
    checked = 0
    with engine.connect() as conn:
        for role in agent_roles:
            agent = _Agent(AGENT_ID, role)
            allowed_by_sql = set(
                conn.scalars(
                    select(HANDOFFS.c.id).where(rules.may_reply(HANDOFFS)), rules.may_reply_params(agent)
                )
            )
            for handoff_id, (tier, status, assignee) in enumerate(cases, start=1):
                handoff = _Handoff(handoff_id, tier, status, assignee)
                holder = None if assignee is None else f"agent {assignee}"
                allowed_in_python = (
                    tier in rules.visible_tiers(agent) and rules.refusal(handoff, agent, holder) is None
                )
                assert (handoff_id in allowed_by_sql) == allowed_in_python, (role, tier, status, assignee)
                checked += 1
    assert checked == len(agent_roles) * len(cases) == 4 * 27
    # And the answers a person reads.
    lead, l2 = _Agent(AGENT_ID, "lead"), _Agent(AGENT_ID, "l2")
    resolved = _Handoff(1, "l2", "resolved", AGENT_ID)
    assert str(rules.refusal(resolved, lead, "x")) == "handoff HD-01001 is resolved"
    held = _Handoff(2, "l2", "assigned", OTHER_ID)
    assert str(rules.refusal(held, l2, "bob")) == "handoff HD-01002 is held by bob"
    assert str(rules.refusal(_Handoff(3, "l2", "waiting", None), l2, None)) == "claim handoff HD-01003 first"
