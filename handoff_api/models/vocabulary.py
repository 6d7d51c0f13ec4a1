"""The help desk's words, written once: tiers, roles, statuses, priorities, reasons, and their orders.

Literal types, so that the API's schemas and the OpenAPI document list the allowed values, and so that
mypy checks every place that names one.
"""

from typing import Literal, get_args

Tier = Literal["l2", "l3", "l4"]
Role = Literal["bot", "l2", "l3", "l4", "lead", "editor"]
Priority = Literal["p1", "p2", "p3", "p4"]
# Impact and urgency, from which a priority is read (ITIL's matrix, handoffs/sla.py).
Level = Literal["high", "medium", "low"]
Status = Literal["waiting", "assigned", "resolved"]
Presence = Literal["online", "away", "offline"]
# The languages a conversation is held in (everything the customer reads follows it).
Language = Literal["en", "de"]
Reason = Literal[
    "customer_request",
    "low_confidence",
    "kb_no_answer",
    "flow_failed",
    "identity_verification_failed",
    "action_failed",
    "action_server_unavailable",
    "reported_issue",
    "security_incident",
]

TIERS: tuple[Tier, ...] = get_args(Tier)
ROLES: tuple[Role, ...] = get_args(Role)
# Who works handoffs: the tiers' agents and the leads, who may act on every tier.
AGENT_ROLES: tuple[Role, ...] = ("l2", "l3", "l4", "lead")
# Escalation goes up this order: L2 -> L3 -> L4 (the vendor).
TIER_ORDER: dict[str, int] = {"l2": 2, "l3": 3, "l4": 4}

OPEN_STATUSES: tuple[Status, ...] = ("waiting", "assigned")
# The predicate of the one-open-handoff-per-conversation index (also what INSERT ... ON CONFLICT names).
OPEN_INDEX_WHERE = "status IN ('waiting', 'assigned')"


def ticket_number(handoff_id: int) -> str:
    """What customers and agents call a handoff: HD-01001."""
    return f"HD-{handoff_id + 1000:05d}"
