"""Rasa's SQL tracker store and event broker writing a turn in one transaction (connectors/sql_stores.py):
the rows are Rasa's own, row for row, on SQLite and PostgreSQL; only the number of transactions changes."""

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from connectors import sql_stores
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import event as sa_event
from sqlalchemy import text

DOMAIN = Domain.from_dict({"intents": ["greet", "request_human"], "slots": {}, "responses": {}})
SENDER = "conv-sql-stores"


def _turns() -> list[list[Event]]:
    """Three turns of one conversation; the third starts a new session (Rasa counts events from there)."""
    return [
        [
            ActionExecuted("action_session_start", timestamp=1.0),
            SessionStarted(timestamp=1.1),
            ActionExecuted("action_listen", timestamp=1.2),
            UserUttered("hi", {"name": "greet", "confidence": 0.98}, timestamp=2.0),
            ActionExecuted("utter_greet", timestamp=2.1),
            BotUttered("Hello! How can I help?", timestamp=2.2),
            ActionExecuted("action_listen", timestamp=2.3),
        ],
        [
            UserUttered("a human please", {"name": "request_human", "confidence": 0.91}, timestamp=3.0),
            ActionExecuted("action_handoff", timestamp=3.1),
            SlotSet("ticket_number", "HD-01001", timestamp=3.2),
            BotUttered("I've opened ticket HD-01001 for you.", timestamp=3.3),
            ConversationPaused(timestamp=3.4),
        ],
        [
            ActionExecuted("action_session_start", timestamp=9.0),
            SessionStarted(timestamp=9.1),
            ActionExecuted("action_listen", timestamp=9.2),
            UserUttered("hello again", {"name": "greet", "confidence": 0.97}, timestamp=10.0),
        ],
    ]


def _run(store: TrackerStore) -> None:
    """Saves the conversation turn by turn, as Rasa's processor does after each message."""

    async def turns() -> None:
        tracker = await store.get_or_create_tracker(SENDER, append_action_listen=False)
        for turn in _turns():
            for event in turn:
                tracker.update(event)
            await store.save(tracker)
            tracker = await store.retrieve(SENDER)  # the next message starts from what was stored

    asyncio.run(turns())


def _postgres_database() -> Iterator[dict[str, Any]]:
    name = f"rasa_stores_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable ({exc}); it is required when CI=true")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "username": "postgres", "db": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """Four databases: a tracker store and a broker for Rasa's classes, the same for ours."""
    if request.param == "sqlite":
        yield [{"dialect": "sqlite", "db": str(tmp_path / f"{n}.db")} for n in range(4)]
        return
    generators = [_postgres_database() for _ in range(4)]
    try:
        yield [next(g) for g in generators]
    finally:
        for g in generators:
            next(g, None)


def _rows(store_or_broker: Any, query: str) -> list[tuple[Any, ...]]:
    with store_or_broker.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


TRACKER_ROWS = (
    "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
)
BROKER_ROWS = "SELECT sender_id, data FROM events ORDER BY id"


def test_the_stored_and_published_rows_are_rasas_own(databases: list[dict[str, Any]]) -> None:
    rasa_store_db, rasa_broker_db, our_store_db, our_broker_db = databases
    rasa_broker = SQLEventBroker(**rasa_broker_db)
    rasa_store = SQLTrackerStore(DOMAIN, event_broker=rasa_broker, **rasa_store_db)
    our_broker = sql_stores.SQLEventBroker(**our_broker_db)
    our_store = sql_stores.SQLTrackerStore(DOMAIN, event_broker=our_broker, **our_store_db)
    _run(rasa_store)
    _run(our_store)

    stored = _rows(our_store, TRACKER_ROWS)
    published = _rows(our_broker, BROKER_ROWS)
    assert len(stored) == len(published) == sum(len(turn) for turn in _turns())
    assert stored == _rows(rasa_store, TRACKER_ROWS)
    assert published == _rows(rasa_broker, BROKER_ROWS)
    # What the next message starts from is the same too (the last session's events).
    ours = asyncio.run(our_store.retrieve(SENDER))
    theirs = asyncio.run(rasa_store.retrieve(SENDER))
    assert ours is not None and theirs is not None
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in theirs.events]


def _commits(broker: SQLEventBroker) -> list[int]:
    commits: list[int] = []
    sa_event.listen(broker.engine, "commit", lambda _connection: commits.append(1))
    return commits


def test_a_turn_reaches_the_broker_in_one_transaction(tmp_path: Path) -> None:
    rasa_broker = SQLEventBroker(db=str(tmp_path / "rasa-events.db"))
    our_broker = sql_stores.SQLEventBroker(db=str(tmp_path / "our-events.db"))
    rasa_commits, our_commits = _commits(rasa_broker), _commits(our_broker)
    _run(SQLTrackerStore(DOMAIN, event_broker=rasa_broker, db=str(tmp_path / "rasa.db")))
    _run(sql_stores.SQLTrackerStore(DOMAIN, event_broker=our_broker, db=str(tmp_path / "our.db")))
    assert len(rasa_commits) == sum(len(turn) for turn in _turns())  # Rasa's: one per event
    assert len(our_commits) == len(_turns())


def test_sqlite_files_use_write_ahead_logging(tmp_path: Path) -> None:
    """A commit syncs one file, and the service reading the broker's table never holds Rasa's write."""
    broker = sql_stores.SQLEventBroker(db=str(tmp_path / "events.db"))
    _run(sql_stores.SQLTrackerStore(DOMAIN, event_broker=broker, db=str(tmp_path / "tracker.db")))
    for name in ("events.db", "tracker.db"):
        with sqlite3.connect(tmp_path / name) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


class _RecordingBroker(EventBroker):  # type: ignore[misc]
    """A broker without publish_many (as pika's): it gets each event, as from Rasa's store."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)

    def is_ready(self) -> bool:
        return True


def test_any_other_broker_gets_each_event_as_from_rasas_store(tmp_path: Path) -> None:
    ours, theirs = _RecordingBroker(), _RecordingBroker()
    _run(sql_stores.SQLTrackerStore(DOMAIN, event_broker=ours, db=str(tmp_path / "our.db")))
    _run(SQLTrackerStore(DOMAIN, event_broker=theirs, db=str(tmp_path / "rasa.db")))
    assert ours.published == theirs.published
    assert [e["event"] for e in ours.published][:4] == ["action", "session_started", "action", "user"]


def test_endpoints_yml_builds_them_as_rasa_does(tmp_path: Path) -> None:
    async def build() -> tuple[Any, Any]:
        broker = await EventBroker.create(
            EndpointConfig.from_dict(
                {
                    "type": "connectors.sql_stores.SQLEventBroker",
                    "dialect": "sqlite",
                    "db": str(tmp_path / "e.db"),
                }
            )
        )
        store = TrackerStore.create(
            EndpointConfig.from_dict(
                {
                    "type": "connectors.sql_stores.SQLTrackerStore",
                    "dialect": "sqlite",
                    "db": str(tmp_path / "t.db"),
                }
            ),
            DOMAIN,
            broker,
        )
        return broker, store

    broker, store = asyncio.run(build())
    assert isinstance(broker, sql_stores.SQLEventBroker)
    assert isinstance(store, sql_stores.SQLTrackerStore) and store.event_broker is broker
