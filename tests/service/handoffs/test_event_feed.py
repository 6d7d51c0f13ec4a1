"""The event feed never steps over an event that commits after a later one (PostgreSQL's ids)."""

import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.core.migrate import upgrade
from handoff_api.handoffs.feed import FeedCursor, read_after
from handoff_api.models import Handoff, HandoffEvent
from tests.service.conftest import HandoffFactory, _postgres_database

ALL_TIERS = ("l2", "l3", "l4")


@pytest.fixture
def engine(settings: Settings, client: TestClient) -> Iterator[Engine]:
    engine = make_engine(settings.sqlalchemy_url)
    yield engine
    engine.dispose()


def test_a_hole_in_the_ids_is_waited_for_then_stepped_over(
    engine: Engine, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    first = handoff_factory.create("conv-a")
    second = handoff_factory.create("conv-b", tier="l3")
    third = handoff_factory.create("conv-c")
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        ids = sorted(e.id for e in session.query(HandoffEvent).all())
        # Remove the first event of the second handoff: as if its insert had not committed yet.
        hole = next(e.id for e in session.query(HandoffEvent).filter_by(handoff_id=second["id"]))
        session.execute(delete(HandoffEvent).where(HandoffEvent.id == hole))
    ids.remove(hole)
    cursor = FeedCursor(0)
    before_hole = read_after(factory, cursor, ALL_TIERS, now=100.0, gap_wait=3.0)
    assert [e["id"] for e in before_hole] == [i for i in ids if i < hole]
    assert all(e["handoff_id"] == first["id"] for e in before_hole)
    # Still within the wait: nothing after the hole is delivered, the cursor stays before it.
    assert read_after(factory, cursor, ALL_TIERS, now=102.0, gap_wait=3.0) == []
    assert cursor.position == hole - 1
    # The hole never filled (a rolled-back insert): stepped over after the wait.
    after = read_after(factory, cursor, ALL_TIERS, now=103.5, gap_wait=3.0)
    assert [e["id"] for e in after] == [i for i in ids if i > hole]
    assert {e["handoff_id"] for e in after} == {third["id"]}
    # A reader of L2 only advances over the L3 events without receiving them.
    l2_cursor = FeedCursor(0)
    read_after(factory, l2_cursor, ("l2",), now=0.0, gap_wait=0.0)
    assert l2_cursor.position == ids[-1]


@pytest.fixture
def postgres_sessions() -> Iterator[sessionmaker[Session]]:
    # Only PostgreSQL numbers a row before its transaction commits; SQLite serialises writers.
    for url in _postgres_database():
        upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


def _handoff(session: Session, conversation_id: str) -> Handoff:
    now = datetime(2026, 11, 26, 12, 0)
    handoff = Handoff(
        conversation_id=conversation_id,
        channel="socketio",
        tier="l2",
        reason="customer_request",
        first_response_due=now,
        resolution_due=now,
    )
    session.add(handoff)
    session.flush()
    return handoff


def _event(handoff_id: int, kind: str) -> HandoffEvent:
    return HandoffEvent(handoff_id=handoff_id, kind=kind, tier="l2", actor="test", detail={})


def test_an_event_committed_after_a_later_one_is_still_delivered(
    postgres_sessions: sessionmaker[Session],
) -> None:
    with postgres_sessions() as session, session.begin():
        handoff_id = _handoff(session, "conv-late").id
    cursor = FeedCursor(0)
    slow = postgres_sessions()
    slow.begin()
    slow.add(_event(handoff_id, "slow"))
    slow.flush()  # the slow writer has its id now, and commits only later
    with postgres_sessions() as fast, fast.begin():
        fast.add(_event(handoff_id, "fast"))
    # The later event is visible, the earlier one is not: the reader waits at the hole.
    assert read_after(postgres_sessions, cursor, ALL_TIERS, now=10.0) == []
    slow.commit()
    slow.close()
    delivered = read_after(postgres_sessions, cursor, ALL_TIERS, now=10.5)
    assert [e["kind"] for e in delivered] == ["slow", "fast"]


def test_readers_racing_writers_miss_nothing(postgres_sessions: sessionmaker[Session]) -> None:
    with postgres_sessions() as session, session.begin():
        handoff_id = _handoff(session, "conv-race").id
    writers, per_writer = 8, 40
    done = threading.Event()

    def write(worker: int) -> None:
        for n in range(per_writer):
            with postgres_sessions() as session, session.begin():
                session.add(_event(handoff_id, f"w{worker}-{n}"))
                session.flush()
                time.sleep(0.001 * (n % 3))  # commits land out of id order

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    cursor = FeedCursor(0)
    deadline = time.monotonic() + 60
    while len(seen) < writers * per_writer and time.monotonic() < deadline:
        seen += [e["kind"] for e in read_after(postgres_sessions, cursor, ALL_TIERS, time.monotonic())]
        if all(not t.is_alive() for t in threads):
            done.set()
    for thread in threads:
        thread.join()
    assert len(seen) == len(set(seen)) == writers * per_writer
    # Each writer's own events arrive in the order it wrote them.
    for w in range(writers):
        mine = [k for k in seen if k.startswith(f"w{w}-")]
        assert mine == [f"w{w}-{n}" for n in range(per_writer)]
