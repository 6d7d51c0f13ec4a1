"""Rasa's SQL tracker store and SQL event broker, writing a turn's events in one transaction each.

Rasa 3.6 saves a turn in two steps. `TrackerStore.stream_events` reads the conversation back from the
database and replays it into a tracker, only to learn which events are new, then publishes each new event
in a transaction of its own (`SQLEventBroker.publish`: a session, a connection, an INSERT and a COMMIT
per event; on SQLite a file opened and synced per event). Then `SQLTrackerStore.save` stores the same new
events in one transaction. A turn has 10-20 events, and all of it runs on Rasa's event loop, so each
customer's turn waited for it and every other conversation with it: profiled here, the broker's commits
were a quarter of a handoff turn's time in Rasa.

`SQLTrackerStore` finds the new events with the count `save` makes anyway (the events stored since the
session started: what the replayed tracker held) and hands them to the broker together;
`SQLEventBroker.publish_many` writes them in one transaction, in the turn's order, so a reader following
the table's ids (the helpdesk service's durable cursor) sees them in the same order as before. On SQLite
both use write-ahead logging, so that a commit syncs one file, and a reader (the helpdesk service polling
the broker's table) never holds up Rasa's write.

endpoints.yml: `tracker_store: {type: connectors.sql_stores.SQLTrackerStore, dialect: ..., db: ...}` and
`event_broker: {type: connectors.sql_stores.SQLEventBroker, dialect: ..., db: ...}`; each keeps the
arguments of Rasa's own, and works with the other's Rasa original too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rasa.core import tracker_store as rasa_tracker_store
from rasa.core.brokers import sql as rasa_sql_broker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from rasa.core.brokers.broker import EventBroker
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker


def _pooled_sqlite(engine: sa.engine.Engine) -> sa.engine.Engine | None:
    """For an SQLite file: the same database in WAL mode (it persists in the file), its connections kept
    in a pool (SQLAlchemy 1.4 opens the file anew for every session); None for any other database."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    # Rasa's event loop and its executor threads may both save; the pool hands a connection to one at a time.
    return sa.create_engine(engine.url, poolclass=QueuePool, connect_args={"check_same_thread": False})


def _pool_sqlite(store: Any) -> None:
    """Swaps the engine (and the sessions made on it) of Rasa's store or broker for `_pooled_sqlite`'s."""
    pooled = _pooled_sqlite(store.engine)
    if pooled is not None:
        store.engine = pooled
        store.sessionmaker = sessionmaker(bind=pooled)


class SQLEventBroker(rasa_sql_broker.SQLEventBroker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pool_sqlite(self)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: Iterable[dict[str, Any]]) -> None:
        """The events in one transaction, their ids in the order given (one executemany)."""
        rows = [{"sender_id": e.get("sender_id"), "data": json.dumps(e)} for e in events]
        if not rows:
            return
        with self.session_scope() as session:
            session.execute(self.SQLBrokerEvent.__table__.insert(), rows)
            session.commit()


class SQLTrackerStore(rasa_tracker_store.SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pool_sqlite(self)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (the broker first, then the store), the new events found once."""
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            if self.event_broker is not None:
                await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
            for event in new_events:
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def _stream_new_events(
        self, event_broker: EventBroker, new_events: list[Event], sender_id: str
    ) -> None:
        publish_many = getattr(event_broker, "publish_many", None)
        if publish_many is None:  # another broker (pika, kafka, Rasa's own SQL): one event at a time
            await super()._stream_new_events(event_broker, new_events, sender_id)
            return
        publish_many([{"sender_id": sender_id, **event.as_dict()} for event in new_events])
