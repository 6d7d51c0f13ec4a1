"""Where accounts live: the `Directory` protocol, and the built-in demo directory.

A directory finds an account by username or e-mail address, tells whether it is locked out, and
unlocks it. It never sees, sets or returns a password: a reset is a link mailed to the account's
address on record (see `codes.reset_link`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol

from handoff_api.core.config import Settings


class DirectoryUnavailable(Exception):
    """The directory could not be reached or refused the service's credentials."""


class AdministratorLock(Exception):
    """The account was locked by an administrator, not by failed sign-ins: self-service never lifts it."""


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    name: str
    email: str | None
    locked: bool
    # Locked on purpose by an administrator (leaver, incident), not by failed sign-ins.
    administrator_lock: bool = False


class Directory(Protocol):
    def find(self, username_or_email: str) -> DirectoryUser | None:
        """The account whose username or e-mail address is `username_or_email` (case-insensitive)."""
        ...

    def unlock(self, username: str) -> bool:
        """Clear the account's lockout from failed sign-ins; True when it was locked.
        Raises AdministratorLock, changing nothing, when an administrator locked it."""
        ...


DEMO_USERS = (
    DirectoryUser("jdoe", "Jane Doe", "jane.doe@example.com", locked=False),
    DirectoryUser("mlocked", "Max Locked", "max.locked@example.com", locked=True),
    DirectoryUser("asmith", "Alex Smith", "alex.smith@example.com", locked=False),
    DirectoryUser("pchen", "Priya Chen", "priya.chen@example.com", locked=True),
    DirectoryUser("tlocked", "Tom Locked", "tom.locked@example.com", locked=True),
    DirectoryUser("rlocked", "Rita Locked", "rita.locked@example.com", locked=True),
    DirectoryUser("nomail", "Noel Nomail", None, locked=False),
    DirectoryUser("alocked", "Ada Locked", "ada.locked@example.com", locked=True, administrator_lock=True),
)


class DemoDirectory:
    """A few built-in people (jdoe unlocked, mlocked locked out, ...), kept in memory per process.

    `make run` needs no directory server; an unlock lasts until the service restarts.
    """

    def __init__(self, users: tuple[DirectoryUser, ...] = DEMO_USERS) -> None:
        self._users = {user.username: user for user in users}
        self._lock = threading.Lock()

    def find(self, username_or_email: str) -> DirectoryUser | None:
        wanted = username_or_email.strip().lower()
        with self._lock:
            for user in self._users.values():
                if wanted in (user.username.lower(), (user.email or "").lower()):
                    return user
        return None

    def unlock(self, username: str) -> bool:
        with self._lock:
            user = self._users.get(username)
            if user is None or not user.locked:
                return False
            if user.administrator_lock:
                raise AdministratorLock(username)
            self._users[username] = replace(user, locked=False)
            return True


def make_directory(settings: Settings) -> Directory:
    if settings.helpdesk_directory == "ldap":
        from handoff_api.identity.ldap_directory import LdapDirectory

        return LdapDirectory.from_settings(settings)
    return DemoDirectory()
