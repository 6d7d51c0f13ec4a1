"""The audit log of user and token administration: who did what to which user, when."""

import getpass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_api.models.audit import AuditEntry


def cli_actor() -> str:
    """The actor recorded for the `helpdesk` command line: the operating-system user running it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"cli:{who}"


def record(session: Session, actor: str, action: str, target: str, **detail: Any) -> AuditEntry:
    """Never pass a token or a password in `detail`."""
    entry = AuditEntry(actor=actor[:150], action=action, target=target[:150], detail=detail)
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, *, limit: int = 100, action: str | None = None, target: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(AuditEntry.target == target)
    return list(session.scalars(query))
