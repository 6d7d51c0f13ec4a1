"""Accounts in an LDAP directory (OpenLDAP, 389-DS, Active Directory's LDAP), through ldap3.

- An account is found by `uid` or `mail` under `LDAP_BASE_DN` (values are filter-escaped).
- It is locked out while it has the lock attribute (`LDAP_LOCK_ATTRIBUTE`, by default OpenLDAP
  ppolicy's `pwdAccountLockedTime`, set by the server after too many failed binds).
- Unlocking deletes that attribute, as an administrator would with `ldapmodify`, but only for a
  lockout after failed sign-ins: ppolicy's value `000001010000Z` is an administrator's permanent lock,
  which self-service never lifts.

TLS by default: `ldaps://`, or StartTLS on `ldap://` (LDAP_STARTTLS, on unless turned off), with the
server's certificate checked against the system's CAs or LDAP_CA_FILE, before the service's password goes
out.

The service binds as `LDAP_BIND_DN`, which needs read access to uid/cn/mail and the lock attribute,
and write access to the lock attribute. Each call opens its own short connection.
"""

from __future__ import annotations

import math
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from handoff_api.core.config import Settings
from handoff_api.identity.directory import AdministratorLock, DirectoryUnavailable, DirectoryUser

# OpenLDAP ppolicy: an account locked by an administrator (not by failed binds) carries this time.
ADMINISTRATOR_LOCK = "000001010000Z"

with warnings.catch_warnings():
    # ldap3 2.9.1 imports names that pyasn1 0.6 deprecates; harmless, and not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars


class CheckedTls(ldap3.Tls):  # type: ignore[misc]  # ldap3 ships no type information
    """TLS for the directory with the standard library checking the certificate and the server's name.

    ldap3 2.9 turns the context's own name check off and calls `ssl.match_hostname`, deprecated since
    Python 3.7 and gone in 3.12; here the context checks the name (`server_hostname`) as any client does."""

    def __init__(self, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        context = ssl.create_default_context(cafile=self.ca_certs_file)
        connection.socket = context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )


class LdapDirectory:
    def __init__(
        self,
        url: str,
        bind_dn: str,
        bind_password: str,
        base_dn: str,
        lock_attribute: str = "pwdAccountLockedTime",
        timeout: float = 5.0,
        *,
        starttls: bool = False,
        ca_file: str | None = None,
    ) -> None:
        # ldaps:// or StartTLS: the server's certificate and name checked (system CAs, or `ca_file`).
        tls = CheckedTls(ca_file) if starttls or url.startswith("ldaps://") else None
        self._server = ldap3.Server(url, get_info=ldap3.NONE, connect_timeout=timeout, tls=tls)
        self._starttls = starttls and not url.startswith("ldaps://")
        self._bind_dn = bind_dn
        self._bind_password = bind_password
        self._base_dn = base_dn
        self._lock_attribute = lock_attribute
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> LdapDirectory:
        return cls(
            settings.ldap_url,
            settings.ldap_bind_dn,
            settings.ldap_bind_password,
            settings.ldap_base_dn,
            settings.ldap_lock_attribute,
            settings.ldap_timeout_seconds,
            starttls=settings.ldap_starttls,
            ca_file=str(settings.ldap_ca_file) if settings.ldap_ca_file else None,
        )

    def find(self, username_or_email: str) -> DirectoryUser | None:
        entry = self._entry(username_or_email.strip())
        if entry is None:
            return None
        attributes: dict[str, Any] = entry["attributes"]
        return DirectoryUser(
            username=_first(attributes.get("uid")) or "",
            name=_first(attributes.get("cn")) or _first(attributes.get("uid")) or "",
            email=_first(attributes.get("mail")),
            locked=bool(attributes.get(self._lock_attribute)),
            administrator_lock=_administrator_lock(attributes.get(self._lock_attribute)),
        )

    def unlock(self, username: str) -> bool:
        entry = self._entry(username, by_mail=False)
        lock = entry["attributes"].get(self._lock_attribute) if entry is not None else None
        if entry is None or not lock:
            return False
        if _administrator_lock(lock):
            raise AdministratorLock(username)
        try:
            with self._connection() as connection:
                changes: dict[str, list[tuple[str, list[str]]]] = {
                    self._lock_attribute: [(ldap3.MODIFY_DELETE, [])]
                }
                done = connection.modify(entry["dn"], changes)
                result = connection.result
        except LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP modify failed: {type(exc).__name__}") from exc
        if not done:
            raise DirectoryUnavailable(f"unlock refused: {result.get('description')}")
        return True

    def _entry(self, value: str, by_mail: bool = True) -> dict[str, Any] | None:
        if not value:
            return None
        escaped = escape_filter_chars(value)
        search = f"(|(uid={escaped})(mail={escaped}))" if by_mail else f"(uid={escaped})"
        try:
            with self._connection() as connection:
                connection.search(
                    self._base_dn,
                    f"(&(objectClass=inetOrgPerson){search})",
                    attributes=["uid", "cn", "mail", self._lock_attribute],
                    size_limit=2,
                    time_limit=int(self._timeout) or 1,
                )
                entries = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
        except LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP search failed: {type(exc).__name__}") from exc
        # Two accounts matching one address is ambiguous: treat it as not found rather than guess.
        return dict(entries[0]) if len(entries) == 1 else None

    @contextmanager
    def _connection(self) -> Iterator[ldap3.Connection]:
        connection = ldap3.Connection(
            self._server,
            user=self._bind_dn or None,
            password=self._bind_password or None,
            # ldap3 packs it into a socket option as an integer: a float (the setting) raised struct.error.
            receive_timeout=max(1, math.ceil(self._timeout)),
            raise_exceptions=False,
        )
        try:
            if self._starttls:
                connection.open()
                # Before the bind: the service's password never crosses the network in the clear.
                if not connection.start_tls():
                    raise DirectoryUnavailable(
                        f"LDAP StartTLS refused: {connection.result.get('description')}"
                    )
            if not connection.bind():
                raise DirectoryUnavailable(f"LDAP bind refused: {connection.result.get('description')}")
            yield connection
        except LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP failed: {type(exc).__name__}") from exc
        finally:
            with suppress(LDAPException):
                connection.unbind()
            # ldap3 leaves the socket of a refused connection open; close it ourselves.
            leftover = getattr(connection, "socket", None)
            if leftover is not None:
                leftover.close()


def _administrator_lock(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(str(v).strip() == ADMINISTRATOR_LOCK for v in values if v is not None)


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)
