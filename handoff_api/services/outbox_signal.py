"""Wakes the outbox deliverer, in whichever worker holds the outbox lease, when any worker queues an item.

A worker wakes its own deliverer directly (`app.state.outbox_wakeup`), but the lease holder may be
another process, which then found the item only on its next pass, up to half a second later: with two
workers, half of the engineers' replies waited that long. On PostgreSQL the transaction that queues an
item sends NOTIFY (delivered at its commit, dropped with a rollback) and every worker LISTENs, setting its
own wake-up. SQLite serves one worker: the direct wake-up is enough there.
"""

import asyncio

import psycopg
import structlog
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)
CHANNEL = "helpdesk_outbox"
_NOTIFY = text(f"NOTIFY {CHANNEL}")
RETRY_SECONDS = 2.0


def announce(session: Session) -> None:
    """In the transaction that queued an outbox item: every worker hears of it at commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)


def conninfo(sqlalchemy_url: str) -> str:
    """psycopg's connection string for SQLAlchemy's `postgresql+psycopg://...` URL."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(dsn: str, wakeup: asyncio.Event, retry_seconds: float = RETRY_SECONDS) -> None:
    """Sets `wakeup` on every notification, until cancelled; reconnects while the database is away."""
    down = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                if down:
                    log.info("outbox.listening_again")
                    down = False
                # Whatever was queued while nobody listened.
                wakeup.set()
                async for _notification in conn.notifies():
                    wakeup.set()
        except psycopg.Error as exc:
            if not down:
                log.warning("outbox.listen_failed", error=str(exc)[:200])
            down = True
        await asyncio.sleep(retry_seconds)
