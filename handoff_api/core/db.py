"""Engine and sessions; SQLite gets WAL and a busy timeout so API writes and background loops coexist."""

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
from sqlalchemy import CursorResult, Engine, Result, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(
    url: str, *, write_transactions: bool = True, busy_timeout_seconds: float = 30.0, **kwargs: Any
) -> Engine:
    """`write_transactions` (SQLite): every transaction starts with BEGIN IMMEDIATE.

    SQLite has one writer; a transaction that reads and then writes would otherwise fail with
    "database is locked" when another writer got in between. Taking the write lock up front makes
    concurrent requests queue (busy timeout) instead. Read-only engines (Rasa's broker) leave it off.
    Still locked after `busy_timeout_seconds`: OperationalError, which requests answer with 503.
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
        connect_args = {"check_same_thread": False, "timeout": busy_timeout_seconds}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            if write_transactions:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        if write_transactions:

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    if "connect_timeout" not in make_url(url).query:
        # Without it a connection to an unreachable host waits for the kernel's TCP timeout (minutes)
        # and every request waits with it; with it the request answers 503 with Retry-After.
        kwargs["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            **kwargs.get("connect_args", {}),
        }
    engine = create_engine(url, pool_size=10, max_overflow=20, **kwargs)
    _ping_when_idle(engine, IDLE_PING_SECONDS)
    _no_autocommit_in_the_pool(engine)
    return engine


# A pooled connection idle this long is tested before use (pool_pre_ping on every checkout cost a round
# trip a request). Under load connections are reused within milliseconds: when the database restarts then,
# the first request on each old connection answers 503 (retryable) and the pool drops all connections
# made before the failure. Connections are replaced after POOL_RECYCLE_SECONDS whatever happens.
IDLE_PING_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5
POOL_RECYCLE_SECONDS = 1800


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool throws this connection away and checks out another (a new one if need be).
            raise DisconnectionError("idle connection failed its ping") from exc


def _no_autocommit_in_the_pool(engine: Engine) -> None:
    # `statements_alone` turns the driver's autocommit on for a block; whatever happens in the block, a
    # connection never goes back to the pool with it on (the next request would run without transactions).
    @event.listens_for(engine, "checkin")
    def _transactions_again(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None and getattr(dbapi_connection, "autocommit", False):
            with contextlib.suppress(Exception):
                dbapi_connection.autocommit = False


@contextmanager
def statements_alone(session: Session) -> Iterator[None]:
    """On PostgreSQL, each statement in the block commits by itself (the driver's autocommit): no BEGIN
    before it and no COMMIT after, two round trips fewer, for a request whose write is one statement
    (handoffs/postgresql.py) and whose reads need not see one snapshot. After the block the
    session's statements are a transaction again, for what must hold together (the slow paths).

    Nothing changes on SQLite, or when the session's transaction has already run a statement."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    driver = session.connection().connection.driver_connection
    if driver is None or driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        yield
        return
    driver.autocommit = True
    try:
        yield
    finally:
        # A connection that failed keeps it on: the pool drops it, or the checkin hook turns it off.
        with contextlib.suppress(psycopg.Error):
            driver.autocommit = False


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


def changed_rows(result: Result[Any]) -> int:
    """Rows an UPDATE changed: how conditional updates tell the one winner of a race."""
    return cast(CursorResult[Any], result).rowcount
