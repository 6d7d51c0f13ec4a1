"""Wakes this worker when another worker commits an outbox item or a handoff event (PostgreSQL LISTEN).

A worker wakes its own outbox deliverer and event streams directly when it commits (`outbox_wakeup`,
signals/local.py). What another worker commits it used to see only by polling: the outbox
deliverer (one worker, under a lease) found another worker's reply on its next pass, up to half a
second later, and an agent's event stream found the broker consumer's events (customers' lines) on its
next read, up to 0.1 s later. On PostgreSQL each worker's publisher (signals/publisher.py)
sends a notification after such a commit and every worker LISTENs here. SQLite serves one worker:
nothing to hear.
"""

import asyncio

import psycopg
import structlog
from sqlalchemy import make_url

from handoff_api.signals.local import feed_signal
from handoff_api.signals.publisher import EVENTS_CHANNEL, OUTBOX_CHANNEL, ChangePublisher

log = structlog.get_logger(__name__)
RETRY_SECONDS = 2.0


def conninfo(sqlalchemy_url: str) -> str:
    """psycopg's connection string for SQLAlchemy's `postgresql+psycopg://...` URL."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _wake(channel: str, outbox_wakeup: asyncio.Event) -> None:
    if channel == OUTBOX_CHANNEL:
        outbox_wakeup.set()
    else:
        feed_signal.notify()


async def listen(
    dsn: str,
    outbox_wakeup: asyncio.Event,
    retry_seconds: float = RETRY_SECONDS,
    own: ChangePublisher | None = None,
) -> None:
    """Wakes the deliverer and the streams on every notification but `own` publisher's (this worker woke
    itself already), until cancelled; reconnects while the database is away."""
    down = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                for channel in (OUTBOX_CHANNEL, EVENTS_CHANNEL):
                    await conn.execute(f"LISTEN {channel}")
                feed_signal.hears_every_worker = True
                if down:
                    log.info("change_signals.listening_again")
                    down = False
                # Whatever was committed while nobody listened.
                for channel in (OUTBOX_CHANNEL, EVENTS_CHANNEL):
                    _wake(channel, outbox_wakeup)
                async for notification in conn.notifies():
                    if own is None or notification.pid != own.backend_pid:
                        _wake(notification.channel, outbox_wakeup)
        except psycopg.Error as exc:
            if not down:
                log.warning("change_signals.listen_failed", error=str(exc)[:200])
            down = True
        finally:
            feed_signal.hears_every_worker = False
        await asyncio.sleep(retry_seconds)
