"""`SmtpMailer` against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handoff_api.core.config import Settings
from handoff_api.mail.sender import MailUnavailable, SmtpMailer
from tests.harness.certificates import self_signed_certificate
from tests.harness.smtp_server import SmtpSink, run_smtp_sink


def test_a_message_reaches_the_smtp_server(smtp_sink: SmtpSink) -> None:
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port, "IT help desk <helpdesk@example.com>")
    mailer.send(None, "jane.doe@example.com", "Hello", "Line one\nLine two\n")  # type: ignore[arg-type]
    [received] = smtp_sink.received
    assert received.recipients == ["jane.doe@example.com"]
    assert received.sender == "helpdesk@example.com"
    assert received.message["Subject"] == "Hello"
    assert received.message["To"] == "jane.doe@example.com"
    assert received.message["Message-ID"]
    assert "Line two" in received.message.get_payload(decode=True).decode()


def test_starttls_checks_the_servers_certificate(tmp_path: Path) -> None:
    """smtplib's own STARTTLS checks nothing: a server with any certificate (or a machine in the middle)
    got the codes and reset links. Now an unknown certificate is refused, and one from SMTP_CA_FILE passes."""
    certificate, key = self_signed_certificate(tmp_path, "smtp")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate, key)
    for sink in run_smtp_sink(tls):
        unknown = SmtpMailer(sink.host, sink.port, "helpdesk@example.com", starttls=True, timeout=5)
        with pytest.raises(MailUnavailable, match="SSLCertVerificationError"):
            unknown.send(None, "jane.doe@example.com", "Code", "123456")  # type: ignore[arg-type]
        assert sink.received == []
        trusted = SmtpMailer.from_settings(
            Settings(
                smtp_host=sink.host,
                smtp_port=sink.port,
                smtp_from="helpdesk@example.com",
                smtp_ca_file=certificate,
                helpdesk_data_dir=tmp_path,
            )
        )
        trusted.send(None, "jane.doe@example.com", "Code", "123456")  # type: ignore[arg-type]
        assert [r.recipients for r in sink.received] == [["jane.doe@example.com"]]
    # STARTTLS is the default, and a password never goes over a plain connection.
    assert Settings(helpdesk_data_dir=tmp_path).smtp_starttls is True
    plain = SmtpMailer("127.0.0.1", 1, "helpdesk@example.com", user="helpdesk", password="pw", timeout=2)
    with pytest.raises(MailUnavailable):
        plain.send(None, "jane.doe@example.com", "Code", "123456")  # type: ignore[arg-type]


def test_no_server_is_mail_unavailable() -> None:
    mailer = SmtpMailer("127.0.0.1", 1, "helpdesk@example.com", timeout=2)
    with pytest.raises(MailUnavailable):
        mailer.send(None, "jane.doe@example.com", "Hello", "body")  # type: ignore[arg-type]


def test_the_one_time_code_goes_out_by_smtp(client: TestClient, tokens: Any, smtp_sink: SmtpSink) -> None:
    client.app.state.identity_mailer = SmtpMailer(smtp_sink.host, smtp_sink.port, "helpdesk@example.com")
    bot = tokens.auth("bot")
    started = client.post(
        "/api/v1/identity/verifications",
        json={"username_or_email": "jdoe", "conversation_id": "smtp-conv"},
        headers=bot,
    )
    assert started.status_code == 201
    [received] = smtp_sink.received
    assert received.recipients == ["jane.doe@example.com"]
    code = re.search(r"code is (\d{6})", received.message.get_payload(decode=True).decode())
    assert code and code.group(1) not in started.text
    checked = client.post(
        f"/api/v1/identity/verifications/{started.json()['verification_id']}/check",
        json={"code": code.group(1)},
        headers=bot,
    )
    assert checked.json()["status"] == "verified"


def test_smtp_down_is_503_and_stores_no_verification(client: TestClient, tokens: Any) -> None:
    client.app.state.identity_mailer = SmtpMailer("127.0.0.1", 1, "helpdesk@example.com", timeout=2)
    response = client.post(
        "/api/v1/identity/verifications",
        json={"username_or_email": "jdoe", "conversation_id": "c"},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 503
