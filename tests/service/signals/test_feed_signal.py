"""The wake-up of event streams: only a committed handoff event wakes them."""

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from handoff_api.signals.local import FeedSignal, feed_signal, mark


def _woken(action: Callable[[], None]) -> bool:
    async def run() -> bool:
        with feed_signal.subscribe() as wake:
            await asyncio.to_thread(action)
            try:
                await asyncio.wait_for(wake.wait(), 0.5)
            except TimeoutError:
                return False
            return True

    return asyncio.run(run())


def _session(tmp_path: Path) -> Session:
    return Session(create_engine(f"sqlite:///{tmp_path / 'x.db'}"))


def test_a_commit_that_wrote_an_event_wakes_every_subscriber(tmp_path: Path) -> None:
    def commit_with_event() -> None:
        with _session(tmp_path) as session:
            mark(session)
            session.commit()

    assert _woken(commit_with_event)


def test_a_rolled_back_event_or_a_commit_without_one_wakes_nobody(tmp_path: Path) -> None:
    def rolled_back() -> None:
        with _session(tmp_path) as session:
            session.execute(text("SELECT 1"))  # as a write would, this begins the transaction
            mark(session)
            session.rollback()
            session.commit()  # the mark went with the rollback

    def plain_commit() -> None:
        with _session(tmp_path) as session:
            session.commit()

    assert not _woken(rolled_back)
    assert not _woken(plain_commit)


def test_a_subscription_ends_with_its_block() -> None:
    signal = FeedSignal()

    async def run() -> None:
        with signal.subscribe():
            assert signal.subscribers == 1
        assert signal.subscribers == 0
        signal.notify()  # nobody left to wake: no error

    asyncio.run(run())
