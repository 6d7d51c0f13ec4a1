"""Agent messages reach Rasa in order, retried while Rasa is down, each delivered once."""

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from handoff_api.core import logging as helpdesk_logging
from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.models import OutboxItem, utcnow
from handoff_api.rasa.client import RasaClient
from handoff_api.rasa.outbox import backoff_seconds, deliver_due
from tests.service.conftest import HandoffFactory, ThreadedServer, Tokens


class StandInRasa:
    """Records what Rasa's tracker/events endpoint receives and answers its tracker endpoint."""

    def __init__(
        self,
        lose_first_answer: bool = False,
        wait_for: tuple[str, str] | None = None,
        echo_url_error: bool = False,
    ) -> None:
        self.received: list[tuple[str, dict[str, str], list[dict[str, Any]]]] = []
        self.lose_first_answer = lose_first_answer
        # A gateway in front of Rasa that refuses with the URL it was asked for, query string included.
        self.echo_url_error = echo_url_error
        # (a, b): conversation a's delivery is answered only once b's has arrived (else 504 after 1.5 s).
        self.wait_for = wait_for
        self.arrived: dict[str, threading.Event] = {}
        # Triggers refused with 504 before one is taken (a Rasa that goes down between the two calls).
        self.refuse_triggers = 0
        self.app = Starlette(
            routes=[
                Route("/conversations/{cid}/tracker/events", self.append, methods=["POST"]),
                Route("/conversations/{cid}/tracker", self.tracker, methods=["GET"]),
                Route("/conversations/{cid}/trigger_intent", self.trigger, methods=["POST"]),
            ]
        )

    async def trigger(self, request: Request) -> JSONResponse:
        if self.refuse_triggers:
            self.refuse_triggers -= 1
            return JSONResponse({"detail": "gateway timeout"}, status_code=504)
        body = await request.json()
        # What Rasa stores for a triggered intent: a user event with that intent.
        event = {
            "event": "user",
            "text": f"/{body['name']}",
            "parse_data": {"intent": {"name": body["name"]}},
        }
        self.received.append((request.path_params["cid"], dict(request.query_params), [event]))
        return JSONResponse({"tracker": {}})

    async def append(self, request: Request) -> JSONResponse:
        cid = request.path_params["cid"]
        if self.echo_url_error:
            return JSONResponse({"detail": f"bad gateway for {request.url}"}, status_code=502)
        self.received.append((cid, dict(request.query_params), await request.json()))
        self.arrived.setdefault(cid, threading.Event()).set()
        if self.wait_for and cid == self.wait_for[0]:
            other = self.arrived.setdefault(self.wait_for[1], threading.Event())
            if not await asyncio.to_thread(other.wait, 1.5):
                return JSONResponse({"detail": "gateway timeout"}, status_code=504)
        if self.lose_first_answer:
            # Rasa applied the events, but the answer never reached the service.
            self.lose_first_answer = False
            return JSONResponse({"detail": "gateway timeout"}, status_code=504)
        return JSONResponse({"sender_id": request.path_params["cid"]})

    async def tracker(self, request: Request) -> JSONResponse:
        events = [e for cid, _, batch in self.received if cid == request.path_params["cid"] for e in batch]
        return JSONResponse({"sender_id": request.path_params["cid"], "events": events})


def _deliver(settings: Settings, rasa_url: str, commits: list[str] | None = None) -> int:
    engine = make_engine(settings.sqlalchemy_url)
    if commits is not None:
        event.listen(engine, "commit", lambda _conn: commits.append("commit"))

    async def run() -> int:
        rasa = RasaClient(rasa_url, "rasa-secret", timeout=2)
        try:
            return await deliver_due(make_session_factory(engine), rasa, ceiling=0.0)
        finally:
            await rasa.aclose()

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


def _statuses(settings: Settings) -> list[tuple[str, int]]:
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        rows = [(i.status, i.attempts) for i in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    engine.dispose()
    return rows


def test_messages_are_delivered_in_order_after_rasa_comes_back(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-o")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    for text in ("first", "second", "third"):
        assert (
            client.post(f"{base}/messages", json={"text": text}, headers=tokens.auth("l2")).status_code == 201
        )

    rasa = StandInRasa()
    server = ThreadedServer(rasa.app)
    # Rasa is down: nothing is delivered, nothing is lost, and the first message holds back the rest.
    assert _deliver(settings, server.url) == 0
    assert _statuses(settings) == [("pending", 1), ("pending", 0), ("pending", 0)]

    server.start()
    try:
        assert _deliver(settings, server.url) == 3
        assert _deliver(settings, server.url) == 0
    finally:
        server.stop()
    assert [events[0]["text"] for _, _, events in rasa.received] == ["first", "second", "third"]
    conversation, params, events = rasa.received[0]
    assert conversation == "conv-o"
    # Where the handoff was opened (the website widget), not the channel the id last wrote on.
    assert params == {"execute_side_effects": "true", "output_channel": "socketio", "token": "rasa-secret"}
    assert events[0]["event"] == "bot" and events[0]["metadata"]["agent"]["name"] == "agent-l2"
    assert [status for status, _ in _statuses(settings)] == ["sent", "sent", "sent"]


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(n, 30) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 4.0, 30.0]


def test_a_retry_after_a_lost_answer_does_not_reach_the_customer_twice(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("conv-lost")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/messages", json={"text": "only once"}, headers=tokens.auth("l2"))
    rasa = StandInRasa(lose_first_answer=True)
    server = ThreadedServer(rasa.app).start()
    try:
        assert _deliver(settings, server.url) == 0  # the answer was lost: the item stays pending
        assert _deliver(settings, server.url) == 1  # the retry finds it in the tracker and does not resend
    finally:
        server.stop()
    assert [events[0]["text"] for _, _, events in rasa.received] == ["only once"]
    assert _statuses(settings) == [("sent", 1)]


def test_conversations_are_delivered_side_by_side(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    # Rasa answers conversation A only once B's message has arrived: one at a time, A would time out.
    for conversation in ("conv-side-a", "conv-side-b"):
        handoff = handoff_factory.create(conversation)
        base = f"/api/v1/handoffs/{handoff['id']}"
        client.post(f"{base}/claim", headers=tokens.auth("l2"))
        reply = client.post(
            f"{base}/messages", json={"text": f"hello {conversation}"}, headers=tokens.auth("l2")
        )
        assert reply.status_code == 201
    rasa = StandInRasa(wait_for=("conv-side-a", "conv-side-b"))
    server = ThreadedServer(rasa.app).start()
    try:
        assert _deliver(settings, server.url) == 2
    finally:
        server.stop()
    assert [status for status, _ in _statuses(settings)] == ["sent", "sent"]
    assert sorted(cid for cid, _, _ in rasa.received) == ["conv-side-a", "conv-side-b"]


def test_a_hand_back_whose_trigger_failed_is_completed_not_taken_for_delivered(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    """The `resume` arrived, the trigger that greets the customer did not: the retry found the stamped
    resume and marked the whole item sent, and the customer never heard back from the bot."""
    handoff = handoff_factory.create("conv-back")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    resolved = client.post(
        f"{base}/resolve", json={"resolution": "fixed", "return_to_bot": True}, headers=tokens.auth("l2")
    )
    assert resolved.status_code == 200
    rasa = StandInRasa()
    rasa.refuse_triggers = 1
    server = ThreadedServer(rasa.app).start()
    try:
        assert _deliver(settings, server.url) == 0, "the trigger failed: not delivered yet"
        assert _deliver(settings, server.url) == 1
        assert _deliver(settings, server.url) == 0
    finally:
        server.stop()
    kinds = [event["event"] for _, _, events in rasa.received for event in events]
    assert kinds == ["resume", "user"], "the resume once, then the trigger"
    triggered = rasa.received[-1][2][0]["parse_data"]["intent"]["name"]
    assert triggered == "EXTERNAL_handed_back"
    assert [status for status, _ in _statuses(settings)][-1] == "sent"


def test_conversations_that_keep_failing_do_not_hide_the_others(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    """250 items of a conversation backing off used to fill the pass (the first 200 by id): every reply
    to anyone else waited behind them."""
    stuck = handoff_factory.create("conv-stuck")
    engine = make_engine(settings.sqlalchemy_url)
    later = utcnow() + timedelta(minutes=10)
    with make_session_factory(engine).begin() as session:
        session.add_all(
            OutboxItem(
                handoff_id=stuck["id"],
                conversation_id="conv-stuck",
                events=[{"event": "bot", "text": f"stuck {n}"}],
                attempts=5,
                next_attempt_at=later,
            )
            for n in range(250)
        )
    engine.dispose()
    handoff = handoff_factory.create("conv-waiting")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/messages", json={"text": "for you"}, headers=tokens.auth("l2"))

    rasa = StandInRasa()
    server = ThreadedServer(rasa.app).start()
    try:
        assert _deliver(settings, server.url) == 1
    finally:
        server.stop()
    assert [(cid, events[0]["text"]) for cid, _, events in rasa.received] == [("conv-waiting", "for you")]


def test_the_rasa_token_never_reaches_the_log(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Rasa's token travels in the query string; an HTTP client's request log would carry it.
    handoff = handoff_factory.create("conv-token-log")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/messages", json={"text": "hello"}, headers=tokens.auth("l2"))
    caplog.set_level(logging.INFO)
    helpdesk_logging.configure()
    rasa = StandInRasa()
    server = ThreadedServer(rasa.app).start()
    try:
        assert _deliver(settings, server.url) == 1
    finally:
        server.stop()
    assert rasa.received[0][1]["token"] == "rasa-secret"
    assert "rasa-secret" not in caplog.text


def test_a_refusal_that_names_the_url_keeps_the_rasa_token_out_of_the_outbox_and_the_log(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handoff = handoff_factory.create("conv-token-error")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/messages", json={"text": "hello"}, headers=tokens.auth("l2"))
    caplog.set_level(logging.INFO)
    helpdesk_logging.configure()
    server = ThreadedServer(StandInRasa(echo_url_error=True).app).start()
    try:
        assert _deliver(settings, server.url) == 0
    finally:
        server.stop()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        item = session.scalars(select(OutboxItem)).one()
    engine.dispose()
    assert item.status == "pending" and item.last_error is not None
    assert "Rasa answered 502" in item.last_error and "token=***" in item.last_error
    assert "rasa-secret" not in item.last_error
    logged = caplog.text + capsys.readouterr().out
    assert "outbox.delivery_failed" in logged and "rasa-secret" not in logged


def test_a_pass_writes_to_the_database_twice_however_many_replies_it_delivers(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    for n in range(6):
        handoff = handoff_factory.create(f"conv-pass-{n}")
        base = f"/api/v1/handoffs/{handoff['id']}"
        client.post(f"{base}/claim", headers=tokens.auth("l2"))
        client.post(f"{base}/messages", json={"text": f"reply {n}"}, headers=tokens.auth("l2"))
    rasa = StandInRasa()
    server = ThreadedServer(rasa.app).start()
    commits: list[str] = []
    try:
        assert _deliver(settings, server.url, commits) == 6
    finally:
        server.stop()
    # First attempts counted together before sending, every delivered item marked sent together after.
    assert len(commits) == 2
    assert _statuses(settings) == [("sent", 1)] * 6
    assert sorted(events[0]["text"] for _, _, events in rasa.received) == [f"reply {n}" for n in range(6)]
