"""`helpdesk db upgrade`."""

import typer

from handoff_api.cli.common import err
from handoff_api.core.config import get_settings

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations."""
    from handoff_api.core.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url, revision)
    err.print(f"database at revision {revision}")
