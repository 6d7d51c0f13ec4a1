"""`helpdesk users create | list | revoke | rotate`: users and their tokens, every change audited."""

import sys
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_api.cli.common import err, migrated_sessions
from handoff_api.core.db import transaction
from handoff_api.core.errors import HelpdeskError
from handoff_api.core.security import hash_token, new_token
from handoff_api.models import User
from handoff_api.models.vocabulary import Role
from handoff_api.ops import audit
from handoff_api.users import service as user_service
from handoff_api.users import token_cache

app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)


@app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="unique name shown to colleagues and in history")],
    role: Annotated[str, typer.Option(help="bot | l2 | l3 | l4 | lead | editor")],
    tier_skills: Annotated[
        list[str] | None, typer.Option(help="skill groups (categories) this agent takes")
    ] = None,
) -> None:
    """Create a user; prints the API token once on stdout."""
    if role not in get_args(Role):
        err.print(f"[red]role must be one of {', '.join(get_args(Role))}, not {role}[/red]")
        raise typer.Exit(2)
    engine, sessions, settings = migrated_sessions()
    try:
        with transaction(sessions) as session:
            user, token = user_service.create(session, settings.secret_key(), name, role, tier_skills)
            audit.record(
                session, audit.cli_actor(), "user.create", name, role=role, tier_skills=tier_skills or []
            )
    except HelpdeskError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    err.print(f"created {user.role} user {user.name} (id {user.id}); the token is shown once:")
    sys.stdout.write(token + "\n")


def _user_named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        err.print(f"[red]no user named {name}[/red]")
        raise typer.Exit(1)
    return user


@app.command("list")
def users_list() -> None:
    """List users: name, role, active, skills, created, last seen (never tokens)."""
    engine, sessions, _settings = migrated_sessions()
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


@app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="the user whose token stops working")]) -> None:
    """Deactivate a user: running services refuse their token within HELPDESK_TOKEN_CACHE_SECONDS (5 s)."""
    engine, sessions, _settings = migrated_sessions()
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


@app.command("rotate")
def users_rotate(name: Annotated[str, typer.Option(help="the user who gets a new token")]) -> None:
    """Issue a new token (printed once on stdout); the old one stops working. Reactivates a revoked user."""
    engine, sessions, settings = migrated_sessions()
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
