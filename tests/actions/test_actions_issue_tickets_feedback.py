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
    assert [m["response"] for m in dispatcher.messages] == ["utter_handed_back", "utter_ask_rating"]
    assert dispatcher.messages[0]["ticket_number"] == "HD-01012"
    assert slots["rating_for"] == "12"


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
    silent = CollectingDispatcher()
    events = await ActionEmailFollowup().run(silent, conversation("c", answered, slots=values), domain)
    assert silent.messages == [] and ConversationPaused() in events
