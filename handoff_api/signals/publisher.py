"""Tells the other workers, by PostgreSQL NOTIFY, that this worker committed something they act on.

What: a handoff event (their agents' event streams read it) and a reply queued for the customer while
another worker delivers the outbox (its deliverer sends it). The service used to send these from
triggers on the tables (migration 0006): one NOTIFY inside every writing transaction, which every worker
heard, its own included, and which PostgreSQL serializes across the whole server at commit (a NOTIFY
takes a cluster-wide lock until the commit is flushed). A publisher instead sends after the commit, from
a connection of its own that does not wait for the flush, and coalesces: what is committed while a
notification is on its way goes in the next one. The receiving side is signals/listener.py.

A notification is only a wake-up: the streams and the deliverer read the database, and poll as a safety
net, so one that is lost (the connection drops) delays, and never loses, anything.
"""

import asyncio
import contextlib
from typing import ClassVar

import psycopg
import structlog

log = structlog.get_logger(__name__)
OUTBOX_CHANNEL = "helpdesk_outbox"
EVENTS_CHANNEL = "helpdesk_events"
CHANNELS = (OUTBOX_CHANNEL, EVENTS_CHANNEL)
RETRY_SECONDS = 2.0
# Notifications start at least this far apart: after a quiet spell one goes at once; under load what is
# committed within the gap goes in the next one (a worker writing 250 times a second sent 250 before).
GAP_SECONDS = 0.02


class ChangePublisher:
    """One per worker (app), running while the worker's background loops run on PostgreSQL."""

    running: ClassVar[set["ChangePublisher"]] = set()

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._pending: set[str] = set()
        # The backend that sends: its notifications come back to this worker's listener, which skips them.
        self.backend_pid: int | None = None
        # While this worker holds the outbox lease its deliverer is woken directly: nobody else needs telling.
        self.delivers_outbox = False

    def publish(self, channel: str) -> None:
        """Callable from any thread, after the commit. A channel already waiting to go is not added again:
        it goes after this commit, so it covers it."""
        loop = self._loop
        if loop is None or channel in self._pending:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the worker is stopping
            loop.call_soon_threadsafe(self._add, channel)

    def outbox_queued(self) -> None:
        if not self.delivers_outbox:
            self.publish(OUTBOX_CHANNEL)

    def _add(self, channel: str) -> None:
        self._pending.add(channel)
        if self._ready is not None:
            self._ready.set()

    async def run(self, dsn: str, retry_seconds: float = RETRY_SECONDS) -> None:
        """Sends until cancelled; reconnects while the database is away (what waits meanwhile goes after)."""
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        ChangePublisher.running.add(self)
        down = False
        try:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(
                        dsn, autocommit=True, connect_timeout=5
                    ) as conn:
                        # A wake-up need not survive a crash of the database: no wait for the WAL flush.
                        await conn.execute("SET synchronous_commit = off")
                        self.backend_pid = conn.info.backend_pid
                        if down:
                            log.info("change_publisher.connected_again")
                            down = False
                        await self._send(conn)
                except psycopg.Error as exc:
                    if not down:
                        log.warning("change_publisher.failed", error=str(exc)[:200])
                    down = True
                finally:
                    self.backend_pid = None
                await asyncio.sleep(retry_seconds)
        finally:
            ChangePublisher.running.discard(self)
            self._loop = None

    async def _send(self, conn: psycopg.AsyncConnection) -> None:
        assert self._ready is not None
        loop = asyncio.get_running_loop()
        sent_at = -GAP_SECONDS
        while True:
            if not self._pending:
                await self._ready.wait()
            if (wait := sent_at + GAP_SECONDS - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._ready.clear()
            sent_at = loop.time()
            # Taken before sending: a commit while this one is on its way must go in the next.
            channels, self._pending = sorted(self._pending), set()
            try:
                await conn.execute(_notify(channels))
            except BaseException:
                self._pending.update(channels)
                raise


def _notify(channels: list[str]) -> bytes:
    # The channels are this module's constants, never input.
    return ("SELECT " + ", ".join(f"pg_notify('{channel}', '')" for channel in channels)).encode()


def publish_everywhere(channel: str) -> None:
    """From a session hook, which knows no app: every publisher running in this process (one per worker)."""
    for publisher in list(ChangePublisher.running):
        publisher.publish(channel)
