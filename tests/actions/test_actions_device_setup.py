"""Guided setup from the knowledge base's steps, against the real service: the right guide for what was
asked (the device second), confirmed by its title before step 1, then one step at a time."""

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


def _device(value: str) -> dict[str, Any]:
    return {"entity": "device", "value": value}


ASKED = user("how do I set up the vpn on my windows laptop", "device_setup", entities=[_device("windows")])


async def _offer(
    asked: dict[str, Any], domain: Any, slots: dict[str, Any] | None = None
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = conversation("c", timeline(asked), slots=slots or {})
    return dispatcher, _slots(await ActionDeviceSetup().run(dispatcher, tracker, domain))


async def _start(domain: Any, conversation_id: str = "c") -> dict[str, Any]:
    _dispatcher, slots = await _offer(ASKED, domain)
    assert slots["setup_article"] == "vpn-windows" and slots["setup_step"] is None
    said, slots = await _answer({"topic": "vpn", **slots}, "affirm", domain, conversation_id)
    assert said[0] == "utter_setup_start" and said[1].startswith("Step 1 of ")
    return slots


async def _answer(
    slots: dict[str, Any],
    intent: str,
    domain: Any,
    conversation_id: str = "c",
    entities: list[dict[str, Any]] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    text = {"affirm": "yes", "deny": "no"}.get(intent, intent)
    tracker = conversation(
        conversation_id, timeline(ASKED, user(text, intent, entities=entities)), slots=slots
    )
    events = await ActionDeviceStep().run(dispatcher, tracker, domain)
    return _said(dispatcher), {**slots, **_slots(events)}


@pytest.mark.service
@pytest.mark.parametrize(
    ("asked", "device", "right_guide"),
    [
        # What the customer asked decides the guide; the device only picks among guides that answer it.
        ("how do I connect to the VPN from my windows laptop", "windows", "vpn-windows"),
        # A near tie with "Set up MFA" (first-time setup): the right guide is offered beside it.
        ("move the authenticator app to my new phone", None, "mfa-new-phone"),
        ("set up my headset on windows", "windows", "headset-setup"),
        ("add the office printer on my mac", "macos", "printer-add-mac"),
    ],
)
async def test_the_guide_offered_is_about_what_was_asked(
    service_env: HelpdeskService, domain: Any, asked: str, device: str | None, right_guide: str
) -> None:
    entities = [_device(device)] if device else []
    dispatcher, slots = await _offer(user(asked, "device_setup", entities=entities), domain)
    assert right_guide in slots["setup_offered"], dispatcher.messages
    if right_guide != "mfa-new-phone":
        assert slots["setup_article"] == right_guide, dispatcher.messages
    offer = dispatcher.messages[-1]
    assert offer["text"].startswith("I can walk you through ") and offer["text"].endswith(
        "Is that what you need?"
    )
    titles = [button["title"] for button in offer["buttons"]]
    assert titles[0] == "Yes, let's start" and titles[-1] == "Something else"
    assert slots["setup_step"] is None, "step 1 waits for the customer's yes"


@pytest.mark.service
async def test_an_answer_without_steps_beats_a_guide_about_something_else(
    service_env: HelpdeskService, domain: Any
) -> None:
    """Guest Wi-Fi for a visitor has no steps: the knowledge base answers with it, rather than walking the
    customer through the corporate Wi-Fi (or the phone hotspot) guide."""
    dispatcher, slots = await _offer(user("set up guest wifi for a visitor", "device_setup"), domain)
    assert slots["flow_outcome"] == "use_kb" and "guest wifi" in slots["kb_query"]
    assert "setup_article" not in slots and _said(dispatcher) == ["utter_setup_no_guide"]


@pytest.mark.service
async def test_a_guide_that_depends_on_the_device_asks_the_device_first(
    service_env: HelpdeskService, domain: Any
) -> None:
    dispatcher, slots = await _offer(user("how do I set up the vpn", "device_setup"), domain)
    assert slots["flow_outcome"] == "ask_device" and not dispatcher.messages
    # After the device form, the same action offers the system's guide.
    answered = timeline(
        user("how do I set up the vpn", "device_setup"),
        action("device_form"),
        {"event": "active_loop", "timestamp": 0, "name": "device_form"},
        user("Mac", "device_setup"),
        action("device_form"),
        slot("device", "macos"),
        {"event": "active_loop", "timestamp": 0, "name": None},
    )
    dispatcher = CollectingDispatcher()
    events = await ActionDeviceSetup().run(
        dispatcher,
        conversation("c", answered, slots={"device": "macos", "setup_query": slots["setup_query"]}),
        domain,
    )
    assert _slots(events)["setup_article"] == "vpn-macos"


@pytest.mark.service
async def test_the_system_the_customer_named_wins_over_a_generic_device_word(
    service_env: HelpdeskService, domain: Any
) -> None:
    asked = user(
        "set up my work email on my android phone",
        "device_setup",
        entities=[_device("android"), _device("phone")],
    )
    _, slots = await _offer(asked, domain, slots={"device": "iphone"})  # an earlier flow's device is ignored
    assert slots["device"] == "android" and slots["setup_article"] == "email-android"


@pytest.mark.service
async def test_another_guide_from_the_offer_starts_that_guide(
    service_env: HelpdeskService, domain: Any
) -> None:
    _, slots = await _offer(ASKED, domain)
    said, slots = await _answer(
        slots, "choose_article", domain, entities=[{"entity": "article_id", "value": "vpn-macos"}]
    )
    assert slots["setup_article"] == "vpn-macos" and slots["setup_step"] == 0
    assert said[0] == "utter_setup_start" and said[1].startswith("Step 1 of ")


@pytest.mark.service
async def test_no_to_the_offer_asks_once_then_answers_from_the_knowledge_base(
    service_env: HelpdeskService, domain: Any
) -> None:
    _, slots = await _offer(ASKED, domain)
    said, slots = await _answer(slots, "deny", domain)
    assert said == ["utter_setup_clarify"] and slots["setup_rephrased"] is True
    assert slots["setup_article"] is None and slots["flow_outcome"] == "continue"
    assert {item["verdict"] for item in slots["kb_articles_tried"]} == {"guide_declined"}
    _, offered_again = await _offer(ASKED, domain, slots=slots)
    said, slots = await _answer({**slots, **offered_again}, "deny", domain)
    assert said == [] and slots["flow_outcome"] == "use_kb" and slots["kb_query"]


@pytest.mark.service
async def test_walks_the_articles_steps_to_the_end(service_env: HelpdeskService, domain: Any) -> None:
    slots = await _start(domain)
    total = 5
    for number in range(2, total + 1):
        said, slots = await _answer(slots, "affirm", domain)
        assert said[0].startswith(f"Step {number} of {total}: ")
    said, slots = await _answer(slots, "affirm", domain)
    assert said == ["utter_setup_done", "utter_ask_rating"]
    assert (
        slots["flow_outcome"] == "done" and slots["setup_article"] is None and slots["rating_asked"] is True
    )
    assert len(slots["steps_tried"]) == total and all(s.endswith("-> worked") for s in slots["steps_tried"])
    assert slots["kb_articles_tried"][-1]["verdict"] == "guide_completed"


@pytest.mark.service
async def test_the_rating_is_asked_once_per_conversation(service_env: HelpdeskService, domain: Any) -> None:
    slots = await _start(domain)
    slots["rating_asked"] = True
    for _ in range(5):
        said, slots = await _answer(slots, "affirm", domain)
    assert said == ["utter_setup_done", "utter_anything_else"]


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
    assert not any(line.startswith("From the article") for line in said), "no unrelated troubleshooting lines"
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


@pytest.mark.service
async def test_no_guided_setup_falls_back_to_the_knowledge_base(
    service_env: HelpdeskService, domain: Any
) -> None:
    tracker = conversation(
        "c", timeline(user("what is the meaning of life", "device_setup")), slots={"device": "linux"}
    )
    dispatcher = CollectingDispatcher()
    slots = _slots(await ActionDeviceSetup().run(dispatcher, tracker, domain))
    assert slots["flow_outcome"] == "use_kb" and "meaning of life" in slots["kb_query"]
    assert _said(dispatcher) == ["utter_setup_no_guide"]


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
        ("Pixel 8", "android"),
        ("ThinkPad X1", "windows"),
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


async def test_the_device_question_never_loops(domain: Any) -> None:
    """ "I get error 809 on the hotel wifi" instead of a device: asked once more, then the bot moves on."""
    dispatcher = CollectingDispatcher()
    typed = "I get error 809 on the hotel wifi"
    events = timeline(action("device_form"), user(typed, "report_issue"), slot("device", typed))
    slots = {"device": typed, "requested_slot": "device", "form_retries": {"device": 1}}
    result = _slots(
        await ValidateDeviceForm().run(dispatcher, conversation("c", events, slots=slots), domain)
    )
    assert result["device"] == "unknown" and _said(dispatcher) == []
    not_sure = timeline(action("device_form"), user("not sure", "dont_know"), slot("device", "not sure"))
    result = _slots(
        await ValidateDeviceForm().run(
            CollectingDispatcher(), conversation("c", not_sure, slots={"requested_slot": "device"}), domain
        )
    )
    assert result["device"] == "unknown"
