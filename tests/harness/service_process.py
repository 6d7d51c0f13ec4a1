"""Runs the helpdesk service as a subprocess from its own environment, on a fresh database."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HELPDESK_BIN = Path(os.environ.get("HELPDESK_BIN", REPO_ROOT / ".venv" / "bin" / "helpdesk"))
STARTUP_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class HelpdeskService:
    url: str
    bot_token: str
    lead_token: str = ""
    database: Path | None = None

    def get(self, path: str) -> httpx.Response:
        """A synchronous call as the bot, for checking what the service stored."""
        return httpx.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.bot_token}"}, timeout=10
        )

    def as_lead(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.lead_token}"},
            timeout=10,
        )

    def mailbox(self, to: str) -> list[dict[str, str]]:
        """The dev mailbox (demo mode), newest first."""
        response = self.as_lead("/api/v1/dev/mailbox", to=to)
        assert response.status_code == 200, response.text
        mails: list[dict[str, str]] = response.json()
        return mails

    def latest_code(self, to: str) -> str:
        match = re.search(r"verification code is (\d{6})", self.mailbox(to)[0]["body"])
        assert match, "no code in the latest mail"
        return match.group(1)

    def set_agents_online(self, tier: str, online: bool) -> None:
        """Agents' presence has no API yet: set it in the service's database."""
        assert self.database is not None
        with sqlite3.connect(self.database) as connection:
            connection.execute(
                "UPDATE users SET presence = ? WHERE role = ?", ("online" if online else "offline", tier)
            )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(HELPDESK_BIN), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"helpdesk {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def run_helpdesk_service(data_dir: Path) -> Iterator[HelpdeskService]:
    """`helpdesk db upgrade`, a bot user, then `helpdesk serve` until the caller is done."""
    if not HELPDESK_BIN.exists():
        pytest.fail(f"{HELPDESK_BIN} not found: install the service environment first (make install)")

    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir}/helpdesk.db",
        "HELPDESK_PORT": str(port),
        # Demo mode: the dev mailbox holds the one-time codes the identity tests read.
        "HELPDESK_DEMO": "true",
    }
    run_cli(env, "db", "upgrade")
    # The token is printed alone on stdout's last line.
    bot_token = run_cli(env, "users", "create", "--name", "bot", "--role", "bot").strip().splitlines()[-1]
    lead_token = run_cli(env, "users", "create", "--name", "lena", "--role", "lead").strip().splitlines()[-1]
    run_cli(env, "users", "create", "--name", "alice", "--role", "l2")

    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(HELPDESK_BIN), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log_path)
        _wait_for_knowledge_base(url, bot_token)
        yield HelpdeskService(
            url=url, bot_token=bot_token, lead_token=lead_token, database=data_dir / "helpdesk.db"
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"helpdesk serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"helpdesk serve not healthy after {STARTUP_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")


def _wait_for_knowledge_base(url: str, bot_token: str, timeout: float = 240.0) -> None:
    """The service indexes the starter articles after start-up; the first search waits for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(
                f"{url}/api/v1/kb/search",
                params={"q": "vpn", "k": 1},
                headers={"Authorization": f"Bearer {bot_token}"},
                timeout=60,
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the knowledge base did not answer within {timeout}s")
