"""The database unavailable: 503 with Retry-After (never a 500), nothing half-written, back to normal after.

PostgreSQL is the real server, reached through a TCP proxy the test stops (established connections are
reset, new ones refused) and starts again, or that cuts a connection in the middle of a transaction.
SQLite: another process holds the write lock beyond the busy timeout.
"""

import contextlib
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url

from handoff_api.core.config import Settings
from handoff_api.core.db import make_session_factory, transaction
from handoff_api.main import create_app
from handoff_api.models import Handoff, HandoffEvent, Message, Note, OutboxItem
from handoff_api.users import service as users
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import (
    HandoffFactory,
    Tokens,
    _handoff_body,
    _postgres_database,
    migrated_settings,
)


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `stop` resets every connection and refuses new ones until
    `start`; `cut_when(pattern)` resets the connection whose client sends `pattern` before it reaches the
    server (once): the server sees the client vanish in the middle of whatever it was doing."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut: bytes | None = None
        self.cuts = 0

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): the port is closed now
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            _reset(conn)

    def cut_when(self, pattern: bytes | None) -> None:
        self._cut = pattern

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._connections |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                pattern = self._cut
                # `tail`: the end of what was forwarded already, in case the pattern spans two reads.
                if from_client and pattern and pattern in tail[-(len(pattern) - 1) :] + data:
                    self._cut = None
                    self.cuts += 1
                    break
                tail = (tail + data)[-64:]
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._connections -= {source, sink}
        _reset(source)
        _reset(sink)


def _reset(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as when a server or a network path dies. Shutting the reading side
    first wakes the pump thread blocked in recv(), so the socket is really released (and reset) now."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.shutdown(socket.SHUT_RD)
    conn.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text)
    assert int(response.headers["Retry-After"]) > 0
    assert "database" in response.text


# --- PostgreSQL through the proxy ----------------------------------------------------------------


@pytest.fixture
def direct_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def proxy(direct_url: str) -> Iterator[TcpProxy]:
    url = make_url(direct_url)
    running = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    yield running
    running.stop()


@pytest.fixture
def database_url(direct_url: str, proxy: TcpProxy) -> str:
    """What the app (and conftest's settings, tokens, client) use: the database through the proxy.
    Plain text on loopback, so the proxy can see which statement it cuts."""
    proxied = make_url(direct_url).set(host="127.0.0.1", port=proxy.port)
    return proxied.update_query_dict({"sslmode": "disable"}).render_as_string(hide_password=False)


@pytest.fixture
def direct(direct_url: str) -> Iterator[Engine]:
    """The test's own view of the database, past the proxy."""
    engine = create_engine(direct_url)
    yield engine
    engine.dispose()


def count(engine: Engine, statement: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(statement) or 0)


def handoffs_of(engine: Engine, conversation_id: str) -> int:
    return count(engine, select(func.count()).where(Handoff.conversation_id == conversation_id))


@pytest.mark.postgres
def test_postgres_unreachable_reads_and_writes_answer_503_then_succeed(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, proxy: TcpProxy, direct: Engine
) -> None:
    held = handoff_factory.create("conv-held")
    assert client.post(f"/api/v1/handoffs/{held['id']}/claim", headers=tokens.auth("l2")).status_code == 200
    assert client.get("/healthz").status_code == 200

    proxy.stop()  # pooled connections are reset, new ones refused
    started = time.monotonic()
    health = client.get("/healthz")
    assert_unavailable(health)
    assert health.json()["status"] == "unavailable"
    assert_unavailable(client.get("/api/v1/queues/l2", headers=tokens.auth("l2")))
    assert_unavailable(client.get(f"/api/v1/handoffs/{held['id']}", headers=tokens.auth("l2")))
    assert_unavailable(client.get("/api/v1/kb/articles", headers=tokens.auth("editor")))
    body = handoff_factory.body("conv-during-outage")
    assert_unavailable(client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot")))
    message = {"text": "Are you still there?"}
    sent = client.post(f"/api/v1/handoffs/{held['id']}/messages", json=message, headers=tokens.auth("l2"))
    assert_unavailable(sent)
    # Refused connections fail fast: nobody waits for a timeout.
    assert time.monotonic() - started < 30

    proxy.start()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 200
    created = client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot"))
    assert created.status_code == 201, created.text
    sent = client.post(f"/api/v1/handoffs/{held['id']}/messages", json=message, headers=tokens.auth("l2"))
    assert sent.status_code == 201, sent.text

    # What the outage refused was not written; the retries were, once.
    assert handoffs_of(direct, "conv-during-outage") == 1
    lines = select(func.count()).where(Message.handoff_id == held["id"], Message.text == message["text"])
    assert count(direct, lines) == 1
    assert count(direct, select(func.count()).where(OutboxItem.handoff_id == held["id"])) == 1


@pytest.mark.postgres
def test_a_write_cut_midway_leaves_no_partial_rows(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, proxy: TcpProxy, direct: Engine
) -> None:
    # Creating a handoff: the handoff row is in, the connection dies while the transcript goes in.
    body = handoff_factory.body("conv-cut")
    proxy.cut_when(b"INSERT INTO messages")
    assert_unavailable(client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot")))
    assert proxy.cuts == 1
    assert handoffs_of(direct, "conv-cut") == 0
    assert count(direct, select(func.count()).select_from(Message)) == 0
    assert count(direct, select(func.count()).select_from(HandoffEvent)) == 0

    created = client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot"))
    assert created.status_code == 201, created.text
    handoff_id = created.json()["id"]
    assert handoffs_of(direct, "conv-cut") == 1
    transcript = select(func.count()).where(Message.handoff_id == handoff_id)
    assert count(direct, transcript) == len(body["transcript"])  # type: ignore[arg-type]

    # On PostgreSQL a claim is one statement that commits by itself (no BEGIN, no COMMIT: core/db.py,
    # statements_alone). The statement never arrives: the agent must not be told it holds the handoff.
    proxy.cut_when(b"UPDATE handoffs SET")
    assert_unavailable(client.post(f"/api/v1/handoffs/{handoff_id}/claim", headers=tokens.auth("l2")))
    with direct.connect() as conn:
        status = conn.scalar(select(Handoff.status).where(Handoff.id == handoff_id))
    assert status == "waiting"
    assert client.post(f"/api/v1/handoffs/{handoff_id}/claim", headers=tokens.auth("l2")).status_code == 200

    # An agent's reply, one statement too (the line, the outbox entry, the history entry): it never arrives.
    proxy.cut_when(b"INSERT INTO outbox")
    message = {"text": "Let me look at your mailbox."}
    sent = client.post(f"/api/v1/handoffs/{handoff_id}/messages", json=message, headers=tokens.auth("l2"))
    assert_unavailable(sent)
    assert count(direct, select(func.count()).where(Message.text == message["text"])) == 0
    assert count(direct, select(func.count()).select_from(OutboxItem)) == 0

    sent = client.post(f"/api/v1/handoffs/{handoff_id}/messages", json=message, headers=tokens.auth("l2"))
    assert sent.status_code == 201, sent.text
    assert count(direct, select(func.count()).where(Message.text == message["text"])) == 1
    assert count(direct, select(func.count()).select_from(OutboxItem)) == 1

    # A write of several statements (the note, then its history entry): every statement went through,
    # the COMMIT never arrives. Nothing of it stays, and the agent is told to retry.
    events_before = count(direct, select(func.count()).select_from(HandoffEvent))
    proxy.cut_when(b"COMMIT")
    noted = client.post(
        f"/api/v1/handoffs/{handoff_id}/notes", json={"text": "VIP"}, headers=tokens.auth("l2")
    )
    assert_unavailable(noted)
    assert proxy.cuts == 4
    assert count(direct, select(func.count()).select_from(Note)) == 0
    assert count(direct, select(func.count()).select_from(HandoffEvent)) == events_before
    noted = client.post(
        f"/api/v1/handoffs/{handoff_id}/notes", json={"text": "VIP"}, headers=tokens.auth("l2")
    )
    assert noted.status_code == 201, noted.text
    assert count(direct, select(func.count()).select_from(Note)) == 1


@pytest.mark.postgres
def test_the_busiest_writes_send_no_begin_and_leave_no_autocommit_behind(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, proxy: TcpProxy
) -> None:
    # Creation, claim and reply are one statement each: no BEGIN, no COMMIT around them (two round
    # trips fewer). The tokens are looked up once first: that lookup is a transaction of its own.
    first = handoff_factory.create("conv-warm")
    assert client.post(f"/api/v1/handoffs/{first['id']}/claim", headers=tokens.auth("l2")).status_code == 200
    for pattern in (b"BEGIN", b"COMMIT"):
        proxy.cut_when(pattern)
        conversation = f"conv-alone-{len(pattern)}"
        created = client.post(
            "/api/v1/handoffs", json=handoff_factory.body(conversation), headers=tokens.auth("bot")
        )
        assert created.status_code == 201, created.text
        base = f"/api/v1/handoffs/{created.json()['id']}"
        assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
        sent = client.post(f"{base}/messages", json={"text": "on it"}, headers=tokens.auth("l2"))
        assert sent.status_code == 201, sent.text
        assert proxy.cuts == 0, f"a busy write sent {pattern.decode()}"
        proxy.cut_when(None)
    # A slow path (the handoff is not waiting any more) runs in a transaction again, on the same kind of
    # connection: every connection the pool hands out is back to transactions.
    proxy.cut_when(b"COMMIT")
    taken = client.post(f"{base}/claim", headers=tokens.auth("l3"))
    assert taken.status_code in (403, 409), taken.text
    engine = client.app.state.engine  # type: ignore[attr-defined]
    held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        assert held and all(not c.driver_connection.autocommit for c in held)
    finally:
        for connection in held:
            connection.close()


# --- SQLite: the write lock held by someone else ---------------------------------------------------


@pytest.fixture
def sqlite_settings(tmp_path: Path, kb_seed_dir: Path) -> Settings:
    return migrated_settings(
        f"sqlite:///{tmp_path / 'helpdesk.db'}",
        tmp_path,
        kb_seed_dir,
        helpdesk_sqlite_busy_timeout_seconds=1.0,
    )


def test_sqlite_locked_beyond_the_busy_timeout_is_503(
    sqlite_settings: Settings, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    app = create_app(sqlite_settings, background=False, embedder=embedder)
    with transaction(make_session_factory(app.state.engine)) as session:
        _bot, bot_token = users.create(session, sqlite_settings.secret_key(), "bot", "bot")
        _agent, agent_token = users.create(session, sqlite_settings.secret_key(), "alice", "l2")
    bot, agent = ({"Authorization": f"Bearer {token}"} for token in (bot_token, agent_token))
    body = _handoff_body("conv-locked")

    with TestClient(app) as client:
        holder = sqlite3.connect(tmp_path / "helpdesk.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
        try:
            started = time.monotonic()
            assert_unavailable(client.post("/api/v1/handoffs", json=body, headers=bot))
            assert time.monotonic() - started < 20
            # Readers are not blocked (WAL): the queue still answers.
            assert client.get("/api/v1/queues/l2", headers=agent).status_code == 200
            assert client.get("/healthz").status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        created = client.post("/api/v1/handoffs", json=body, headers=bot)
        assert created.status_code == 201, created.text
        with sqlite3.connect(tmp_path / "helpdesk.db") as check:
            rows = check.execute("SELECT count(*) FROM handoffs WHERE conversation_id = 'conv-locked'")
            assert rows.fetchone() == (1,)


def test_sqlite_database_gone_is_503(
    sqlite_settings: Settings, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    """The database directory unusable (a lost volume): reads and writes answer 503, never 500."""
    with TestClient(create_app(sqlite_settings, background=False, embedder=embedder)) as client:
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
        client.app.state.read_sessions.kw["bind"].dispose()  # type: ignore[attr-defined]
        moved = tmp_path.with_name(tmp_path.name + "-moved")
        tmp_path.rename(moved)
        try:
            assert_unavailable(client.get("/healthz"))
            headers = {"Authorization": "Bearer whatever"}
            assert_unavailable(client.get("/api/v1/queues/l2", headers=headers))
            assert_unavailable(client.post("/api/v1/handoffs", json=_handoff_body("gone"), headers=headers))
        finally:
            moved.rename(tmp_path)
        assert client.get("/healthz").status_code == 200


def test_a_database_that_accepts_but_never_answers_fails_fast() -> None:
    """A PostgreSQL address whose host takes the connection and then says nothing (a hung server, a
    firewall dropping packets): connecting gives up after the connect timeout instead of hanging."""
    from handoff_api.core.db import CONNECT_TIMEOUT_SECONDS, make_engine

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/helpdesk")
        outcome: list[BaseException | None] = []

        def connect() -> None:
            try:
                with engine.connect():
                    outcome.append(None)
            except Exception as exc:
                outcome.append(exc)

        started = time.monotonic()
        worker = threading.Thread(target=connect, daemon=True)
        worker.start()
        worker.join(CONNECT_TIMEOUT_SECONDS + 10)
        engine.dispose()
    assert outcome, "connecting still hangs after the connect timeout"
    assert type(outcome[0]).__name__ == "OperationalError"
    assert time.monotonic() - started < CONNECT_TIMEOUT_SECONDS + 10
