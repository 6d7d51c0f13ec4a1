"""Verify a customer by a one-time code, then unlock their account or mail a reset link."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from handoff_api.models import SelfServiceLockout, Verification, utcnow
from tests.service.conftest import Mailbox

START = "/api/v1/identity/verifications"


def _start(client: TestClient, bot: dict[str, str], who: str, conversation: str = "conv-id") -> Any:
    return client.post(START, json={"username_or_email": who, "conversation_id": conversation}, headers=bot)


def _check(client: TestClient, bot: dict[str, str], verification_id: str, code: str) -> Any:
    return client.post(f"{START}/{verification_id}/check", json={"code": code}, headers=bot)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_jdoe_gets_a_code_by_mail_and_a_reset_link_after_checking_it(
    demo: TestClient, tokens: Any, mailbox: Mailbox
) -> None:
    bot = tokens.auth("bot")
    started = _start(demo, bot, "jdoe")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["masked_destination"] == "j******e@example.com"
    assert set(body) == {"verification_id", "masked_destination", "expires_at", "code_length"}
    code = mailbox.latest_code("jane.doe@example.com")
    assert code not in started.text

    checked = _check(demo, bot, body["verification_id"], code)
    assert checked.status_code == 200
    assert checked.json()["status"] == "verified"
    assert checked.json()["customer"] == {
        "id": "jdoe",
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "verified": True,
    }
    assert checked.json()["account_locked"] is False
    assert code not in checked.text

    link = demo.post(f"{START}/{body['verification_id']}/reset-link", headers=bot)
    assert link.status_code == 200
    assert link.json() == {"sent": True, "masked_destination": "j******e@example.com"}
    latest = mailbox.messages("jane.doe@example.com")[0]
    assert latest["subject"] == "Reset your password"
    assert re.search(r"https://id\.example\.com/reset\?token=[\w.%-]+", latest["body"])

    # jdoe was never locked: unlocking changes nothing and says so.
    unlocked = demo.post(f"{START}/{body['verification_id']}/unlock", headers=bot)
    assert unlocked.json() == {"unlocked": False, "was_locked": False, "locked_by_administrator": False}


def test_a_locked_out_account_is_unlocked_after_verification(
    demo: TestClient, tokens: Any, mailbox: Mailbox
) -> None:
    bot = tokens.auth("bot")
    # By e-mail address, in any case.
    started = _start(demo, bot, " Max.Locked@Example.com ").json()
    checked = _check(demo, bot, started["verification_id"], mailbox.latest_code("max.locked@example.com"))
    assert (checked.json()["status"], checked.json()["account_locked"]) == ("verified", True)

    unlocked = demo.post(f"{START}/{started['verification_id']}/unlock", headers=bot)
    assert unlocked.json() == {"unlocked": True, "was_locked": True, "locked_by_administrator": False}

    again = _start(demo, bot, "mlocked").json()
    rechecked = _check(demo, bot, again["verification_id"], mailbox.latest_code("max.locked@example.com"))
    assert rechecked.json()["account_locked"] is False


def test_an_administrators_lock_is_never_lifted_by_self_service(
    demo: TestClient, tokens: Any, mailbox: Mailbox
) -> None:
    bot = tokens.auth("bot")
    started = _start(demo, bot, "alocked").json()
    checked = _check(demo, bot, started["verification_id"], mailbox.latest_code("ada.locked@example.com"))
    assert (checked.json()["status"], checked.json()["account_locked"]) == ("verified", True)
    refused = demo.post(f"{START}/{started['verification_id']}/unlock", headers=bot)
    assert refused.status_code == 200
    assert refused.json() == {"unlocked": False, "was_locked": True, "locked_by_administrator": True}
    again = _start(demo, bot, "alocked").json()
    rechecked = _check(demo, bot, again["verification_id"], mailbox.latest_code("ada.locked@example.com"))
    assert rechecked.json()["account_locked"] is True, "still locked"


def test_directory_actions_are_in_the_audit_log(demo: TestClient, tokens: Any, mailbox: Mailbox) -> None:
    bot = tokens.auth("bot")
    for who, address in [("mlocked", "max.locked@example.com"), ("alocked", "ada.locked@example.com")]:
        started = _start(demo, bot, who, conversation=f"conv-{who}").json()
        _check(demo, bot, started["verification_id"], mailbox.latest_code(address))
        demo.post(f"{START}/{started['verification_id']}/unlock", headers=bot)
    started = _start(demo, bot, "jdoe", conversation="conv-jdoe").json()
    _check(demo, bot, started["verification_id"], mailbox.latest_code("jane.doe@example.com"))
    assert demo.post(f"{START}/{started['verification_id']}/reset-link", headers=bot).status_code == 200

    log = demo.get("/api/v1/audit", headers=tokens.auth("lead"))
    assert log.status_code == 200
    entries = [(e["action"], e["target"], e["actor"], e["detail"]["conversation_id"]) for e in log.json()]
    assert entries[:3] == [
        ("directory.reset_link_sent", "jdoe", "bot:self-service", "conv-jdoe"),
        ("directory.administrator_lock", "alocked", "bot:self-service", "conv-alocked"),
        ("directory.unlocked", "mlocked", "bot:self-service", "conv-mlocked"),
    ]
    assert demo.get("/api/v1/audit", headers=tokens.auth("l2")).status_code == 403


def test_three_wrong_codes_lock_self_service_for_the_account(
    demo: TestClient, tokens: Any, mailbox: Mailbox
) -> None:
    bot = tokens.auth("bot")
    started = _start(demo, bot, "asmith").json()
    code = mailbox.latest_code("alex.smith@example.com")
    answers = [_check(demo, bot, started["verification_id"], _wrong(code)).json() for _ in range(3)]
    assert [(a["status"], a["attempts_left"]) for a in answers] == [
        ("wrong_code", 2),
        ("wrong_code", 1),
        ("locked", 0),
    ]
    assert answers[2]["locked_until"]
    # The right code no longer helps, and no new code is sent.
    assert _check(demo, bot, started["verification_id"], code).json()["status"] == "locked"
    refused = _start(demo, bot, "alex.smith@example.com")
    assert refused.status_code == 423
    assert refused.json()["locked_until"] == answers[2]["locked_until"]
    assert demo.post(f"{START}/{started['verification_id']}/unlock", headers=bot).status_code == 409

    # After the lockout window, self-service opens again.
    with demo.app.state.sessions.begin() as session:
        session.execute(update(SelfServiceLockout).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert _start(demo, bot, "asmith").status_code == 201


def test_acting_needs_a_verified_code(demo: TestClient, tokens: Any) -> None:
    bot = tokens.auth("bot")
    started = _start(demo, bot, "jdoe").json()
    for action in ("unlock", "reset-link"):
        response = demo.post(f"{START}/{started['verification_id']}/{action}", headers=bot)
        assert response.status_code == 409, action
    assert demo.post(f"{START}/no-such-id/unlock", headers=bot).status_code == 404
    assert _check(demo, bot, "no-such-id", "123456").status_code == 404


def test_expired_and_superseded_codes_do_not_verify(demo: TestClient, tokens: Any, mailbox: Mailbox) -> None:
    bot = tokens.auth("bot")
    first = _start(demo, bot, "jdoe").json()
    first_code = mailbox.latest_code("jane.doe@example.com")
    second = _start(demo, bot, "jdoe").json()
    assert _check(demo, bot, first["verification_id"], first_code).json()["status"] == "expired"

    with demo.app.state.sessions.begin() as session:
        session.execute(
            update(Verification)
            .where(Verification.id == second["verification_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    second_code = mailbox.latest_code("jane.doe@example.com")
    assert _check(demo, bot, second["verification_id"], second_code).json()["status"] == "expired"


def test_unknown_accounts_and_accounts_without_mail(demo: TestClient, tokens: Any) -> None:
    bot = tokens.auth("bot")
    assert _start(demo, bot, "nobody").status_code == 404
    assert _start(demo, bot, "nobody@example.com").status_code == 404
    assert _start(demo, bot, "nomail").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username_or_email": "", "conversation_id": "c"}, "username_or_email"),
        ({"username_or_email": "jdoe"}, "conversation_id"),
        ({"username_or_email": "jdoe", "conversation_id": "c", "password": "x"}, "password"),
    ],
)
def test_bad_input_names_the_field(demo: TestClient, tokens: Any, body: dict[str, str], field: str) -> None:
    response = demo.post(START, json=body, headers=tokens.auth("bot"))
    assert response.status_code == 422
    assert field in str(response.json()["detail"])


def test_malformed_codes_are_422_and_do_not_count(demo: TestClient, tokens: Any, mailbox: Mailbox) -> None:
    bot = tokens.auth("bot")
    started = _start(demo, bot, "jdoe").json()
    for code in ("12345", "abcdef", "1234567", ""):
        response = _check(demo, bot, started["verification_id"], code)
        assert response.status_code == 422
        assert code not in str(response.json()) or code == ""
    code = mailbox.latest_code("jane.doe@example.com")
    assert _check(demo, bot, started["verification_id"], code).json()["attempts_left"] == 3


def test_a_new_code_does_not_give_new_guesses(demo: TestClient, tokens: Any, mailbox: Mailbox) -> None:
    """At most 3 wrong codes per account in the window, however many codes are asked for (each new
    code used to start its own count: about 10 guesses per account per 30 minutes, never locked)."""
    bot = tokens.auth("bot")
    first = _start(demo, bot, "asmith").json()
    code = mailbox.latest_code("alex.smith@example.com")
    assert _check(demo, bot, first["verification_id"], _wrong(code)).json()["attempts_left"] == 2
    assert _check(demo, bot, first["verification_id"], _wrong(code)).json()["attempts_left"] == 1
    second = _start(demo, bot, "asmith", conversation="another-conversation").json()
    code = mailbox.latest_code("alex.smith@example.com")
    third = _check(demo, bot, second["verification_id"], _wrong(code)).json()
    assert (third["status"], third["attempts_left"]) == ("locked", 0)
    assert _start(demo, bot, "asmith").status_code == 423
    assert _check(demo, bot, second["verification_id"], code).json()["status"] == "locked"


def test_a_verified_code_ends_the_count_of_wrong_ones(
    demo: TestClient, tokens: Any, mailbox: Mailbox
) -> None:
    bot = tokens.auth("bot")
    first = _start(demo, bot, "jdoe").json()
    code = mailbox.latest_code("jane.doe@example.com")
    for _ in range(2):
        _check(demo, bot, first["verification_id"], _wrong(code))
    assert _check(demo, bot, first["verification_id"], code).json()["status"] == "verified"
    again = _start(demo, bot, "jdoe").json()
    code = mailbox.latest_code("jane.doe@example.com")
    assert _check(demo, bot, again["verification_id"], _wrong(code)).json()["attempts_left"] == 2


def test_too_many_codes_for_one_account_is_429(demo: TestClient, tokens: Any) -> None:
    bot = tokens.auth("bot")
    statuses = [_start(demo, bot, "jdoe").status_code for _ in range(6)]
    assert statuses == [201] * 5 + [429]


def test_only_the_bot_verifies(demo: TestClient, tokens: Any) -> None:
    body = {"username_or_email": "jdoe", "conversation_id": "c"}
    assert demo.post(START, json=body).status_code == 401
    for role in ("l2", "lead", "editor"):
        assert demo.post(START, json=body, headers=tokens.auth(role)).status_code == 403


def test_codes_are_hashed_at_rest_and_never_logged(
    demo: TestClient, tokens: Any, mailbox: Mailbox, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = tokens.auth("bot")
    started = _start(demo, bot, "jdoe").json()
    code = mailbox.latest_code("jane.doe@example.com")
    _check(demo, bot, started["verification_id"], _wrong(code))
    _check(demo, bot, started["verification_id"], code)
    with demo.app.state.sessions() as session:
        row = session.scalar(select(Verification).where(Verification.id == started["verification_id"]))
        assert row is not None and code not in row.code_hash and len(row.code_hash) == 64
    captured = capsys.readouterr()
    assert code not in caplog.text and code not in captured.out and code not in captured.err
