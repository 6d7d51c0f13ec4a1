"""`helpdesk`: run the service, manage users and tokens, migrate, import and export articles."""

import os
import sys
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console

from handoff_api.core.config import get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.core.security import new_token
from handoff_api.errors import HelpdeskError
from handoff_api.schemas import Role

app = typer.Typer(help="IT help desk service.", no_args_is_help=True, pretty_exceptions_enable=False)
users_app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo mode: demo agents and tokens for `make run`.", no_args_is_help=True)
kb_app = typer.Typer(
    help="Knowledge-base articles as Markdown files with YAML front matter.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(kb_app, name="kb")
err = Console(stderr=True)

DEMO_USERS = [
    ("bot", "bot"),
    ("alice", "l2"),
    ("bob", "l2"),
    ("carol", "l3"),
    ("victor", "l4"),
    ("lena", "lead"),
    ("erin", "editor"),
]


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="default HELPDESK_PORT or 8000")] = None,
    host: Annotated[str | None, typer.Option(help="default HELPDESK_HOST or 127.0.0.1")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes: one per core for throughput (each ~0.5 GiB)")
    ] = 1,
) -> None:
    """Start the service (migrates the database first)."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.core.serving import serve as serve_workers

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    serve_workers(
        "handoff_api.asgi:app",
        host=host or settings.helpdesk_host,
        port=port or settings.helpdesk_port,
        workers=workers,
        log_level="info",
        # The service logs every request itself, as JSON with its request id (ops/request_id.py).
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def chat(
    rasa_url: Annotated[str, typer.Option(envvar="RASA_URL")] = "http://127.0.0.1:5005",
    conversation: Annotated[str | None, typer.Option(help="resume a conversation id")] = None,
) -> None:
    """Chat with the bot as a customer (socket.io, like the website widget)."""
    import asyncio

    from handoff_api.terminal_chat import chat as run_chat

    asyncio.run(run_chat(rasa_url, conversation))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations."""
    from handoff_api.core.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url, revision)
    err.print(f"database at revision {revision}")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="unique name shown to colleagues and in history")],
    role: Annotated[str, typer.Option(help="bot | l2 | l3 | l4 | lead | editor")],
    tier_skills: Annotated[
        list[str] | None, typer.Option(help="skill groups (categories) this agent takes")
    ] = None,
) -> None:
    """Create a user; prints the API token once on stdout."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.ops import audit
    from handoff_api.services import users

    if role not in get_args(Role):
        err.print(f"[red]role must be one of {', '.join(get_args(Role))}, not {role}[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            user, token = users.create(session, settings.secret_key(), name, role, tier_skills)
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


@demo_app.command("seed")
def demo_seed(env_file: Annotated[Path, typer.Option(help="where the demo tokens are written")]) -> None:
    """Create the demo users and write their tokens (and a Rasa token) to an env file; idempotent."""
    import secrets

    from sqlalchemy import select

    from handoff_api.core.migrate import upgrade
    from handoff_api.core.security import hash_token
    from handoff_api.models import User
    from handoff_api.services import users

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    key = settings.secret_key()
    engine = make_engine(settings.sqlalchemy_url)
    known = (
        dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        if env_file.exists()
        else {}
    )
    with transaction(make_session_factory(engine)) as session:
        bot_token = known.get("HELPDESK_BOT_TOKEN", "")
        if session.scalar(select(User.id).where(User.token_hash == hash_token(bot_token, key))) is not None:
            err.print(f"demo users exist; tokens in {env_file}")
            engine.dispose()
            return
        # Tokens are stored hashed; when the file and the database disagree, issue new demo tokens.
        lines = [f"RASA_TOKEN={known.get('RASA_TOKEN') or secrets.token_urlsafe(24)}"]
        for name, role in DEMO_USERS:
            token = new_token()
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                users.create(session, key, name, role, token=token)
            else:
                user.token_hash = hash_token(token, key)
            lines.append(f"{demo_token_variable(name)}={token}")
    engine.dispose()
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("\n".join(lines) + "\n")
    env_file.chmod(0o600)
    err.print(f"demo users ready; tokens in {env_file}")


def demo_token_variable(name: str) -> str:
    return "HELPDESK_BOT_TOKEN" if name == "bot" else f"HELPDESK_{name.upper()}_TOKEN"


@demo_app.command("info")
def demo_info(env_file: Annotated[Path, typer.Option(help="the file `demo seed` wrote")]) -> None:
    """Print where everything runs and the demo logins."""
    from rich.table import Table

    settings = get_settings()
    rasa_port = os.environ.get("RASA_PORT", "5005")
    console = Console()
    console.print("[bold]IT help desk (demo mode)[/bold]")
    base = f"http://127.0.0.1:{settings.helpdesk_port}"
    console.print(f"  helpdesk service  {base}  (API docs: /docs)")
    console.print(f"  chat widget demo  {base}/demo")
    console.print(f"  agent console     {base}/console   (sign in with an agent's token)")
    console.print(f"  knowledge editor  {base}/editor    (sign in with erin's token)")
    console.print(f"  dev mailbox       {base}/dev/mailbox  (one-time codes; sign in with lena's token)")
    console.print(
        f"  Rasa bot          http://127.0.0.1:{rasa_port}  (socket.io, REST: /webhooks/rest/webhook)"
    )
    table = Table("user", "role", "token")
    roles = dict(DEMO_USERS)
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.startswith("HELPDESK_") and key.endswith("_TOKEN"):
            name = (
                "bot"
                if key == "HELPDESK_BOT_TOKEN"
                else key.removeprefix("HELPDESK_").removesuffix("_TOKEN").lower()
            )
            table.add_row(name, roles.get(name, "?"), value)
    console.print(table)
    tokens = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    console.print("Try it: in another terminal, chat as a customer:  .venv/bin/helpdesk chat")
    console.print("then, as the L2 agent alice:")
    console.print(
        f"  curl -s -H 'Authorization: Bearer {tokens.get(demo_token_variable('alice'), '')}' "
        f"http://127.0.0.1:{settings.helpdesk_port}/api/v1/queues/l2",
        soft_wrap=True,
    )


@kb_app.command("import")
def kb_import(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Create or update articles from DIR/*.md; a broken file is reported and skipped."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.services import kb_store
    from knowledge_base.articles import load_articles

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    loaded = load_articles(directory)
    for error in loaded.errors:
        err.print(f"[yellow]skipped: {error}[/yellow]")
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        created, updated = kb_store.import_articles(session, loaded.articles, "import")
    engine.dispose()
    err.print(f"{created} created, {updated} updated, {len(loaded.articles) - created - updated} unchanged")
    if loaded.errors:
        raise typer.Exit(1)


@kb_app.command("export")
def kb_export(directory: Annotated[Path, typer.Argument(file_okay=False)]) -> None:
    """Write every article (drafts too) to DIR/<id>.md."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.services import kb_store
    from knowledge_base.articles import export_articles

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        articles = kb_store.all_articles(session)
    engine.dispose()
    export_articles(articles, directory)
    err.print(f"{len(articles)} articles written to {directory}")


# `users list | revoke | rotate` (issue 5, audited): registers itself on users_app.
from handoff_api import cli_users  # noqa: E402, F401
