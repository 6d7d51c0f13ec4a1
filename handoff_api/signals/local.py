"""Wakes this worker's event streams as soon as it commits a handoff event.

Each stream reads the event log from the database, so a stream sees every worker's events by polling
(`api/routes/events.py`). Most events are written by the worker that also streams them (one worker,
or the broker consumer and the API of the same process), and for those waiting out the poll interval
is pure latency: a session that inserted a handoff event marks itself (`mark`), and its commit wakes
every stream of the process at once. Commits happen in worker threads, streams wait on the event loop:
the wake-up crosses over with `call_soon_threadsafe`. Other workers' events wake it too on PostgreSQL
(`signals/listener.py` calls `notify` on each notification), and the commit here tells them
(`signals/publisher.py`).
"""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from handoff_api.signals.publisher import EVENTS_CHANNEL, publish_everywhere

_FLAG = "handoff_events_written"


class FeedSignal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        # True while this process hears every worker's commits (PostgreSQL LISTEN, change_signals.py):
        # then a stream's read on a timer is only a safety net, and can be rare.
        self.hears_every_worker = False

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        """An event set on every notify while the block runs; the stream clears it before each read."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield waiter[1]
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, wake in waiters:
            # RuntimeError: that stream's loop has closed; its subscription ends with it.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._waiters)


feed_signal = FeedSignal()


def mark(session: Session) -> None:
    """This session wrote a handoff event: its commit wakes the streams."""
    session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        feed_signal.notify()
        publish_everywhere(EVENTS_CHANNEL)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint's rollback leaves the outer transaction's events (a spare wake-up costs one read).
    if not previous_transaction.nested:
        session.info.pop(_FLAG, None)
