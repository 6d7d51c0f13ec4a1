"""`helpdesk`: the root command, `serve` and `chat`, and the command groups."""

from typing import Annotated

import typer

from handoff_api.cli import db, demo, kb, privacy, users
from handoff_api.core.config import get_settings

app = typer.Typer(help="IT help desk service.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="default HELPDESK_PORT or 8000")] = None,
    host: Annotated[str | None, typer.Option(help="default HELPDESK_HOST or 127.0.0.1")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes: one per core for throughput (each ~0.5 GiB)")
    ] = 1,
) -> None:
    """Start the service (migrates the database first)."""
    from handoff_api.cli.serving import serve as serve_workers
    from handoff_api.core.migrate import upgrade

    settings = get_settings()
    problems = [] if settings.helpdesk_demo else settings.unsafe_outside_demo()
    if problems:
        # Each line says what to set; HELPDESK_DEMO=true is for trying the desk, never for customers.
        raise SystemExit(
            "refusing to serve customers with these settings (HELPDESK_DEMO=true to try the desk):\n- "
            + "\n- ".join(problems)
        )
    upgrade(settings.sqlalchemy_url)
    serve_workers(
        "handoff_api.asgi:app",
        host=host or settings.helpdesk_host,
        port=port or settings.helpdesk_port,
        workers=workers,
        log_level="info",
        # The service logs every request itself, as JSON with its request id (api/middleware/request_id.py).
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.helpdesk_trusted_proxies,
    )


@app.command()
def chat(
    rasa_url: Annotated[str, typer.Option(envvar="RASA_URL")] = "http://127.0.0.1:5005",
    conversation: Annotated[str | None, typer.Option(help="resume a conversation id")] = None,
) -> None:
    """Chat with the bot as a customer (socket.io, like the website widget)."""
    import asyncio

    from handoff_api.cli.chat import chat as run_chat

    asyncio.run(run_chat(rasa_url, conversation))


app.add_typer(users.app, name="users")
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(kb.app, name="kb")
app.add_typer(privacy.app, name="privacy")
