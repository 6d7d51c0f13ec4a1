"""Each test gets a migrated database (SQLite, and PostgreSQL when it runs) and a small app on it; and what
the service's tests share: tokens, a handoff factory, the dev mailbox, real slapd and SMTP servers, Rasa's
SQL event broker table."""

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert, text
from sqlalchemy.engine import make_url

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.core.migrate import upgrade
from handoff_api.kb.index import STARTER_CORPUS
from handoff_api.main import create_app
from handoff_api.rasa.sql_broker import SqlBrokerSource, consume_once
from handoff_api.users import service as users
from knowledge_base.embeddings import MiniLMEmbedder
from tests.harness.ldap_server import Slapd, run_slapd
from tests.harness.smtp_server import SmtpSink, run_smtp_sink

POSTGRES_ADMIN_URL = os.environ.get(
    "HELPDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_database() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"helpdesk_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable ({type(exc).__name__}); it is required when CI=true")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpdesk.db'}"
    else:
        yield from _postgres_database()


# What Prometheus sends to read /metrics (HELPDESK_METRICS_TOKEN).
METRICS_TOKEN = "test-metrics-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}

# A few real articles: enough to search, quick to embed for every test's fresh database.
STARTER_SAMPLE = ("password-reset", "vpn-windows", "wifi-guest")


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def kb_seed_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed-articles"
    seed.mkdir()
    for article_id in STARTER_SAMPLE:
        shutil.copy(STARTER_CORPUS / f"{article_id}.md", seed / f"{article_id}.md")
    return seed


def migrated_settings(database_url: str, folder: Path, kb_seed_dir: Path, **overrides: Any) -> Settings:
    """A test's settings: the database migrated, data under `folder`, a small starter corpus."""
    upgrade(database_url)
    return Settings(
        helpdesk_data_dir=folder,
        database_url=database_url,
        helpdesk_secret_key="test-secret-key",
        rasa_events_db_url=f"sqlite:///{folder / 'rasa_events.db'}",
        helpdesk_kb_seed_dir=kb_seed_dir,
        helpdesk_kb_warm_start=False,
        **{"helpdesk_metrics_token": METRICS_TOKEN, **overrides},
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path, kb_seed_dir: Path) -> Settings:
    return migrated_settings(database_url, tmp_path, kb_seed_dir)


@pytest.fixture
def client(settings: Settings, embedder: MiniLMEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(settings, background=False, embedder=embedder)) as test_client:
        yield test_client


@dataclass
class Tokens:
    bot: str
    l2: str
    l2_other: str
    l3: str
    l4: str
    lead: str
    editor: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    engine = make_engine(settings.sqlalchemy_url)
    created: dict[str, str] = {}
    with transaction(make_session_factory(engine)) as session:
        for name, role in [
            ("bot", "bot"),
            ("l2", "l2"),
            ("l2_other", "l2"),
            ("l3", "l3"),
            ("l4", "l4"),
            ("lead", "lead"),
            ("editor", "editor"),
        ]:
            _user, token = users.create(session, settings.secret_key(), f"agent-{name}", role)
            created[name] = token
    engine.dispose()
    return Tokens(**created)


def _handoff_body(conversation_id: str = "conv-1", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "conversation_id": conversation_id,
        "channel": "socketio",
        "reason": "customer_request",
        "context": {"intent": "request_human", "confidence": 0.93, "slots": {"device": "laptop"}},
        "transcript": [
            {"role": "customer", "text": "hi", "at": "2026-11-26T10:00:00Z"},
            {"role": "bot", "text": "Hello! How can I help?", "at": "2026-11-26T10:00:01Z"},
            {"role": "customer", "text": "I want a human", "at": "2026-11-26T10:00:05Z"},
        ],
    }
    body.update(overrides)
    return body


class HandoffFactory:
    def __init__(self, client: TestClient, tokens: Tokens) -> None:
        self.client = client
        self.tokens = tokens

    def body(self, conversation_id: str = "conv-1", **overrides: object) -> dict[str, object]:
        return _handoff_body(conversation_id, **overrides)

    def create(self, conversation_id: str = "conv-1", **overrides: object) -> dict[str, object]:
        response = self.client.post(
            "/api/v1/handoffs", json=self.body(conversation_id, **overrides), headers=self.tokens.auth("bot")
        )
        assert response.status_code in (200, 201), response.text
        result: dict[str, object] = response.json()
        return result


@pytest.fixture
def handoff_factory(client: TestClient, tokens: Tokens) -> HandoffFactory:
    return HandoffFactory(client, tokens)


class ThreadedServer:
    """A real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app: object) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )  # type: ignore[arg-type]
        self.thread: object = None

    def start(self) -> "ThreadedServer":
        import threading
        import time

        self.server.should_exit = False
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)  # type: ignore[attr-defined]
        self.server.started = False


# Identity self-service and mail: the demo app, its dev mailbox, a real slapd and SMTP server.

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


# Rasa's SQL event broker, as Rasa writes it.

CUTOFF = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC).timestamp()


class RasaBroker:
    """Writes rows the way rasa.core.brokers.sql.SQLEventBroker does."""

    def __init__(self, path: Path) -> None:
        self.engine = create_engine(f"sqlite:///{path}")
        self.table = Table(
            "events",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("sender_id", String(255)),
            Column("data", Text),
        )
        self.table.create(self.engine)

    def publish(self, sender_id: str, event: dict[str, object]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.table).values(
                    sender_id=sender_id, data=json.dumps({"sender_id": sender_id, **event})
                )
            )

    def publish_at(self, row_id: int, sender_id: str, event: dict[str, object]) -> None:
        """A row with the id PostgreSQL handed out, committed whenever the test says."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.table).values(
                    id=row_id, sender_id=sender_id, data=json.dumps({"sender_id": sender_id, **event})
                )
            )

    def publish_raw(self, sender_id: str, data: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(self.table).values(sender_id=sender_id, data=data))


@pytest.fixture
def rasa_broker(settings: Settings) -> RasaBroker:
    return RasaBroker(settings.helpdesk_data_dir / "rasa_events.db")


def _consume(settings: Settings) -> int:
    engine = make_engine(settings.sqlalchemy_url)
    events_engine = make_engine(settings.events_db_url, write_transactions=False)
    try:
        return consume_once(make_session_factory(engine), SqlBrokerSource(events_engine))
    finally:
        engine.dispose()
        events_engine.dispose()


def _transcript(client: TestClient, tokens: Tokens, handoff_id: object) -> list[tuple[str, str]]:
    detail = client.get(f"/api/v1/handoffs/{handoff_id}", headers=tokens.auth("lead")).json()
    return [(line["role"], line["text"]) for line in detail["transcript"]]
