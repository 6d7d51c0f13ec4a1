"""`helpdesk demo seed | info`: the demo users and their tokens for `make run`."""

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from handoff_api.cli.common import err
from handoff_api.core.config import get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.core.security import new_token

app = typer.Typer(help="Demo mode: demo agents and tokens for `make run`.", no_args_is_help=True)

DEMO_USERS = [
    ("bot", "bot"),
    ("alice", "l2"),
    ("bob", "l2"),
    ("carol", "l3"),
    ("victor", "l4"),
    ("lena", "lead"),
    ("erin", "editor"),
]


@app.command("seed")
def demo_seed(env_file: Annotated[Path, typer.Option(help="where the demo tokens are written")]) -> None:
    """Create the demo users and write their tokens (and a Rasa token) to an env file; idempotent."""
    import secrets

    from sqlalchemy import select

    from handoff_api.core.migrate import upgrade
    from handoff_api.core.security import hash_token
    from handoff_api.models import User
    from handoff_api.users import service as users

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


@app.command("info")
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
