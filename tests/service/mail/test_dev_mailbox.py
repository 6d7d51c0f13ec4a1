"""The dev mailbox exists in demo mode only, for leads, newest first."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

START = "/api/v1/identity/verifications"


def test_outside_demo_mode_the_dev_mailbox_does_not_exist(client: TestClient, tokens: Any) -> None:
    response = client.get(
        "/api/v1/dev/mailbox", params={"to": "jane.doe@example.com"}, headers=tokens.auth("lead")
    )
    assert response.status_code == 404
    assert client.get("/dev/mailbox").status_code == 404


def test_a_lead_reads_mail_newest_first(demo: TestClient, tokens: Any) -> None:
    bot = tokens.auth("bot")
    for _ in range(2):
        demo.post(START, json={"username_or_email": "jdoe", "conversation_id": "c"}, headers=bot)
    started = demo.post(START, json={"username_or_email": "jdoe", "conversation_id": "c"}, headers=bot).json()
    response = demo.get(
        "/api/v1/dev/mailbox", params={"to": "Jane.Doe@example.com"}, headers=tokens.auth("lead")
    )
    assert response.status_code == 200
    mails = response.json()
    assert len(mails) == 3
    assert set(mails[0]) == {"to", "subject", "body", "sent_at"}
    assert mails[0]["to"] == "jane.doe@example.com"
    assert mails[0]["subject"] == "Your IT help desk verification code"
    assert [m["sent_at"] for m in mails] == sorted((m["sent_at"] for m in mails), reverse=True)
    assert started["verification_id"] not in str(mails)
    # Nobody else's mail.
    other = demo.get(
        "/api/v1/dev/mailbox", params={"to": "max.locked@example.com"}, headers=tokens.auth("lead")
    )
    assert other.json() == []


def test_only_a_lead_reads_the_dev_mailbox(demo: TestClient, tokens: Any) -> None:
    params = {"to": "jane.doe@example.com"}
    assert demo.get("/api/v1/dev/mailbox", params=params).status_code == 401
    for role in ("bot", "l2", "editor"):
        assert demo.get("/api/v1/dev/mailbox", params=params, headers=tokens.auth(role)).status_code == 403
    assert (
        demo.get(
            "/api/v1/dev/mailbox", params={"to": "not-an-address"}, headers=tokens.auth("lead")
        ).status_code
        == 422
    )


def test_the_web_page_is_served_in_demo_mode(demo: TestClient) -> None:
    page = demo.get("/dev/mailbox")
    assert page.status_code == 200 and "Dev mailbox" in page.text
