"""Rate limits, in memory per worker process (documented in docs/operations.md):

- authentication failures per client address: a request that presents a bearer token and is answered
  401 counts as a failure; after `HELPDESK_AUTH_FAILURE_LIMIT` failures within
  `HELPDESK_AUTH_FAILURE_WINDOW_SECONDS`, every request from that address that carries an
  `Authorization` header gets 429 with `Retry-After` until the oldest failure leaves the window.
  Requests without a token are not failures (they learn nothing) and are not blocked.
- requests per token: at most `HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE` requests per token in any 60 s
  (sliding window; 0 turns it off); beyond that 429 with `Retry-After`.

Tokens are never kept: the limiter keys on a SHA-256 digest of the token. With N workers the effective
limits are up to N times these figures (each worker counts alone).
"""

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MAX_KEYS = 10_000


class SlidingWindow:
    """Timestamps per key within the last `window` seconds; bounded memory."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _live(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None while it is under the limit."""
        now = self.clock()
        hits = self._live(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[len(hits) - self.limit] + self.window - now))

    def hit(self, key: str) -> None:
        now = self.clock()
        if len(self._hits) >= _MAX_KEYS:
            for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[stale]
        hits = self._hits.setdefault(key, deque())
        hits.append(now)
        while len(hits) > self.limit:
            hits.popleft()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            header: str = value.decode("latin-1")
            return header
    return None


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        auth_failure_limit: int,
        auth_failure_window: float,
        token_limit_per_minute: int,
        rejected: Counter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.failures = SlidingWindow(max(1, auth_failure_limit), auth_failure_window, clock)
        self.auth_failure_limit = auth_failure_limit
        self.per_token = SlidingWindow(max(1, token_limit_per_minute), 60.0, clock)
        self.token_limit = token_limit_per_minute
        self.rejected = rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = _bearer(scope) if scope["type"] == "http" else None
        if authorization is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if self.auth_failure_limit > 0:
            wait = self.failures.retry_after(address)
            if wait is not None:
                await self._reject(send, wait, "too many failed authentication attempts", "auth_failures")
                return
        token_key = hashlib.sha256(authorization.encode("latin-1")).hexdigest()
        if self.token_limit > 0:
            wait = self.per_token.retry_after(token_key)
            if wait is not None:
                await self._reject(send, wait, "too many requests for this token", "token")
                return
            self.per_token.hit(token_key)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.failures.hit(address)
            await send(message)

        await self.app(scope, receive, watch)

    async def _reject(self, send: Send, retry_after: int, why: str, kind: str) -> None:
        if self.rejected is not None:
            self.rejected.labels(kind=kind).inc()
        body = f'{{"detail":"{why}; retry after {retry_after} s"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
