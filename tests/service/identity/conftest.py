"""Fixtures of the identity tests: demo mode, reading the dev mailbox, a real slapd, a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .ldap_server import Slapd, run_slapd
from .smtp_server import SmtpSink, run_smtp_sink

CODE = re.compile(r"verification code is (\d{6})")


@pytest.fixture
def demo(client: TestClient) -> TestClient:
    """The app in demo mode (as `make run` starts it): the dev mailbox exists."""
    client.app.state.settings = client.app.state.settings.model_copy(update={"helpdesk_demo": True})
    return client


class Mailbox:
    def __init__(self, client: TestClient, lead_headers: dict[str, str]) -> None:
        self.client = client
        self.headers = lead_headers

    def messages(self, to: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/dev/mailbox", params={"to": to}, headers=self.headers)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result

    def latest_code(self, to: str) -> str:
        match = CODE.search(self.messages(to)[0]["body"])
        assert match, "no code in the latest message"
        return match.group(1)


@pytest.fixture
def mailbox(demo: TestClient, tokens: Any) -> Mailbox:
    return Mailbox(demo, tokens.auth("lead"))


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    yield from run_slapd(Path(tmp_path_factory.mktemp("slapd")))


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    yield from run_smtp_sink()
