"""Starts the real stack on free loopback ports: the helpdesk service, the action server and Rasa."""

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BOT_DIR = ROOT / "bot"
RASA = ROOT / ".venv-bot" / "bin" / "rasa"
HELPDESK = ROOT / ".venv" / "bin" / "helpdesk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The bot's sentence model, exported once by `make train` (bot/nlu/sentence_embeddings.py): every stack
# shares the repository's copy.
SENTENCE_MODEL_DIR = Path(
    os.environ.get("HELPDESK_SENTENCE_MODEL_DIR") or ROOT / "var" / "nlu" / "all-minilm-l6-v2"
)


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "RASA_", "DATABASE_URL"))}
    env.update(
        HELPDESK_DATA_DIR=str(data_dir),
        HELPDESK_SENTENCE_MODEL_DIR=str(SENTENCE_MODEL_DIR),
        RASA_TELEMETRY_ENABLED="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        RASA_CACHE_DIRECTORY=str(data_dir / "rasa-cache"),
    )
    return env


def trained_model(models_dir: Path) -> Path:
    """The latest model of the shipped bot; trained here only when `make train` has not run."""
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        env = base_env(models_dir.parent)
        subprocess.run([str(RASA), "train", "--out", str(models_dir)], cwd=BOT_DIR, env=env, check=True)
        models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1]


def wait_until_ready(
    processes: dict[str, "Process"],
    checks: dict[str, str],
    timeout: float,
    on_ready: Callable[[str], None] | None = None,
    poll_seconds: float = 0.5,
) -> None:
    """Polls each process's health URL until all answer 200 (a Rasa process: with its model loaded)."""
    deadline = time.monotonic() + timeout
    pending = dict(checks)
    while pending:
        for name, url in list(pending.items()):
            process = processes[name].popen
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{processes[name].tail()}")
            try:
                response = httpx.get(url, timeout=2)
            except httpx.HTTPError:
                continue
            if response.status_code == 200 and (
                not name.startswith("rasa") or response.json().get("model_file")
            ):
                del pending[name]
                if on_ready is not None:
                    on_ready(name)
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{processes[n].tail()}" for n in pending)
            raise TimeoutError(f"not ready after {timeout} s: {sorted(pending)}\n{tails}")
        time.sleep(poll_seconds)


@dataclass
class Process:
    name: str
    args: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as handle:
            self.popen = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=handle, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def kill(self) -> None:
        """`kill -9`: no shutdown, no cleanup, whatever it was doing."""
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    data_dir: Path
    model: Path
    rasa_token: str = "e2e-rasa-token"
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    helpdesk_port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    # Rasa's channels; default bot/credentials.yml (tests/channels points `callback` at a stand-in).
    credentials: Path | None = None
    # Which processes start() starts (bench/footprint.py times each one alone); default all three.
    only: tuple[str, ...] = ("helpdesk", "actions", "rasa")

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def helpdesk_url(self) -> str:
        return f"http://127.0.0.1:{self.helpdesk_port}"

    def env(self) -> dict[str, str]:
        env = base_env(self.data_dir)
        env.update(
            RASA_URL=self.rasa_url,
            RASA_TOKEN=self.rasa_token,
            RASA_EVENTS_DB=str(self.data_dir / "rasa_events.db"),
            RASA_TRACKER_DB=str(self.data_dir / "rasa_tracker.db"),
            ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            HELPDESK_URL=self.helpdesk_url,
            HELPDESK_PORT=str(self.helpdesk_port),
            HELPDESK_BOT_TOKEN=self.tokens.get("bot", ""),
            # As `make run`: the dev mailbox keeps what the service mails; a follow-up is mailed a second
            # after the engineer's reply, not 30 s.
            HELPDESK_DEMO="true",
            HELPDESK_FOLLOWUP_MAIL_QUIET_SECONDS="1",
            SANIC_HOST="127.0.0.1",
        )
        return env

    def create_user(self, name: str, role: str) -> str:
        done = subprocess.run(
            [str(HELPDESK), "users", "create", "--name", name, "--role", role],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        token = done.stdout.strip().splitlines()[-1]
        self.tokens[name] = token
        return token

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        models = self.data_dir / "models"
        models.mkdir(exist_ok=True)
        shutil.copy(self.model, models / self.model.name)
        for name, role in [("bot", "bot"), ("alice", "l2"), ("bob", "l2"), ("carol", "l3")]:
            self.create_user(name, role)
        env = self.env()
        self.processes = {
            "helpdesk": Process(
                "helpdesk", [str(HELPDESK), "serve"], ROOT, env, self.data_dir / "helpdesk.log"
            ),
            "actions": Process(
                "actions",
                [str(RASA), "run", "actions", "--port", str(self.actions_port), "--actions", "actions"],
                BOT_DIR,
                env,
                self.data_dir / "actions.log",
            ),
            "rasa": Process(
                "rasa",
                [
                    str(RASA),
                    "run",
                    "-i",
                    "127.0.0.1",
                    "--enable-api",
                    "--auth-token",
                    self.rasa_token,
                    "--port",
                    str(self.rasa_port),
                    "--model",
                    str(models),
                    "--endpoints",
                    "endpoints.yml",
                    "--credentials",
                    str(self.credentials or "credentials.yml"),
                ],
                BOT_DIR,
                env,
                self.data_dir / "rasa.log",
            ),
        }
        self.processes = {name: p for name, p in self.processes.items() if name in self.only}
        for process in self.processes.values():
            process.start()
        self.wait_ready()

    def restart(self, name: str, *, kill: bool = False, timeout: float = 480) -> None:
        """Stops one process (`kill=True`: kill -9) and starts it again on the same port, environment
        and data (databases, tracker store), then waits until it answers."""
        (self.processes[name].kill if kill else self.processes[name].stop)()
        self.start_again(name, timeout=timeout)

    def start_again(self, name: str, *, timeout: float = 480) -> None:
        """Starts a process stopped with `processes[name].stop()` or `.kill()`; waits until it answers."""
        process = self.processes[name]
        assert process.popen is None or process.popen.poll() is not None, f"{name} is still running"
        process.start()
        self.wait_ready(timeout, names=(name,))

    def wait_ready(self, timeout: float = 480, names: tuple[str, ...] | None = None) -> None:
        wait_until_ready(self.processes, self.health_checks(names), timeout)

    def health_checks(self, names: tuple[str, ...] | None = None) -> dict[str, str]:
        """The health URL of each started process (of `names` only, when given)."""
        checks = {
            "helpdesk": f"{self.helpdesk_url}/healthz",
            "actions": f"http://127.0.0.1:{self.actions_port}/health",
            "rasa": f"{self.rasa_url}/status?token={self.rasa_token}",
        }
        return {
            name: url
            for name, url in checks.items()
            if name in self.processes and (names is None or name in names)
        }

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


def service_rows(stack: Stack, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Reads the service's own database (SQLite under the stack's data dir), read-only."""
    uri = f"file:{stack.data_dir / 'helpdesk.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        return db.execute(query, params).fetchall()
