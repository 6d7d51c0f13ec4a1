"""What the commands share: the error console and the migrated database."""

from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.config import Settings, get_settings
from handoff_api.core.db import make_engine, make_session_factory

err = Console(stderr=True)


def migrated_sessions() -> tuple[Engine, sessionmaker[Session], Settings]:
    """The configured database, migrated to the newest revision first."""
    from handoff_api.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    return engine, make_session_factory(engine), settings
