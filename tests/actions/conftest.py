"""Fixtures for the bot's custom actions.

The actions are tested against the real helpdesk service, started once per test session from the
service's own environment (`.venv/bin/helpdesk`) on a fresh SQLite database in a temporary folder.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.harness.service_process import REPO_ROOT, HelpdeskService, free_port, run_helpdesk_service

BOT_DIR = REPO_ROOT / "bot"
# `rasa run actions` imports the `actions` package with bot/ as the working directory.
sys.path.insert(0, str(BOT_DIR))


@pytest.fixture(scope="session")
def helpdesk_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskService]:
    yield from run_helpdesk_service(tmp_path_factory.mktemp("helpdesk"))


@pytest.fixture
def service_env(helpdesk_service: HelpdeskService, monkeypatch: pytest.MonkeyPatch) -> HelpdeskService:
    """Points the actions at the running service, as the action server's environment would."""
    monkeypatch.setenv("HELPDESK_URL", helpdesk_service.url)
    monkeypatch.setenv("HELPDESK_BOT_TOKEN", helpdesk_service.bot_token)
    return helpdesk_service


@pytest.fixture
def service_down_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Points the actions at a port where nothing listens: connections are refused at once."""
    monkeypatch.setenv("HELPDESK_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HELPDESK_BOT_TOKEN", "unused")


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The bot's domain as a dict, close to what Rasa sends with each action call."""
    with (BOT_DIR / "domain.yml").open() as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


@pytest.fixture
def l2_online(service_env: HelpdeskService) -> Iterator[HelpdeskService]:
    """An L2 engineer is online: a handoff pauses the bot at once."""
    service_env.set_agents_online("l2", True)
    yield service_env
    service_env.set_agents_online("l2", False)


@pytest.fixture
def l2_offline(service_env: HelpdeskService) -> HelpdeskService:
    """Nobody of L2 is online: the customer is told the expected wait and offered e-mail."""
    service_env.set_agents_online("l2", False)
    return service_env
