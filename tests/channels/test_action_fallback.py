"""The action fallback (connectors.action_fallback) without the whole stack: Rasa's own `RemoteAction` calls
an action server that is not there (a closed port) or that fails (a real HTTP server answering 500), and
the handoff is created with the real helpdesk service. tests/e2e/test_faults.py proves it end to end."""

import json
import shutil
import subprocess
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from actions.service.client import HelpdeskClient
from connectors.action_fallback import (
    FAILED,
    NO_TICKET,
    UNREACHABLE,
    FallbackActionEndpoint,
    answer_in_place,
    install,
    is_action_call,
)
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from tests.harness.service_process import HelpdeskService, free_port, run_helpdesk_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskService]:
    yield from run_helpdesk_service(tmp_path_factory.mktemp("helpdesk"))


@pytest.fixture
def service_env(service: HelpdeskService, monkeypatch: pytest.MonkeyPatch) -> HelpdeskService:
    """The Rasa process's environment: where the service is and the bot's token."""
    monkeypatch.setenv("HELPDESK_URL", service.url)
    monkeypatch.setenv("HELPDESK_BOT_TOKEN", service.bot_token)
    return service


@pytest.fixture(scope="module")
def domain() -> Domain:
    with warnings.catch_warnings():
        # Rasa warns about the domain's slots on every load; the bot's data tests check the domain.
        warnings.simplefilter("ignore", UserWarning)
        return Domain.load(str(ROOT / "bot" / "domain.yml"))


class FailingActionServer:
    """A real HTTP server in the action server's place, answering every call with one status."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def nowhere() -> str:
    """An action server URL where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}/webhook"


def conversation(domain: Domain, *texts: str, active_loop: str | None = None) -> DialogueStateTracker:
    events: list[Any] = [ActionExecuted("action_listen")]
    for text in texts:
        intent = {"name": "report_issue", "confidence": 0.91}
        events += [
            UserUttered(text, intent=intent, parse_data={"intent": intent}, input_channel="socketio"),
            BotUttered("Let me check that for you."),
            ActionExecuted("action_listen"),
        ]
    tracker = DialogueStateTracker.from_events(uuid.uuid4().hex, events, slots=domain.slots)
    if active_loop:
        tracker.change_loop_to(active_loop)
    return tracker


async def run_remote(
    action: str, endpoint: EndpointConfig, tracker: DialogueStateTracker, domain: Domain
) -> tuple[list[Any], CollectingOutputChannel]:
    """What Rasa's processor does for a custom action; returns its events and what it said."""
    output = CollectingOutputChannel()
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = await RemoteAction(action, endpoint).run(output, nlg, tracker, domain)
    return events, output


def lead_reads(service: HelpdeskService, conversation_id: str) -> dict[str, Any]:
    found = service.as_lead(f"/api/v1/conversations/{conversation_id}/handoff")
    assert found.status_code == 200, found.text
    handoff: dict[str, Any] = found.json()
    return handoff


@pytest.mark.asyncio
async def test_an_unreachable_action_server_hands_the_customer_over(
    service_env: HelpdeskService, domain: Domain
) -> None:
    tracker = conversation(domain, "Outlook keeps crashing since this morning")
    events, _ = await run_remote(
        "action_answer_from_kb", FallbackActionEndpoint(url=nowhere()), tracker, domain
    )

    said = [event.text for event in events if isinstance(event, BotUttered)]
    assert len(said) == 1 and "isn't working" in said[0] and "HD-" in said[0], said
    tracker.update_with_events(events, domain)
    assert tracker.is_paused(), "the engineer takes over: the bot stays silent"
    assert tracker.get_slot("handoff_ticket") in said[0]

    handoff = lead_reads(service_env, tracker.sender_id)
    assert handoff["reason"] == UNREACHABLE and handoff["channel"] == "socketio"
    assert handoff["context"]["failed_action"] == "action_answer_from_kb"
    assert handoff["context"]["intent"] == "report_issue"
    lines = [(line["role"], line["text"]) for line in handoff["transcript"]]
    assert ("customer", "Outlook keeps crashing since this morning") in lines
    assert ("bot", "Let me check that for you.") in lines


@pytest.mark.asyncio
async def test_an_action_server_error_is_a_failed_action(
    service_env: HelpdeskService, domain: Domain
) -> None:
    failing = FailingActionServer(500, {"error": "boom"})
    try:
        tracker = conversation(domain, "my printer is on fire")
        events, _ = await run_remote(
            "action_handoff", FallbackActionEndpoint(url=failing.url), tracker, domain
        )
    finally:
        failing.close()
    assert any(isinstance(event, ConversationPaused) for event in events)
    assert lead_reads(service_env, tracker.sender_id)["reason"] == FAILED


@pytest.mark.asyncio
async def test_a_form_rejection_is_still_rasas_business(service_env: HelpdeskService, domain: Domain) -> None:
    """400 is how the action server rejects a form's input: Rasa handles it, no handoff."""
    failing = FailingActionServer(400, {"action_name": "validate_device_form", "error": "no device"})
    try:
        tracker = conversation(domain, "set up my thing", active_loop="device_form")
        with pytest.raises(ActionExecutionRejection):
            await run_remote("validate_device_form", FallbackActionEndpoint(url=failing.url), tracker, domain)
    finally:
        failing.close()
    assert service_env.get(f"/api/v1/conversations/{tracker.sender_id}/handoff").status_code == 404


@pytest.mark.asyncio
async def test_a_form_is_left_when_its_validation_cannot_run(
    service_env: HelpdeskService, domain: Domain
) -> None:
    tracker = conversation(domain, "set up the VPN on my laptop", active_loop="device_form")
    body = RemoteAction("validate_device_form", None)._action_call_format(tracker, domain)
    answer = await answer_in_place(body, UNREACHABLE)
    events = answer["events"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert any(e["event"] == "slot" and e["name"] == "requested_slot" and e["value"] is None for e in events)
    assert events[-2:] == [
        {"event": "pause", "timestamp": None},
        {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None},
    ]


@pytest.mark.asyncio
async def test_the_service_down_too_the_customer_is_told_and_the_bot_keeps_them(domain: Domain) -> None:
    tracker = conversation(domain, "I need a person")
    body = RemoteAction("action_handoff", None)._action_call_format(tracker, domain)
    down = HelpdeskClient(f"http://127.0.0.1:{free_port()}", "unused")
    answer = await answer_in_place(body, UNREACHABLE, client=down)
    assert answer == {"events": [], "responses": [{"text": NO_TICKET}]}


@pytest.mark.asyncio
async def test_a_new_chat_still_starts_without_the_action_server(domain: Domain) -> None:
    """`action_session_start` runs the bot's own override in Rasa's process: no handoff, no lookup."""
    tracker = DialogueStateTracker.from_events(uuid.uuid4().hex, [], slots=domain.slots)
    events, output = await run_remote(
        "action_session_start", FallbackActionEndpoint(url=nowhere()), tracker, domain
    )
    assert [event.type_name for event in events] == ["session_started", "action"]
    assert output.messages == []


@pytest.mark.asyncio
async def test_the_language_slot_mapping_fails_quietly(service_env: HelpdeskService, domain: Domain) -> None:
    """Rasa runs the language detection on every message: without the action server it sets nothing and
    opens no handoff; the action after it (here the knowledge-base answer) hands the customer over."""
    tracker = conversation(domain, "hello")
    tracker.update(UserUttered("Outlook keeps crashing when I open it", input_channel="socketio"))
    endpoint = FallbackActionEndpoint(url=nowhere())
    events, output = await run_remote("action_detect_language", endpoint, tracker, domain)
    assert events == [] and output.messages == []
    assert service_env.as_lead(f"/api/v1/conversations/{tracker.sender_id}/handoff").status_code == 404

    events, output = await run_remote("action_answer_from_kb", endpoint, tracker, domain)
    assert any(isinstance(event, ConversationPaused) for event in events)
    handoff = lead_reads(service_env, tracker.sender_id)
    customer = [line["text"] for line in handoff["transcript"] if line["role"] == "customer"]
    assert customer == ["hello", "Outlook keeps crashing when I open it"]


@pytest.mark.asyncio
async def test_other_calls_and_plain_endpoints_are_left_alone() -> None:
    assert not is_action_call({"next_action": "x"}) and not is_action_call(None)
    assert is_action_call({"next_action": "x", "tracker": {"sender_id": "s"}})
    with pytest.raises(Exception) as refused:
        await FallbackActionEndpoint(url=nowhere()).request(json={"not": "an action call"})
    assert not isinstance(refused.value, ClientResponseError)
    # Rasa's own endpoint, for comparison: the turn would end in silence.
    tracker = DialogueStateTracker.from_events("someone", [ActionExecuted("action_listen")])
    with pytest.raises(RasaException):
        await RemoteAction("action_handoff", EndpointConfig(url=nowhere())).run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, Domain.empty()
        )


def test_install_wraps_the_agents_endpoint_once() -> None:
    endpoint = EndpointConfig(url="http://127.0.0.1:5055/webhook", token="secret", headers={"X-A": "1"})
    agent = Agent(action_endpoint=endpoint)
    install(agent)
    wrapped = agent.action_endpoint
    assert isinstance(wrapped, FallbackActionEndpoint)
    assert (wrapped.url, wrapped.token, wrapped.headers) == (endpoint.url, "secret", {"X-A": "1"})
    install(agent)
    assert agent.action_endpoint is wrapped
    install(None)
    install(Agent())  # no action endpoint configured: nothing to wrap


def test_the_call_format_rasa_sends_is_understood(domain: Domain) -> None:
    tracker = conversation(domain, "hello")
    body = RemoteAction("action_handoff", None)._action_call_format(tracker, domain)
    assert is_action_call(body)
    assert body["tracker"] == tracker.current_state(EventVerbosity.ALL)


def test_a_rasa_image_without_the_bots_actions_still_starts(tmp_path: Path) -> None:
    """Only bot/connectors mounted (docker-compose's Rasa): the channel loads, the fallback is off."""
    shutil.copytree(ROOT / "bot" / "connectors", tmp_path / "connectors")
    probe = (
        "import connectors.website, connectors.action_fallback as f; "
        "from rasa.core.agent import Agent; from rasa.utils.endpoints import EndpointConfig; "
        "a = Agent(action_endpoint=EndpointConfig(url='http://127.0.0.1:5055/webhook')); f.install(a); "
        "print(type(f.BOT_ACTIONS_MISSING).__name__, type(a.action_endpoint).__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["ModuleNotFoundError", "EndpointConfig"]
