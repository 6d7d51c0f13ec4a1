"""`action_answer_from_kb` and the "did this help?" verdicts, against the real service's knowledge base."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from actions.handoff.actions import ActionHandoff
from actions.handoff.issue_report import ActionSubmitIssue
from actions.knowledge.answers import ActionAnswerFromKb, ActionKbFeedback
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import bot, conversation, timeline, user

pytestmark = pytest.mark.asyncio


def _slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def _responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [message.get("response") or "text" for message in dispatcher.messages]


async def _answer(
    text: str,
    intent: str,
    domain: Any,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        f"test-{uuid.uuid4().hex}", timeline(*(history or []), user(text, intent)), slots=slots
    )
    events = await ActionAnswerFromKb().run(dispatcher, tracker, domain)
    return dispatcher, _slots(events)


async def _verdict(
    slots: dict[str, Any],
    intent: str,
    domain: Any,
    conversation_id: str = "c",
    entities: list[dict[str, Any]] | None = None,
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker: Tracker = conversation(
        conversation_id,
        timeline(user("no" if intent == "deny" else "yes", intent, entities=entities)),
        slots=slots,
    )
    events = await ActionKbFeedback().run(dispatcher, tracker, domain)
    return dispatcher, {**slots, **_slots(events)}


@pytest.mark.service
async def test_a_problem_gets_the_best_article_with_title_answer_and_link(
    service_env: HelpdeskService, domain: Any
) -> None:
    dispatcher, slots = await _answer(
        "I can't connect to the VPN from home on my windows laptop", "report_issue", domain
    )
    assert _responses(dispatcher) == ["text", "utter_did_that_help"]
    answer = dispatcher.messages[0]["text"]
    assert "VPN" in answer.splitlines()[0]
    assert "More: http" in answer
    assert slots["flow_outcome"] == "continue"
    assert slots["kb_current"] and slots["kb_articles_tried"][0]["verdict"] == "shown"
    assert slots["kb_flow"] == "problem"


@pytest.mark.service
async def test_a_stolen_device_goes_to_an_engineer_whatever_the_intent(
    service_env: HelpdeskService, domain: Any
) -> None:
    """The lost-device article tells the customer to call the desk: in the desk's own chat, the bot hands
    them over urgently instead (action_security_incident), however the NLU read the message."""
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        f"test-{uuid.uuid4().hex}",
        timeline(user("my laptop was stolen from my car last night, what do I do now?", "how_to")),
    )
    events = await ActionAnswerFromKb().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_security_incident"}


@pytest.mark.service
async def test_no_shows_the_next_article_then_collects_details(
    service_env: HelpdeskService, domain: Any
) -> None:
    _, slots = await _answer("outlook keeps asking for my password", "report_issue", domain)
    first = slots["kb_current"]
    shown = 1
    while slots.get("flow_outcome") == "continue":
        dispatcher, slots = await _verdict(slots, "deny", domain)
        if slots["flow_outcome"] == "continue":
            assert _responses(dispatcher)[:2] == ["utter_try_another_article", "text"]
            assert slots["kb_current"] != first
            shown += 1
    assert 2 <= shown <= 3
    assert slots["flow_outcome"] == "collect_details"
    assert _responses(dispatcher)[-1] == "utter_collect_details"
    assert [item["verdict"] for item in slots["kb_articles_tried"]] == ["did_not_help"] * shown


@pytest.mark.service
async def test_yes_records_the_verdict_and_asks_for_a_rating(
    service_env: HelpdeskService, domain: Any
) -> None:
    _, slots = await _answer("how do I set up out of office replies", "nlu_fallback", domain)
    dispatcher, slots = await _verdict(slots, "affirm", domain)
    assert _responses(dispatcher) == ["utter_glad_it_helped", "utter_ask_rating"]
    assert slots["kb_articles_tried"][0]["verdict"] == "helped"
    assert (slots["flow_outcome"], slots["rating_for"]) == ("done", "conversation")


@pytest.mark.service
async def test_unclear_messages_get_one_clarifying_question_then_a_person(
    service_env: HelpdeskService, domain: Any
) -> None:
    dispatcher, slots = await _answer("what's the weather in paris tomorrow", "nlu_fallback", domain)
    assert _responses(dispatcher) == ["utter_clarify"] and slots["flow_outcome"] == "continue"
    history = [user("what's the weather", "nlu_fallback"), bot("Sorry, I'm not sure I understood.")]
    dispatcher, slots = await _answer("blorp", "nlu_fallback", domain, history=history)
    assert _responses(dispatcher) == ["utter_still_not_understood"]
    assert (slots["flow_outcome"], slots["handoff_reason"]) == ("handover", "low_confidence")


@pytest.mark.service
async def test_a_question_nothing_answers_is_asked_once_more_then_goes_to_a_person(
    service_env: HelpdeskService, domain: Any
) -> None:
    _, slots = await _answer("calendar delegation for my manager", "nlu_fallback", domain)
    slots["kb_candidates"] = []
    dispatcher, slots = await _verdict(slots, "deny", domain)
    assert _responses(dispatcher) == ["utter_kb_rephrase"] and slots["kb_rephrased"] is True
    assert slots["flow_outcome"] == "continue"
    _, again = await _answer("let my assistant manage my calendar", "how_to", domain)
    dispatcher, slots = await _verdict({**slots, **again, "kb_candidates": []}, "deny", domain)
    assert _responses(dispatcher) == ["utter_kb_exhausted"]
    assert (slots["flow_outcome"], slots["handoff_reason"]) == ("handover", "kb_no_answer")


@pytest.mark.service
async def test_only_articles_close_to_the_best_are_offered_next(
    service_env: HelpdeskService, domain: Any
) -> None:
    """A "no" to the VPN article never leads to "Your computer is slow or freezing"."""
    _, slots = await _answer("the vpn keeps dropping", "report_issue", domain)
    offered_next = [candidate["article_id"] for candidate in slots["kb_candidates"]]
    assert all(article.startswith("vpn-") for article in offered_next), offered_next


@pytest.mark.service
async def test_not_what_i_asked_is_recorded_as_such(service_env: HelpdeskService, domain: Any) -> None:
    _, slots = await _answer("how do I share my calendar", "how_to", domain)
    _dispatcher, slots = await _verdict(
        slots, "deny", domain, entities=[{"entity": "verdict", "value": "not_asked"}]
    )
    assert slots["kb_articles_tried"][0]["verdict"] == "not_asked"


@pytest.mark.service
async def test_articles_tried_and_verdicts_reach_the_engineer(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    _, slots = await _answer("my laptop won't connect to the office wifi", "report_issue", domain)
    _, slots = await _verdict(slots, "deny", domain, conversation_id)
    tracker = conversation(
        conversation_id, timeline(user("wifi broken", "report_issue"), user("no", "deny")), slots=slots
    )
    slots.update(_slots(await ActionSubmitIssue().run(CollectingDispatcher(), tracker, domain)))
    tracker = conversation(
        conversation_id, timeline(user("wifi broken", "report_issue"), user("no", "deny")), slots=slots
    )
    await ActionHandoff().run(CollectingDispatcher(), tracker, domain)
    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    verdicts = [item["verdict"] for item in body["context"]["kb_articles_tried"]]
    assert verdicts[0] == "did_not_help"
    assert (body["reason"], body["category"]) == ("kb_no_answer", "network")


async def test_service_down_means_details_for_a_problem(service_down_env: None, domain: Any) -> None:
    dispatcher, slots = await _answer("printer broken", "report_issue", domain)
    assert _responses(dispatcher) == ["utter_collect_details"]
    assert slots["flow_outcome"] == "collect_details" and slots["issue_summary"] == "printer broken"


async def test_a_verdict_with_no_article_pending(domain: Any) -> None:
    dispatcher, slots = await _verdict({}, "affirm", domain)
    assert _responses(dispatcher) == ["utter_how_can_i_help"]
    assert SlotSet("flow_outcome", "continue") == SlotSet("flow_outcome", slots["flow_outcome"])
