"""Who a bearer token belongs to, remembered for a few seconds per worker process.

Authenticating a request costs a database round trip (and, for a synchronous lookup, a worker thread)
unless the token was seen within the last `HELPDESK_TOKEN_CACHE_SECONDS` (default 5; 0 turns the cache
off). Only what identifies a user is kept (id, name, role, skills, the token's keyed hash): presence and
capacity are read from the database when a request uses them. Entries are keyed by the keyed hash of the
token; the token itself is never kept. Unknown tokens are never cached (each is looked up).

Revocation: a user revoked, or a token rotated, by another process (`helpdesk users revoke|rotate`) is
refused by a running service within the cache's lifetime, not on its very next request. A change made in
the same process empties that process's caches at once (`forget_all`).
"""

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, make_transient_to_detached

from handoff_api.models import User

MAX_ENTRIES = 10_000
# Columns that identify a user and change only with the token (rotate) or `active` (revoke).
_IDENTITY_COLUMNS = ("id", "name", "role", "tier_skills", "token_hash", "active")
_caches: "weakref.WeakSet[TokenCache]" = weakref.WeakSet()


@dataclass(frozen=True)
class _Entry:
    columns: dict[str, Any]
    expires: float


class TokenCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        _caches.add(self)

    def user(self, session: Session, token_hash: str) -> User | None:
        """The user `token_hash` belongs to, attached to `session` without a query; None if not cached."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            self._entries.pop(token_hash, None)
            return None
        columns = dict(entry.columns, tier_skills=list(entry.columns["tier_skills"]))
        user = User(**columns)
        # Persistent and clean, as if just loaded; the columns left out load on first use.
        make_transient_to_detached(user)
        session.add(user)
        return user

    def remember(self, token_hash: str, user: User) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        columns = {name: getattr(user, name) for name in _IDENTITY_COLUMNS}
        columns["tier_skills"] = list(columns["tier_skills"] or [])
        self._entries[token_hash] = _Entry(columns, self.clock() + self.ttl)

    def forget(self, token_hash: str | None = None) -> None:
        """This token (found revoked), or every one."""
        if token_hash is None:
            self._entries.clear()
        else:
            self._entries.pop(token_hash, None)


def forget_all() -> None:
    """Empties every cache of this process: after a revocation or a rotation made here."""
    for cache in list(_caches):
        cache.forget()
