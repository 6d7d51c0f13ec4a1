"""`helpdesk privacy export | erase`: one customer's data, by conversation id or e-mail address."""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from handoff_api.cli.common import err
from handoff_api.core.config import get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(help="One customer's data: export it, or erase it.", no_args_is_help=True)

Conversations = Annotated[
    list[str] | None, typer.Option("--conversation", help="a conversation id (repeatable)")
]
Email = Annotated[str | None, typer.Option(help="everything known under this e-mail address")]
RasaDbs = Annotated[
    list[str] | None,
    typer.Option(
        "--rasa-db",
        help="a Rasa database whose `events` table to erase from (repeatable; default RASA_EVENTS_DB_URL)",
    ),
]


def _conversations(session: "Session", conversation: list[str] | None, email: str | None) -> list[str]:
    from handoff_api.privacy import service

    found = set(conversation or [])
    if email:
        found |= set(service.conversations_of(session, email))
    return sorted(found)


@app.command("export")
def privacy_export(conversation: Conversations = None, email: Email = None) -> None:
    """Print everything stored about the conversations (and mail to the address) as JSON."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.ops import audit
    from handoff_api.privacy import service

    if not conversation and not email:
        raise typer.BadParameter("give --conversation or --email")
    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        ids = _conversations(session, conversation, email)
        data = service.export(session, ids, email)
        audit.record(
            session, audit.cli_actor(), "privacy.export", email or ",".join(ids)[:150], conversations=ids
        )
    engine.dispose()
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.command("erase")
def privacy_erase(
    conversation: Conversations = None,
    email: Email = None,
    rasa_db: RasaDbs = None,
    yes: Annotated[bool, typer.Option("--yes", help="do it (without it: only say what would go)")] = False,
) -> None:
    """Erase what the conversations left in the service and in Rasa's stores (the handoffs' figures stay)."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.ops import audit
    from handoff_api.privacy import service

    if not conversation and not email:
        raise typer.BadParameter("give --conversation or --email")
    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        ids = _conversations(session, conversation, email)
    if not yes:
        err.print(f"would erase {len(ids)} conversation(s): {', '.join(ids) or '-'}; run again with --yes")
        engine.dispose()
        return
    with transaction(factory) as session:
        counts = service.erase(session, ids, email)
        rasa_rows = 0
        for url in rasa_db or [settings.events_db_url]:
            rasa_engine = make_engine(url, write_transactions=False)
            try:
                rasa_rows += service.erase_from_rasa(rasa_engine, ids)
            finally:
                rasa_engine.dispose()
        counts["rasa_events"] = rasa_rows
        audit.record(
            session,
            audit.cli_actor(),
            "privacy.erase",
            email or ",".join(ids)[:150],
            conversations=ids,
            **counts,
        )
    engine.dispose()
    err.print(", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items()) + " erased")
