"""SQLite has one writer: requests that write take turns here, waiting without holding a thread.

Write transactions on SQLite start with BEGIN IMMEDIATE (see core/db.py). If many requests each
held a worker thread while waiting for the write lock, the one holding the lock could find no free
thread to finish in, and all would wait for the busy timeout. Queueing writers on an asyncio lock
before they take a thread avoids that. On PostgreSQL the gate is open.
"""

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteGate:
    def __init__(self, app: ASGIApp, lock: asyncio.Lock | None) -> None:
        self.app = app
        self.lock = lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lock is None or scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        async with self.lock:
            await self.app(scope, receive, send)
