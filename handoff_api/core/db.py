"""Engine and sessions; SQLite gets WAL and a busy timeout so API writes and background loops coexist."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, write_transactions: bool = True, **kwargs: Any) -> Engine:
    """`write_transactions` (SQLite): every transaction starts with BEGIN IMMEDIATE.

    SQLite has one writer; a transaction that reads and then writes would otherwise fail with
    "database is locked" when another writer got in between. Taking the write lock up front makes
    concurrent requests queue (busy timeout) instead. Read-only engines (Rasa's broker) leave it off.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("pool_size", 40)
        kwargs.setdefault("max_overflow", 10)
        if kwargs.get("poolclass") is not None:
            kwargs.pop("pool_size")
            kwargs.pop("max_overflow")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            if write_transactions:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        if write_transactions:

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


def changed_rows(result: Result[Any]) -> int:
    """Rows an UPDATE changed: how conditional updates tell the one winner of a race."""
    return cast(CursorResult[Any], result).rowcount
