"""`helpdesk kb import | export`: articles as Markdown files with YAML front matter."""

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from handoff_api.cli.common import err
from handoff_api.core.config import get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction

app = typer.Typer(
    help="Knowledge-base articles as Markdown files with YAML front matter.", no_args_is_help=True
)


@app.command("import")
def kb_import(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Create or update articles from DIR/*.md; a broken file is reported and skipped."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.kb import store as kb_store
    from knowledge_base.articles import load_articles

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    loaded = load_articles(directory)
    for error in loaded.errors:
        err.print(f"[yellow]skipped: {error}[/yellow]")
    engine = make_engine(settings.sqlalchemy_url)
    with (
        Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        ) as progress,
        transaction(make_session_factory(engine)) as session,
    ):
        task = progress.add_task("import", total=len(loaded.articles))
        created, updated = kb_store.import_articles(
            session, loaded.articles, "import", done=lambda: progress.advance(task)
        )
    engine.dispose()
    err.print(f"{created} created, {updated} updated, {len(loaded.articles) - created - updated} unchanged")
    if created or updated:
        # The running service embeds the new text in the background; searches answer meanwhile.
        err.print("searchable within seconds to minutes; GET /api/v1/kb/index shows the progress")
    if loaded.errors:
        raise typer.Exit(1)


@app.command("export")
def kb_export(directory: Annotated[Path, typer.Argument(file_okay=False)]) -> None:
    """Write every article (drafts too) to DIR/<id>.md."""
    from handoff_api.core.migrate import upgrade
    from handoff_api.kb import store as kb_store
    from knowledge_base.articles import export_articles

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        articles = kb_store.all_articles(session)
    engine.dispose()
    export_articles(articles, directory)
    err.print(f"{len(articles)} articles written to {directory}")
