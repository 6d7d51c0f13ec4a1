"""Every table of the service, one module per feature; migrations import only this package.

`vocabulary` holds the words the tables and the API share (tiers, roles, statuses, priorities, reasons).
"""

from handoff_api.models.audit import AuditEntry
from handoff_api.models.base import Base, utcnow
from handoff_api.models.delivery import OUTBOX, BrokerCursor, DeadLetter, Lease, OutboxItem
from handoff_api.models.feedback import FollowUp, Rating
from handoff_api.models.handoffs import (
    EVENTS,
    HANDOFFS,
    MESSAGES,
    NOTICE_KEY_PREFIX,
    SENT_BY_THE_DESK,
    Handoff,
    HandoffEvent,
    Message,
    Note,
)
from handoff_api.models.identity import SelfServiceLockout, Verification
from handoff_api.models.kb import ArticleRevision, ArticleRow, EmbeddingRow, KbQuery
from handoff_api.models.mail import DevMail
from handoff_api.models.users import USERS, User
from handoff_api.models.vocabulary import OPEN_INDEX_WHERE, OPEN_STATUSES, ticket_number

__all__ = [
    "EVENTS",
    "HANDOFFS",
    "MESSAGES",
    "NOTICE_KEY_PREFIX",
    "OPEN_INDEX_WHERE",
    "OPEN_STATUSES",
    "OUTBOX",
    "SENT_BY_THE_DESK",
    "USERS",
    "ArticleRevision",
    "ArticleRow",
    "AuditEntry",
    "Base",
    "BrokerCursor",
    "DeadLetter",
    "DevMail",
    "EmbeddingRow",
    "FollowUp",
    "Handoff",
    "HandoffEvent",
    "KbQuery",
    "Lease",
    "Message",
    "Note",
    "OutboxItem",
    "Rating",
    "SelfServiceLockout",
    "User",
    "Verification",
    "ticket_number",
    "utcnow",
]
