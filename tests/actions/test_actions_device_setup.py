"""Guided device setup from the knowledge base's steps, against the real service."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from actions.handoff.actions import ActionHandoff
from actions.knowledge.device_setup import ActionDeviceSetup, ActionDeviceStep, ValidateDeviceForm
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import action, conversation, slot, timeline, user

pytestmark = pytest.mark.asyncio


def _slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def _said(dispatcher: CollectingDispatcher) -> list[str]:
    return [message.get("response") or message["text"] for message in dispatcher.messages]


ASKED = user("how do I set up the vpn on my windows laptop", "device_setup")


async def _start(domain: Any, conversation_id: str = "c") -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    tracker = conversation(conversation_id, timeline(ASKED), slots={"device": "windows", "topic": "vpn"})
    slots = {
        "device": "windows",
        "topic": "vpn",
        **_slots(await ActionDeviceSetup().run(dispatcher, tracker, domain)),
    }
    said = _said(dispatcher)
    assert said[0] == "utter_setup_start" and said[-1] == "utter_did_step_work"
    assert said[1].startswith("Step 1 of ")
    return slots


async def _answer(
    slots: dict[str, Any], intent: str, domain: Any, conversation_id: str = "c"
) -> tuple[list[str], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        conversation_id, timeline(ASKED, user("yes" if intent == "affirm" else "no", intent)), slots=slots
    )
    events = await ActionDeviceStep().run(dispatcher, tracker, domain)
    return _said(dispatcher), {**slots, **_slots(events)}


@pytest.mark.service
async def test_walks_the_articles_steps_to_the_end(service_env: HelpdeskService, domain: Any) -> None:
    slots = await _start(domain)
    assert slots["setup_article"] == "vpn-windows" and slots["setup_step"] == 0
    total = 5
    for number in range(2, total + 1):
        said, slots = await _answer(slots, "affirm", domain)
        assert said[0].startswith(f"Step {number} of {total}: ")
    said, slots = await _answer(slots, "affirm", domain)
    assert said == ["utter_setup_done", "utter_ask_rating"]
    assert slots["flow_outcome"] == "done" and slots["setup_article"] is None
    assert len(slots["steps_tried"]) == total and all(s.endswith("-> worked") for s in slots["steps_tried"])


@pytest.mark.service
async def test_a_failing_step_gets_help_once_then_an_engineer_with_the_steps(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = await _start(domain, conversation_id)
    _, slots = await _answer(slots, "affirm", domain, conversation_id)
    said, slots = await _answer(slots, "deny", domain, conversation_id)
    assert said[0] == "utter_step_help_intro" and "utter_step_expected" in said
    assert any(line.startswith("Step 2 of 5") for line in said) and said[-1] == "utter_did_step_work_now"
    assert slots["setup_help_given"] is True and slots["flow_outcome"] == "continue"

    said, slots = await _answer(slots, "deny", domain, conversation_id)
    assert said == ["utter_setup_handover"]
    assert (slots["flow_outcome"], slots["handoff_reason"], slots["handoff_category"]) == (
        "handover",
        "flow_failed",
        "devices",
    )
    assert slots["failing_step"]["step"] == 2

    tracker = conversation(conversation_id, timeline(ASKED, user("no", "deny")), slots=slots)
    await ActionHandoff().run(CollectingDispatcher(), tracker, domain)
    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    assert body["reason"] == "flow_failed" and body["category"] == "devices"
    assert [s.split(" -> ")[1] for s in body["context"]["steps_tried"]] == [
        "worked",
        "did not work",
        "did not work after help",
    ]
    assert body["context"]["failing_step"]["article_id"] == "vpn-windows"
    assert body["context"]["slots"]["device"] == "windows"


@pytest.mark.service
async def test_no_guided_setup_falls_back_to_the_knowledge_base(
    service_env: HelpdeskService, domain: Any
) -> None:
    tracker = conversation(
        "c", timeline(user("what is the meaning of life", "device_setup")), slots={"device": "linux"}
    )
    events = await ActionDeviceSetup().run(CollectingDispatcher(), tracker, domain)
    slots = _slots(events)
    assert slots["flow_outcome"] == "use_kb" and "meaning of life" in slots["kb_query"]


async def test_a_yes_without_a_walk_in_progress(domain: Any) -> None:
    said, slots = await _answer({}, "affirm", domain)
    assert said == ["utter_how_can_i_help"] and slots["flow_outcome"] == "continue"


@pytest.mark.parametrize(
    ("typed", "device"),
    [
        ("Windows", "windows"),
        ("my macbook pro", "macos"),
        ("iPhone 15", "iphone"),
        ("samsung galaxy", "android"),
        ("ubuntu 24.04", "linux"),
        ("a toaster", None),
    ],
)
async def test_device_answers_are_normalised(typed: str, device: str | None, domain: Any) -> None:
    dispatcher = CollectingDispatcher()
    events = timeline(action("device_form"), user(typed, "nlu_fallback"), slot("device", typed))
    tracker = conversation("c", events, slots={"device": typed, "requested_slot": "device"})
    result = _slots(await ValidateDeviceForm().run(dispatcher, tracker, domain))
    assert result["device"] == device
    assert _said(dispatcher) == ([] if device else ["utter_device_unknown"])
