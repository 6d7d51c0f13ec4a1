"""Server-sent events: each agent sees the events of their queues, and can resume with Last-Event-ID."""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.main import create_app
from handoff_api.models import User
from handoff_api.signals.local import feed_signal
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import HandoffFactory, ThreadedServer, Tokens


@pytest.fixture
def live(settings: Settings, tokens: Tokens, embedder: MiniLMEmbedder) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(settings, background=False, embedder=embedder)).start()
    yield server
    server.stop()


def _read_events(
    url: str, token: str, count: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{url}/api/v1/events",
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        event_id = None
        for line in response.iter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            if line.startswith("data:"):
                seen.append({**json.loads(line[5:]), "sse_id": event_id})
                if len(seen) == count:
                    break
    return seen


def _wait_for_streams(count: int) -> None:
    """Until `count` streams have taken their starting point and wait for events (a fixed sleep raced a
    loaded machine: a stream that opened after the first event started after it)."""
    deadline = time.monotonic() + 10
    while feed_signal.subscribers < count:
        assert time.monotonic() < deadline, f"{feed_signal.subscribers} of {count} event streams opened"
        time.sleep(0.01)


def _create(live: ThreadedServer, tokens: Tokens, handoff_factory: HandoffFactory, conversation: str) -> Any:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        bot = {"Authorization": f"Bearer {tokens.bot}"}
        return http.post("/api/v1/handoffs", json=handoff_factory.body(conversation), headers=bot).json()


def test_agents_see_their_queues_live_and_resume(
    live: ThreadedServer, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    l3_reader = threading.Thread(
        target=lambda: results.setdefault("l3", _read_events(live.url, tokens.l3, 1))
    )
    l2_reader = threading.Thread(
        target=lambda: results.setdefault("l2", _read_events(live.url, tokens.l2, 2))
    )
    l3_reader.start()
    l2_reader.start()
    _wait_for_streams(2)
    with httpx.Client(base_url=live.url, timeout=10) as http:
        bot = {"Authorization": f"Bearer {tokens.bot}"}
        created = http.post("/api/v1/handoffs", json=handoff_factory.body("conv-sse"), headers=bot).json()
        http.post("/api/v1/handoffs", json=handoff_factory.body("conv-l3", tier="l3"), headers=bot)
        http.post(f"/api/v1/handoffs/{created['id']}/claim", headers={"Authorization": f"Bearer {tokens.l2}"})
    l2_reader.join(timeout=15)
    l3_reader.join(timeout=15)
    assert [(e["kind"], e["number"]) for e in results["l2"]] == [
        ("handoff.created", created["number"]),
        ("handoff.claimed", created["number"]),
    ]
    assert [(e["kind"], e["tier"]) for e in results["l3"]] == [("handoff.created", "l3")]
    # A client that reconnects with the id of the first event gets the second one again.
    resumed = _read_events(live.url, tokens.l2, 1, {"Last-Event-ID": results["l2"][0]["sse_id"]})
    assert resumed[0]["sse_id"] == results["l2"][1]["sse_id"] and resumed[0]["kind"] == "handoff.claimed"


def test_events_need_an_agent_token(live: ThreadedServer, tokens: Tokens) -> None:
    assert httpx.get(f"{live.url}/api/v1/events", timeout=5).status_code == 401
    assert (
        httpx.get(
            f"{live.url}/api/v1/events", headers={"Authorization": f"Bearer {tokens.bot}"}, timeout=5
        ).status_code
        == 403
    )


def test_a_commit_in_the_same_worker_wakes_the_stream_at_once(
    live: ThreadedServer, tokens: Tokens, handoff_factory: HandoffFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the poll a minute long, only the wake-up can bring the event within the reader's 10 s.
    monkeypatch.setattr("handoff_api.api.routes.events.POLL_SECONDS", 60.0)
    results: dict[str, list[dict[str, Any]]] = {}
    reader = threading.Thread(target=lambda: results.setdefault("l2", _read_events(live.url, tokens.l2, 1)))
    reader.start()
    _wait_for_streams(1)
    time.sleep(0.3)  # the stream's first read of the (empty) log is done; it now waits
    created = _create(live, tokens, handoff_factory, "conv-wake")
    reader.join(timeout=15)
    assert [(e["kind"], e["number"]) for e in results.get("l2", [])] == [
        ("handoff.created", created["number"])
    ]


@pytest.mark.parametrize(("hears_every_worker", "fewest", "most"), [(True, 1, 2), (False, 5, 40)])
def test_an_idle_stream_reads_on_a_timer_often_only_while_commits_may_go_unheard(
    live: ThreadedServer,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    monkeypatch: pytest.MonkeyPatch,
    hears_every_worker: bool,
    fewest: int,
    most: int,
) -> None:
    """With PostgreSQL's notifications heard (change_signals) an idle stream reads every 2 s, not 10 times
    a second; either way a commit wakes it at once."""
    from handoff_api.api.routes import events

    reads: list[float] = []

    def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        reads.append(time.monotonic())
        return read_after(*args, **kwargs)

    read_after = events.read_after
    monkeypatch.setattr(events, "read_after", counted)
    monkeypatch.setattr(feed_signal, "hears_every_worker", hears_every_worker)
    results: dict[str, list[dict[str, Any]]] = {}
    reader = threading.Thread(target=lambda: results.setdefault("l2", _read_events(live.url, tokens.l2, 1)))
    reader.start()
    deadline = time.monotonic() + 10
    while not reads and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.2)  # idle
    assert fewest <= len(reads) <= most, reads
    started = time.monotonic()
    created = _create(live, tokens, handoff_factory, "conv-idle")
    reader.join(timeout=15)
    assert [(e["kind"], e["number"]) for e in results.get("l2", [])] == [
        ("handoff.created", created["number"])
    ]
    assert time.monotonic() - started < 1.5  # woken by the commit, not by the 2 s timer


def test_a_revoked_agents_stream_ends(settings: Settings, tokens: Tokens, embedder: MiniLMEmbedder) -> None:
    """It went on showing every handoff of the queues to someone no longer allowed to see them."""
    quick = settings.model_copy(update={"helpdesk_stream_token_recheck_seconds": 0.2})
    server = ThreadedServer(create_app(quick, background=False, embedder=embedder)).start()
    ended = threading.Event()
    try:

        def listen() -> None:
            with httpx.stream(
                "GET",
                f"{server.url}/api/v1/events",
                headers={"Authorization": f"Bearer {tokens.l2}"},
                timeout=30,
            ) as response:
                assert response.status_code == 200
                for _ in response.iter_lines():
                    pass
            ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        _wait_for_streams(1)
        time.sleep(0.5)
        assert not ended.is_set(), "a signed-in agent's stream stays open"
        engine = make_engine(settings.sqlalchemy_url)
        with make_session_factory(engine).begin() as session:
            session.execute(update(User).where(User.name == "agent-l2").values(active=False))
        engine.dispose()
        assert ended.wait(10), "the stream ended after the token was revoked"
        again = httpx.get(f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {tokens.l2}"})
        assert again.status_code == 401
    finally:
        server.stop()
