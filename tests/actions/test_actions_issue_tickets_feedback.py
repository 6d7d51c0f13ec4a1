"""Problem reports, ticket status, ratings and the e-mail follow-up, against the real service."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from actions.conversation.feedback import ActionHandedBack, ActionSaveRating
from actions.handoff.actions import ActionHandoff
from actions.handoff.followup import ActionEmailFollowup, ValidateFollowupForm
from actions.handoff.issue_report import ActionSubmitIssue
from actions.handoff.tickets import ActionTicketStatus
from rasa_sdk.events import ActionExecuted, ConversationPaused, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import action, conversation, slot, timeline, user

pytestmark = pytest.mark.asyncio


def _slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


@pytest.mark.service
async def test_a_reported_problem_reaches_l2_with_category_and_priority(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = {
        "issue_summary": "nobody on floor 3 can print",
        "issue_since": "this morning",
        "issue_error": "offline",
        "device": "printer",
        "issue_impact": "team",
        "issue_urgency": "high",
    }
    tracker = conversation(
        conversation_id, timeline(user("nobody on floor 3 can print", "report_issue")), slots=slots
    )
    slots.update(_slots(await ActionSubmitIssue().run(CollectingDispatcher(), tracker, domain)))
    assert (slots["handoff_reason"], slots["handoff_priority"], slots["flow_outcome"]) == (
        "reported_issue",
        "p2",
        "handover",
    )
    tracker = conversation(
        conversation_id, timeline(user("nobody on floor 3 can print", "report_issue")), slots=slots
    )
    await ActionHandoff().run(CollectingDispatcher(), tracker, domain)
    body = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    assert (body["priority"], body["category"], body["reason"]) == ("p2", "printing", "reported_issue")
    assert body["context"]["slots"]["issue_since"] == "this morning"


@pytest.mark.parametrize(
    ("summary", "impact", "urgency", "priority"),
    [
        # "Not sure" how urgent, but the description says it: a team and a deadline today.
        (
            "The S: drive is gone for the whole finance team. Month end closing today!",
            "team",
            "unknown",
            "p2",
        ),
        ("Drucker im 2. OG geht nicht, dringend", "unknown", "unknown", "p3"),  # me (assumed) x high
        ("my second monitor flickers sometimes", "me", "unknown", "p3"),  # nothing says more
        ("everyone in the building lost the wifi, nobody can work", "unknown", "unknown", "p1"),
    ],
)
async def test_not_sure_reads_the_customers_own_description(
    summary: str, impact: str, urgency: str, priority: str, domain: Any
) -> None:
    slots = {"issue_summary": summary, "issue_impact": impact, "issue_urgency": urgency}
    tracker = conversation("c", timeline(user(summary, "report_issue")), slots=slots)
    events = await ActionSubmitIssue().run(CollectingDispatcher(), tracker, domain)
    assert _slots(events)["handoff_priority"] == priority


@pytest.mark.service
async def test_ticket_status_only_for_this_conversation(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: Any
) -> None:
    mine = f"test-{uuid.uuid4().hex}"
    created = CollectingDispatcher()
    await ActionHandoff().run(created, conversation(mine, timeline(user("agent", "request_human"))), domain)
    number = created.messages[0]["ticket_number"]

    own = CollectingDispatcher()
    await ActionTicketStatus().run(
        own, conversation(mine, timeline(user(f"status of {number}", "ticket_status"))), domain
    )
    assert own.messages[0]["text"].startswith(f"{number} is waiting for an engineer (L2)")

    other = CollectingDispatcher()
    stranger = conversation("someone-else", timeline(user(f"status of {number.lower()}", "ticket_status")))
    await ActionTicketStatus().run(other, stranger, domain)
    assert other.messages[0]["response"] == "utter_ticket_not_found"

    listed = CollectingDispatcher()
    await ActionTicketStatus().run(
        listed, conversation(mine, timeline(user("my tickets?", "ticket_status"))), domain
    )
    assert number in listed.messages[0]["text"]
    none = CollectingDispatcher()
    await ActionTicketStatus().run(
        none, conversation("nobody", timeline(user("my tickets?", "ticket_status"))), domain
    )
    assert none.messages[0]["response"] == "utter_no_tickets"


@pytest.mark.service
async def test_ratings_are_stored_with_the_conversation(service_env: HelpdeskService, domain: Any) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        conversation_id, timeline(user("2, took far too long", "rate")), slots={"rating_for": "conversation"}
    )
    await ActionSaveRating().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_sorry_low_rating"
    stored = service_env.as_lead("/api/v1/ratings", conversation_id=conversation_id).json()
    assert [(r["rating"], r["comment"]) for r in stored] == [(2, "took far too long")]


async def test_a_hand_back_asks_for_a_rating_of_that_handoff(domain: Any) -> None:
    dispatcher = CollectingDispatcher()
    back = user(
        "",
        "EXTERNAL_handed_back",
        entities=[{"entity": "handoff_id", "value": "12"}, {"entity": "ticket_number", "value": "HD-01012"}],
    )
    slots = _slots(await ActionHandedBack().run(dispatcher, conversation("c", timeline(back)), domain))
    # About the engineer's help on the ticket, even when the bot asked for a rating before.
    assert [m["response"] for m in dispatcher.messages] == ["utter_handed_back", "utter_ask_rating_engineer"]
    assert dispatcher.messages[0]["ticket_number"] == dispatcher.messages[1]["ticket_number"] == "HD-01012"
    assert slots["rating_for"] == "12"


async def test_a_number_is_a_rating_only_when_the_bot_asked_for_one(domain: Any) -> None:
    """ "install my Canon printer on Ubuntu 22.04" read as a rating stores nothing and says no thanks."""
    dispatcher = CollectingDispatcher()
    tracker = conversation("c", timeline(user("install my canon printer on ubuntu 22.04", "rate")))
    events = await ActionSaveRating().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "action_answer_from_kb")]


@pytest.mark.parametrize(
    ("said", "priority"),
    [
        ("all my files are locked and there is a note asking for bitcoin", "p1"),
        ("my work laptop was stolen from my car", "p2"),
    ],
)
async def test_a_security_incident_goes_to_an_engineer_urgently(
    said: str, priority: str, domain: Any
) -> None:
    from actions.handoff.security import ActionSecurityIncident

    dispatcher = CollectingDispatcher()
    asked = user(said, "security_incident", confidence=0.9)
    slots = _slots(await ActionSecurityIncident().run(dispatcher, conversation("c", timeline(asked)), domain))
    assert [m["response"] for m in dispatcher.messages] == ["utter_security_incident"]
    assert (slots["flow_outcome"], slots["handoff_reason"], slots["handoff_category"]) == (
        "handover",
        "security_incident",
        "security",
    )
    assert slots["handoff_priority"] == priority


@pytest.mark.service
async def test_an_unsure_incident_that_the_knowledge_base_answers_gets_the_answer(
    service_env: HelpdeskService, domain: Any
) -> None:
    from actions.handoff.security import ActionSecurityIncident

    dispatcher = CollectingDispatcher()
    asked = user("how do I clear the cache and cookies in my browser", "security_incident", confidence=0.31)
    events = await ActionSecurityIncident().run(dispatcher, conversation("c", timeline(asked)), domain)
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "action_answer_from_kb")]


@pytest.mark.service
async def test_a_confident_incident_without_a_word_of_one_is_checked_against_the_knowledge_base(
    service_env: HelpdeskService, domain: Any
) -> None:
    """The NLU may read a plain fault as an incident, sure of itself: with nothing in the message that an
    incident report names, the knowledge base's clear answer comes first."""
    from actions.handoff.security import ActionSecurityIncident

    dispatcher = CollectingDispatcher()
    said = "mein laptop verbindet sich nicht mit dem ExampleCorp wlan, im guest gehts komischerweise"
    asked = user(said, "security_incident", confidence=0.93)
    tracker = conversation("c", timeline(asked), slots={"language": "de"})
    events = await ActionSecurityIncident().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "action_answer_from_kb")]


@pytest.mark.service
async def test_nobody_online_offers_an_email_follow_up_and_records_it(
    service_env: HelpdeskService, l2_offline: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(
        dispatcher, conversation(conversation_id, timeline(user("human", "request_human"))), domain
    )
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_nobody_online" and message["expected_wait"].startswith(
        "within "
    )
    assert events[-1] == FollowupAction("followup_form") and ConversationPaused() not in events
    number = message["ticket_number"]

    answered = timeline(
        action("followup_form"), user("yes please", "affirm"), slot("followup_answer", "yes please")
    )
    form = conversation(
        conversation_id,
        answered,
        slots={"followup_answer": "yes please", "requested_slot": "followup_answer"},
    )
    assert (
        _slots(await ValidateFollowupForm().run(CollectingDispatcher(), form, domain))["followup_answer"]
        == "yes"
    )

    done = CollectingDispatcher()
    slots = {"followup_answer": "yes", "followup_email": "jane.doe@example.com", "handoff_ticket": number}
    events = await ActionEmailFollowup().run(
        done,
        conversation(conversation_id, timeline(user("jane.doe@example.com", "nlu_fallback")), slots=slots),
        domain,
    )
    assert done.messages[0]["response"] == "utter_followup_recorded"
    assert events[-2:] == [ConversationPaused(), ActionExecuted("action_listen")]
    handoff = service_env.get(f"/api/v1/conversations/{conversation_id}/handoff").json()
    assert handoff["status"] == "waiting" and handoff["context"]["email_follow_up"] == "jane.doe@example.com"


async def test_any_other_answer_to_the_offer_is_a_message_for_the_engineer(domain: Any) -> None:
    typed = "my laptop does not see the office wifi"
    answered = timeline(action("followup_form"), user(typed, "report_issue"), slot("followup_answer", typed))
    form = conversation("c", answered, slots={"followup_answer": typed, "requested_slot": "followup_answer"})
    values = _slots(await ValidateFollowupForm().run(CollectingDispatcher(), form, domain))
    assert (values["followup_answer"], values["requested_slot"]) == ("engineer_message", None)
    noted = CollectingDispatcher()
    values["handoff_ticket"] = "HD-01234"
    events = await ActionEmailFollowup().run(noted, conversation("c", answered, slots=values), domain)
    # Said once that it reached the ticket, so the customer is not left wondering; then the engineer's turn.
    assert [(m["response"], m.get("ticket_number")) for m in noted.messages] == [
        ("utter_followup_noted", "HD-01234")
    ]
    assert ConversationPaused() in events


async def test_who_is_affected_is_never_asked_a_third_time(domain: Any) -> None:
    """An answer the bot cannot read is asked once more; the second, or "not sure", moves on."""
    from actions.handoff.issue_report import ValidateIssueForm

    async def answer(
        text: str, intent: str, retries: dict[str, int] | None
    ) -> tuple[list[str], dict[str, Any]]:
        dispatcher = CollectingDispatcher()
        events = timeline(action("issue_form"), user(text, intent), slot("issue_impact", text))
        slots = {"issue_impact": text, "requested_slot": "issue_impact", "form_retries": retries}
        result = _slots(
            await ValidateIssueForm().run(dispatcher, conversation("c", events, slots=slots), domain)
        )
        return [m["response"] for m in dispatcher.messages], result

    said, result = await answer("the people in sales and maybe accounting", "nlu_fallback", None)
    assert said == ["utter_choose_impact"] and result["issue_impact"] is None
    said, result = await answer(
        "the people in sales and maybe accounting", "nlu_fallback", result["form_retries"]
    )
    assert said == [] and result["issue_impact"] == "unknown"
    said, result = await answer("I'm not sure", "dont_know", None)
    assert said == [] and result["issue_impact"] == "unknown"
    said, result = await answer("my whole team", "nlu_fallback", None)
    assert result["issue_impact"] == "team"
