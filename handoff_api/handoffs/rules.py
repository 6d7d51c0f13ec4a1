"""Who may act on a handoff, written once, in the two forms the code needs.

- `may_reply`: the condition as SQL, for the busiest writes (a reply), which check it in the statement
  that writes and so never read the handoff first; a write that finds no row is then explained by:
- `refusal`: the same rule in Python, with the reason a person can act on (409), for every other action
  and for the explanation. The tier rule (a tier acts on its own queue, a lead on all) comes first, as
  `visible_tiers`; tests/service/handoffs/test_rules.py checks that both forms agree on every case.
"""

from typing import Any, Protocol

from sqlalchemy import Boolean, and_, bindparam, or_
from sqlalchemy.sql import ColumnElement

from handoff_api.core.errors import Conflict
from handoff_api.models.vocabulary import TIERS, Tier


class Agent(Protocol):
    id: int
    role: str


class HeldHandoff(Protocol):
    status: str
    assignee_id: int | None

    @property
    def number(self) -> str: ...


def visible_tiers(agent: Agent) -> tuple[Tier, ...] | tuple[str, ...]:
    """A tier sees and acts on its own queue; a lead on all."""
    return TIERS if agent.role == "lead" else (agent.role,)


def may_reply(handoffs: Any) -> ColumnElement[bool]:
    """The rows of `handoffs` (a table or a CTE of it) the agent may write into, by bind parameters:
    `tiers` (the agent's visible tiers), `lead` (the agent is a lead), `agent_id`."""
    return and_(
        handoffs.c.tier.in_(bindparam("tiers", expanding=True)),
        handoffs.c.status != "resolved",
        or_(bindparam("lead", type_=Boolean), handoffs.c.assignee_id == bindparam("agent_id")),
    )


def may_reply_params(agent: Agent) -> dict[str, Any]:
    return {"tiers": list(visible_tiers(agent)), "lead": agent.role == "lead", "agent_id": agent.id}


def refusal(handoff: HeldHandoff, agent: Agent, holder_name: str | None) -> Conflict | None:
    """Why `agent` may not act on `handoff` (of a tier they see), or None when they may: it is resolved,
    or somebody else (or nobody) holds it and the agent is not a lead."""
    if handoff.status == "resolved":
        return Conflict(f"handoff {handoff.number} is resolved")
    if agent.role == "lead" or handoff.assignee_id == agent.id:
        return None
    if holder_name is not None:
        return Conflict(f"handoff {handoff.number} is held by {holder_name}")
    return Conflict(f"claim handoff {handoff.number} first")
