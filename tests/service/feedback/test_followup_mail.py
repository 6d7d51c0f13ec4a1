"""The engineers' replies reach a customer who asked for e-mail follow-up (feedback/followups.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_api.core.migrate import alembic_config
from handoff_api.feedback.followups import mail_due
from handoff_api.mail.sender import DevMailbox, MailUnavailable, SmtpMailer
from handoff_api.models import DevMail, FollowUp, utcnow
from tests.harness.smtp_server import SmtpSink
from tests.service.conftest import Mailbox

ADDRESS = "jane.doe@example.com"


def _follow_up(client: TestClient, tokens: Any, handoff: dict[str, Any], email: str = ADDRESS) -> None:
    response = client.post(
        f"/api/v1/tickets/{handoff['number']}/follow-up",
        json={"conversation_id": handoff["conversation_id"], "email": email},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 201, response.text


def _reply(client: TestClient, tokens: Any, handoff: dict[str, Any], text: str) -> None:
    response = client.post(
        f"/api/v1/handoffs/{handoff['id']}/messages", json={"text": text}, headers=tokens.auth("l2")
    )
    assert response.status_code == 201, response.text


def _claimed(client: TestClient, tokens: Any, handoff_factory: Any, conversation_id: str) -> dict[str, Any]:
    handoff: dict[str, Any] = handoff_factory.create(conversation_id)
    claimed = client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    assert claimed.status_code == 200, claimed.text
    return handoff


def _replies_mailed(mailbox: Mailbox, email: str = ADDRESS) -> list[dict[str, Any]]:
    return [m for m in mailbox.messages(email) if m["subject"].startswith("Re: ")]


def test_replies_after_the_request_are_mailed_together_once(
    demo: TestClient, tokens: Any, handoff_factory: Any, mailbox: Mailbox
) -> None:
    handoff = _claimed(demo, tokens, handoff_factory, "conv-mail")
    _reply(demo, tokens, handoff, "Said before the customer asked for e-mail")
    _follow_up(demo, tokens, handoff)
    _reply(demo, tokens, handoff, "Your mailbox is full: I have archived last year's mail.")
    _reply(demo, tokens, handoff, "Please try again.\nIt should work now.")
    sessions = demo.app.state.sessions

    assert mail_due(sessions, DevMailbox(), quiet_seconds=0) == 1
    [mail] = _replies_mailed(mailbox)
    assert mail["subject"] == f"Re: Your IT help desk ticket {handoff['number']}"
    body = mail["body"]
    assert "archived last year's mail" in body and "  It should work now." in body
    assert body.index("archived") < body.index("Please try again")
    assert "Said before" not in body
    assert "agent-l2" in body and handoff["number"] in body
    # Nothing new: nothing mailed again.
    assert mail_due(sessions, DevMailbox(), quiet_seconds=0) == 0
    assert len(_replies_mailed(mailbox)) == 1
    history = demo.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("l2")).json()["history"]
    mailed = [e for e in history if e["kind"] == "followup.mailed"]
    assert [e["detail"] for e in mailed] == [{"email": ADDRESS, "replies": 2}]

    _reply(demo, tokens, handoff, "Closing this now; write again if it comes back.")
    assert mail_due(sessions, DevMailbox(), quiet_seconds=0) == 1
    latest = _replies_mailed(mailbox)
    assert len(latest) == 2
    newest = next(m for m in latest if "Closing this now" in m["body"])
    assert "archived" not in newest["body"]


def test_a_customer_following_by_mail_hears_where_the_ticket_went(
    demo: TestClient, tokens: Any, handoff_factory: Any, mailbox: Mailbox
) -> None:
    handoff = _claimed(demo, tokens, handoff_factory, "conv-mail-escalated")
    _follow_up(demo, tokens, handoff)
    escalated = demo.post(
        f"/api/v1/handoffs/{handoff['id']}/escalate", json={"tier": "l3"}, headers=tokens.auth("l2")
    )
    assert escalated.status_code == 200, escalated.text
    assert mail_due(demo.app.state.sessions, DevMailbox(), quiet_seconds=0) == 1
    [mail] = _replies_mailed(mailbox)
    body = mail["body"]
    assert f"there is news on your IT help desk request {handoff['number']}:" in body
    assert "IT help desk, " in body and "has gone to our L3 engineers" in body
    assert "an engineer answered" not in body


def test_a_burst_of_replies_waits_for_the_quiet_period(
    demo: TestClient, tokens: Any, handoff_factory: Any, mailbox: Mailbox
) -> None:
    handoff = _claimed(demo, tokens, handoff_factory, "conv-quiet")
    _follow_up(demo, tokens, handoff)
    _reply(demo, tokens, handoff, "Looking into it.")
    sessions = demo.app.state.sessions
    assert mail_due(sessions, DevMailbox(), quiet_seconds=60) == 0
    assert _replies_mailed(mailbox) == []
    later = utcnow() + timedelta(seconds=61)
    assert mail_due(sessions, DevMailbox(), quiet_seconds=60, now=later) == 1
    assert "Looking into it." in _replies_mailed(mailbox)[0]["body"]


def test_asking_twice_for_one_address_mails_each_reply_once(
    demo: TestClient, tokens: Any, handoff_factory: Any, mailbox: Mailbox
) -> None:
    handoff = _claimed(demo, tokens, handoff_factory, "conv-twice")
    _follow_up(demo, tokens, handoff)
    _follow_up(demo, tokens, handoff, email=ADDRESS.upper())
    _follow_up(demo, tokens, handoff, email="second@example.com")
    _reply(demo, tokens, handoff, "On it.")
    assert mail_due(demo.app.state.sessions, DevMailbox(), quiet_seconds=0) == 2
    assert len(_replies_mailed(mailbox)) == 1
    assert len(_replies_mailed(mailbox, "second@example.com")) == 1


def test_a_refused_mail_is_retried_later_over_smtp(
    client: TestClient, tokens: Any, handoff_factory: Any, smtp_sink: SmtpSink
) -> None:
    client.app.state.identity_mailer = SmtpMailer(smtp_sink.host, smtp_sink.port, "helpdesk@example.com")
    handoff = _claimed(client, tokens, handoff_factory, "conv-smtp")
    _follow_up(client, tokens, handoff)
    smtp_sink.received.clear()  # the confirmation
    _reply(client, tokens, handoff, "The VPN profile is fixed.")
    sessions = client.app.state.sessions

    down = SmtpMailer("127.0.0.1", 1, "helpdesk@example.com", timeout=2)
    assert mail_due(sessions, down, quiet_seconds=0) == 0
    with sessions() as session:
        followup = session.scalars(select(FollowUp)).one()
        assert followup.mail_attempts == 1 and followup.last_error and "SMTP" in followup.last_error
        retry_at = followup.mail_retry_at
    assert retry_at is not None and retry_at > utcnow()
    # Before the retry time nothing is tried, even with the server back.
    up = SmtpMailer(smtp_sink.host, smtp_sink.port, "helpdesk@example.com")
    assert mail_due(sessions, up, quiet_seconds=0) == 0
    assert smtp_sink.received == []

    assert mail_due(sessions, up, quiet_seconds=0, now=retry_at) == 1
    [received] = smtp_sink.received
    assert received.recipients == [ADDRESS]
    assert "The VPN profile is fixed." in received.message.get_payload(decode=True).decode()
    with sessions() as session:
        followup = session.scalars(select(FollowUp)).one()
        assert (followup.mail_attempts, followup.mail_retry_at, followup.last_error) == (0, None, None)


def test_follow_ups_from_before_the_upgrade_mail_only_later_replies(
    client: TestClient, tokens: Any, handoff_factory: Any, settings: Any
) -> None:
    """Migration 0007 starts every existing follow-up after the lines already on its handoff."""
    handoff = _claimed(client, tokens, handoff_factory, "conv-upgrade")
    _follow_up(client, tokens, handoff)
    _reply(client, tokens, handoff, "Written before the upgrade")
    client.app.state.engine.dispose()
    config = alembic_config(settings.sqlalchemy_url)
    command.downgrade(config, "0006")
    command.upgrade(config, "head")
    _reply(client, tokens, handoff, "Written after the upgrade")
    assert mail_due(client.app.state.sessions, DevMailbox(), quiet_seconds=0) == 1
    with client.app.state.sessions() as session:
        [body] = session.scalars(select(DevMail.body).where(DevMail.subject.startswith("Re: ")))
    assert "after the upgrade" in body and "before the upgrade" not in body


class RefusingOne(DevMailbox):
    """A mail system that refuses one address and keeps the rest in the dev mailbox."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.tried: list[str] = []

    def send(self, session: Any, to: str, subject: str, body: str) -> None:
        self.tried.append(to)
        if to == self.refused:
            raise MailUnavailable("SMTP: 550 mailbox unavailable")
        super().send(session, to, subject, body)


def test_a_refusal_ends_the_pass_and_the_refused_address_waits_its_turn(
    demo: TestClient, tokens: Any, handoff_factory: Any, mailbox: Mailbox
) -> None:
    first = _claimed(demo, tokens, handoff_factory, "conv-refused")
    second = _claimed(demo, tokens, handoff_factory, "conv-fine")
    _follow_up(demo, tokens, first, email="gone@example.com")
    _follow_up(demo, tokens, second)
    _reply(demo, tokens, first, "For the address that no longer exists")
    _reply(demo, tokens, second, "For Jane")
    mailer = RefusingOne("gone@example.com")
    sessions = demo.app.state.sessions

    # A mail server that refuses (or is down) is asked once per pass, not once per follow-up.
    assert mail_due(sessions, mailer, quiet_seconds=0) == 0
    assert mailer.tried == ["gone@example.com"]
    # The refused follow-up waits for its retry time; the others go out on the next pass.
    assert mail_due(sessions, mailer, quiet_seconds=0) == 1
    assert mailer.tried == ["gone@example.com", ADDRESS]
    assert "For Jane" in _replies_mailed(mailbox)[0]["body"]
