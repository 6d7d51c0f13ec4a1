"""`LdapDirectory` against a real OpenLDAP slapd (ppolicy's pwdAccountLockedTime marks a lockout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handoff_api.core.config import Settings
from handoff_api.identity.directory import AdministratorLock, DirectoryUnavailable, DirectoryUser
from handoff_api.identity.ldap_directory import LdapDirectory
from tests.harness.ldap_server import Slapd
from tests.service.conftest import Mailbox


def _directory(slapd: Slapd, password: str | None = None) -> LdapDirectory:
    return LdapDirectory(slapd.url, slapd.bind_dn, password or slapd.bind_password, slapd.base_dn, timeout=3)


def test_finds_people_by_uid_or_mail(slapd: Slapd) -> None:
    directory = _directory(slapd)
    jane = DirectoryUser("jdoe", "Jane Doe", "jane.doe@example.com", locked=False)
    assert directory.find("jdoe") == jane
    assert directory.find("JANE.DOE@example.com") == jane
    assert directory.find(" jdoe ") == jane
    locked = directory.find("max.locked@example.com")
    assert locked is not None and locked.username == "mlocked" and locked.locked


def test_unknown_ambiguous_and_wildcard_lookups_find_nobody(slapd: Slapd) -> None:
    directory = _directory(slapd)
    assert directory.find("nobody") is None
    assert directory.find("") is None
    # Two accounts share this address: refuse to guess.
    assert directory.find("shared@example.com") is None
    # Filter metacharacters are escaped: "*" is a literal, not a wildcard.
    assert directory.find("*") is None
    assert directory.find("j*") is None
    assert directory.find("jdoe)(uid=*") is None
    star = directory.find("star*")
    assert star is not None and star.email == "star@example.com"


def test_unlock_clears_the_lockout_once(slapd: Slapd) -> None:
    directory = _directory(slapd)
    assert directory.unlock("asmith") is False
    assert directory.unlock("nobody") is False
    # The lockout of mlocked may have been cleared by the API test already (one slapd per session).
    was_locked = directory.find("mlocked")
    assert was_locked is not None
    assert directory.unlock("mlocked") is was_locked.locked
    after = directory.find("mlocked")
    assert after is not None and after.locked is False
    assert directory.unlock("mlocked") is False


def test_an_administrators_lock_stays(slapd: Slapd) -> None:
    """ppolicy's 000001010000Z is an administrator's permanent lock: self-service never deletes it."""
    directory = _directory(slapd)
    found = directory.find("ada.locked@example.com")
    assert found is not None and found.locked and found.administrator_lock
    with pytest.raises(AdministratorLock):
        directory.unlock("alocked")
    after = directory.find("alocked")
    assert after is not None and after.locked and after.administrator_lock
    mlocked = directory.find("mlocked")
    assert mlocked is not None and not mlocked.administrator_lock


def test_starttls_checks_the_directorys_certificate(slapd: Slapd, tmp_path: Path) -> None:
    """On by default (Settings), before the bind: an unknown certificate is refused, the one named in
    LDAP_CA_FILE is trusted, and then everything works over TLS."""
    settings = Settings(
        helpdesk_data_dir=tmp_path,
        helpdesk_directory="ldap",
        ldap_url=slapd.url,
        ldap_bind_dn=slapd.bind_dn,
        ldap_bind_password=slapd.bind_password,
        ldap_base_dn=slapd.base_dn,
        ldap_timeout_seconds=3,
    )
    assert settings.ldap_starttls is True
    with pytest.raises(DirectoryUnavailable, match=r"TLS|certificate|SSL"):
        LdapDirectory.from_settings(settings).find("jdoe")
    trusted = LdapDirectory.from_settings(settings.model_copy(update={"ldap_ca_file": slapd.ca_file}))
    jane = trusted.find("jdoe")
    assert jane is not None and jane.email == "jane.doe@example.com"


def test_wrong_credentials_or_no_server_are_unavailable(slapd: Slapd) -> None:
    with pytest.raises(DirectoryUnavailable):
        _directory(slapd, password="wrong").find("jdoe")
    with pytest.raises(DirectoryUnavailable):
        LdapDirectory("ldap://127.0.0.1:1", "", "", slapd.base_dn, timeout=1).find("jdoe")


def test_the_api_unlocks_an_ldap_account(
    demo: TestClient, tokens: Any, mailbox: Mailbox, slapd: Slapd
) -> None:
    demo.app.state.identity_directory = _directory(slapd)
    bot = tokens.auth("bot")
    directory = _directory(slapd)
    before = directory.find("mlocked")
    assert before is not None
    started = demo.post(
        "/api/v1/identity/verifications",
        json={"username_or_email": "max.locked@example.com", "conversation_id": "ldap-conv"},
        headers=bot,
    ).json()
    code = mailbox.latest_code("max.locked@example.com")
    checked = demo.post(
        f"/api/v1/identity/verifications/{started['verification_id']}/check", json={"code": code}, headers=bot
    )
    assert checked.json()["status"] == "verified"
    unlocked = demo.post(f"/api/v1/identity/verifications/{started['verification_id']}/unlock", headers=bot)
    assert unlocked.json()["was_locked"] is before.locked
    after = directory.find("mlocked")
    assert after is not None and not after.locked


def test_the_api_says_503_when_the_directory_is_down(demo: TestClient, tokens: Any, slapd: Slapd) -> None:
    demo.app.state.identity_directory = LdapDirectory("ldap://127.0.0.1:1", "", "", slapd.base_dn, timeout=1)
    response = demo.post(
        "/api/v1/identity/verifications",
        json={"username_or_email": "jdoe", "conversation_id": "c"},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 503
