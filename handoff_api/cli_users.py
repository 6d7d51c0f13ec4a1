"""`helpdesk users list | revoke | rotate`: user and token administration, every change audited.

Registered on `handoff_api.cli.users_app` by the import at the end of `handoff_api/cli.py`.
"""

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.cli import err, users_app
from handoff_api.core import token_cache
from handoff_api.core.config import Settings, get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.core.security import hash_token, new_token
from handoff_api.models import User
from handoff_api.ops import audit


def _migrated_sessions() -> tuple[Engine, sessionmaker[Session], Settings]:
    from handoff_api.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    return engine, make_session_factory(engine), settings


def _user_named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        err.print(f"[red]no user named {name}[/red]")
        raise typer.Exit(1)
    return user


@users_app.command("list")
def users_list() -> None:
    """List users: name, role, active, skills, created, last seen (never tokens)."""
    engine, sessions, _settings = _migrated_sessions()
    with sessions() as session:
        rows = list(session.scalars(select(User).order_by(User.name)))
    engine.dispose()
    table = Table("name", "role", "active", "tier skills", "created", "last seen")
    for user in rows:
        table.add_row(
            user.name,
            user.role,
            "yes" if user.active else "no",
            ", ".join(user.tier_skills or []),
            f"{user.created_at:%Y-%m-%d %H:%M}",
            f"{user.last_seen_at:%Y-%m-%d %H:%M}" if user.last_seen_at else "-",
        )
    Console().print(table)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="the user whose token stops working")]) -> None:
    """Deactivate a user: running services refuse their token within HELPDESK_TOKEN_CACHE_SECONDS (5 s)."""
    engine, sessions, _settings = _migrated_sessions()
    try:
        with transaction(sessions) as session:
            user = _user_named(session, name)
            was_active = user.active
            user.active = False
            audit.record(
                session, audit.cli_actor(), "user.revoke", name, role=user.role, was_active=was_active
            )
        token_cache.forget_all()  # a service in this process refuses it at once; others within the TTL
    finally:
        engine.dispose()
    err.print(f"revoked {name}")


@users_app.command("rotate")
def users_rotate(name: Annotated[str, typer.Option(help="the user who gets a new token")]) -> None:
    """Issue a new token (printed once on stdout); the old one stops working. Reactivates a revoked user."""
    engine, sessions, settings = _migrated_sessions()
    token = new_token()
    try:
        with transaction(sessions) as session:
            user = _user_named(session, name)
            was_active = user.active
            user.token_hash = hash_token(token, settings.secret_key())
            user.active = True
            audit.record(
                session, audit.cli_actor(), "user.rotate_token", name, role=user.role, was_active=was_active
            )
        token_cache.forget_all()
    finally:
        engine.dispose()
    err.print(f"new token for {name}; the old one no longer works. It is shown once:")
    sys.stdout.write(token + "\n")
