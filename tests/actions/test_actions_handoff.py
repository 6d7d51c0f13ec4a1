"""`action_handoff` against the real helpdesk service."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from actions.handoff.actions import ActionHandoff
from helpdesk_text.redaction import CARD_MASK, CODE_MASK, PASSWORD_MASK
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import bot, conversation, timeline, user

TICKET_NUMBER = re.compile(r"^HD-\d{5}$")


def _conversation_id() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.mark.service
@pytest.mark.asyncio
async def test_handoff_opens_a_ticket_tells_the_customer_and_pauses(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: dict[str, Any]
) -> None:
    conversation_id = _conversation_id()
    tracker = conversation(conversation_id, timeline(user("can I talk to a person", "request_human")))
    dispatcher = CollectingDispatcher()

    events = await ActionHandoff().run(dispatcher, tracker, domain)

    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_created"
    assert TICKET_NUMBER.match(message["ticket_number"])
    assert message["queue_position"] >= 1
    assert message["tier_label"] == "L2"
    assert SlotSet("handoff_ticket", message["ticket_number"]) in events
    assert events[-2:] == [ConversationPaused(), ActionExecuted("action_listen")]

    stored = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff")
    assert stored.status_code == 200
    body = stored.json()
    assert (body["number"], body["status"], body["tier"]) == (message["ticket_number"], "waiting", "l2")
    assert (body["reason"], body["channel"]) == ("customer_request", "socketio")
    assert body["context"]["intent"] == "request_human"


@pytest.mark.service
@pytest.mark.asyncio
async def test_asking_twice_returns_the_same_ticket(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: dict[str, Any]
) -> None:
    tracker = conversation(_conversation_id(), timeline(user("human please", "request_human")))
    first, second = CollectingDispatcher(), CollectingDispatcher()

    await ActionHandoff().run(first, tracker, domain)
    events = await ActionHandoff().run(second, tracker, domain)

    assert second.messages[0]["ticket_number"] == first.messages[0]["ticket_number"]
    assert events[-2:] == [ConversationPaused(), ActionExecuted("action_listen")]


@pytest.mark.service
@pytest.mark.asyncio
async def test_transcript_reaches_the_service_redacted(
    service_env: HelpdeskService, domain: dict[str, Any]
) -> None:
    conversation_id = _conversation_id()
    events = timeline(
        user("my password is hunter2 and it fails", "password_reset"),
        bot("I can't reset passwords from this chat yet."),
        user("the sms code was 123456", "nlu_fallback", 0.41),
        bot("Sorry, I didn't quite get that."),
        user("i paid with 4111 1111 1111 1111, real person now", "request_human", 0.88),
    )
    await ActionHandoff().run(CollectingDispatcher(), conversation(conversation_id, events), domain)

    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    texts = [line["text"] for line in body["transcript"] if line["role"] == "customer"]
    assert texts == [
        f"my password is {PASSWORD_MASK} and it fails",
        f"the sms code was {CODE_MASK}",
        f"i paid with {CARD_MASK}, real person now",
    ]
    stored = str(body)
    for secret in ("hunter2", "123456", "4111"):
        assert secret not in stored
    assert body["category"] == "accounts"


@pytest.mark.service
@pytest.mark.asyncio
async def test_two_misses_hand_over_as_low_confidence(
    service_env: HelpdeskService, domain: dict[str, Any]
) -> None:
    conversation_id = _conversation_id()
    events = timeline(user("blorp", "nlu_fallback", 0.3), bot("Sorry?"), user("flibber", "nlu_fallback", 0.2))

    await ActionHandoff().run(CollectingDispatcher(), conversation(conversation_id, events), domain)

    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    assert body["reason"] == "low_confidence"
    assert body["context"]["confidence"] == 0.2


@pytest.mark.service
@pytest.mark.asyncio
async def test_flows_can_choose_reason_and_tier(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: dict[str, Any]
) -> None:
    conversation_id = _conversation_id()
    tracker = conversation(
        conversation_id,
        timeline(user("vpn is down for everyone", "report_issue")),
        slots={"handoff_reason": "kb_no_answer", "handoff_tier": "l3", "kb_articles_tried": ["kb-1"]},
    )
    dispatcher = CollectingDispatcher()

    events = await ActionHandoff().run(dispatcher, tracker, domain)

    assert dispatcher.messages[0]["tier_label"] == "L3"
    # A later hand-over starts from the defaults again.
    assert SlotSet("handoff_reason", None) in events and SlotSet("handoff_tier", None) in events
    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    assert (body["reason"], body["tier"]) == ("kb_no_answer", "l3")
    assert body["context"]["kb_articles_tried"] == ["kb-1"]


@pytest.mark.asyncio
async def test_service_down_is_told_honestly_and_does_not_pause(
    service_down_env: None, domain: dict[str, Any]
) -> None:
    tracker = conversation(_conversation_id(), timeline(user("agent", "request_human")))
    dispatcher = CollectingDispatcher()

    events = await ActionHandoff().run(dispatcher, tracker, domain)

    assert [message["response"] for message in dispatcher.messages] == ["utter_handoff_failed"]
    assert events == []


@pytest.mark.service
@pytest.mark.asyncio
async def test_wrong_token_is_a_failed_handoff_not_a_crash(
    service_env: HelpdeskService, monkeypatch: pytest.MonkeyPatch, domain: dict[str, Any]
) -> None:
    monkeypatch.setenv("HELPDESK_BOT_TOKEN", "not-a-token")
    dispatcher = CollectingDispatcher()

    events = await ActionHandoff().run(
        dispatcher, conversation(_conversation_id(), timeline(user("agent", "request_human"))), domain
    )

    assert [message["response"] for message in dispatcher.messages] == ["utter_handoff_failed"]
    assert events == []
