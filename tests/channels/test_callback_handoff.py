"""The whole handoff loop over Rasa's `callback` channel, the bridge for any messenger: a stand-in
messenger (a real HTTP server) receives what the bot and the engineer say; the customer writes through
/webhooks/callback/webhook. The stack is the real one (Rasa, action server, service)."""

import json
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from connectors import credentials
from tests.harness.stack import ROOT, Stack, trained_model

pytestmark = pytest.mark.e2e


class StandInMessenger:
    """Receives the messages Rasa's callback channel posts: {"recipient_id", "text", ...}."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        inbox = self.inbox

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.put((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StandInMessenger":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, message = self.inbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the stand-in messenger received nothing that matched") from None
            if predicate(str(message.get("text", ""))):
                return at, message

    def expect_silence(self, seconds: float) -> None:
        try:
            _, message = self.inbox.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"the bot should stay silent while an engineer holds the chat, sent {message}")


BRIDGE_SECRET = "bridge-secret-for-the-test"


@pytest.fixture(scope="module")
def messenger() -> Iterator[StandInMessenger]:
    with StandInMessenger() as running:
        yield running


@pytest.fixture(scope="module")
def stack(messenger: StandInMessenger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    # What the Procfile does at start-up, with the messenger's address in CALLBACK_URL.
    effective = data_dir / "credentials.yml"
    bridge = {"CALLBACK_URL": messenger.url, "CALLBACK_SECRET": BRIDGE_SECRET}
    credentials.write(credentials.effective(credentials.BASE, bridge), effective)
    models = Path(os.environ.get("HELPDESK_DATA_DIR", ROOT / "var")) / "models"
    running = Stack(data_dir=data_dir, model=trained_model(models), credentials=effective)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_handoff_over_the_callback_channel(stack: Stack, messenger: StandInMessenger) -> None:
    sender = f"messenger-user-{uuid.uuid4().hex[:8]}"
    rasa = httpx.Client(
        base_url=stack.rasa_url, timeout=30, headers={"Authorization": f"Bearer {BRIDGE_SECRET}"}
    )
    # Without the bridge's secret nobody is heard, whatever `sender` they claim.
    stranger = httpx.post(
        f"{stack.rasa_url}/webhooks/callback/webhook", json={"sender": sender, "message": "hi"}, timeout=30
    )
    assert stranger.status_code == 401
    alice = httpx.Client(
        base_url=f"{stack.helpdesk_url}/api/v1",
        headers={"Authorization": f"Bearer {stack.tokens['alice']}"},
        timeout=10,
    )

    def say(text: str) -> float:
        sent_at = time.monotonic()
        response = rasa.post("/webhooks/callback/webhook", json={"sender": sender, "message": text})
        assert response.status_code == 200 and response.text == "success", response.text
        return sent_at

    def poll(path: str, predicate: Callable[[Any], bool], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            body = alice.get(path).json()
            if predicate(body):
                return body
            assert time.monotonic() < deadline, f"{path} never matched: {body}"
            time.sleep(0.05)

    try:
        say("hello")
        _, greeting = messenger.wait_for(bool)
        assert greeting["recipient_id"] == sender
        say("I want to talk to a human")
        _, told = messenger.wait_for(lambda text: "HD-" in text)
        number = re.search(r"HD-\d+", told["text"])
        assert number, told

        queue_l2 = poll("/queues/l2", lambda q: any(h["number"] == number.group() for h in q["handoffs"]))
        handoff_id = next(h["id"] for h in queue_l2["handoffs"] if h["number"] == number.group())
        handoff = alice.get(f"/handoffs/{handoff_id}").json()
        assert handoff["channel"] == "callback" and handoff["conversation_id"] == sender

        # The engineer's reply is pushed to the messenger, to the right person.
        assert alice.post(f"/handoffs/{handoff_id}/claim").status_code == 200
        replied_at = time.monotonic()
        sent = alice.post(f"/handoffs/{handoff_id}/messages", json={"text": "Hi, Alice from L2 here."})
        assert sent.status_code == 201, sent.text
        got_at, reply = messenger.wait_for(lambda text: text == "Hi, Alice from L2 here.")
        assert reply["recipient_id"] == sender
        print(f"latency agent -> stand-in messenger: {(got_at - replied_at) * 1000:.0f} ms")

        # The customer's answer reaches the engineer; the bot stays out of it.
        say("my VPN drops every hour")
        line = ("customer", "my VPN drops every hour")
        poll(f"/handoffs/{handoff_id}", lambda h: line in [(t["role"], t["text"]) for t in h["transcript"]])
        messenger.expect_silence(1.5)

        # Resolved and handed back: the bot speaks again on the messenger.
        resolution = {"resolution": "VPN profile renewed", "return_to_bot": True}
        resolved = alice.post(f"/handoffs/{handoff_id}/resolve", json=resolution)
        assert resolved.status_code == 200, resolved.text
        messenger.wait_for(lambda text: "virtual assistant" in text)
        say("hello")
        _, again = messenger.wait_for(bool)
        assert again["recipient_id"] == sender and again["text"]
    finally:
        rasa.close()
        alice.close()
