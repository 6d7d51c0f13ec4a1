"""Password reset and unlock through the real service: codes from the dev mailbox, never a password."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from actions.identity.actions import (
    VERIFIED,
    ActionIdentityComplete,
    ActionSendResetLink,
    ActionStartIdentity,
    ValidateIdentityForm,
)
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import action, conversation, slot, timeline, user

pytestmark = [pytest.mark.service, pytest.mark.asyncio]


def _typed(conversation_id: str, text: str, slot_name: str, slots: dict[str, Any]) -> Tracker:
    """The tracker the form hands to its validation action: the typed value is the latest slot."""
    events = timeline(action("identity_form"), user(text, "nlu_fallback", 0.4), slot(slot_name, text))
    return conversation(
        conversation_id, events, slots={**slots, slot_name: text, "requested_slot": slot_name}
    )


async def _validate(
    conversation_id: str, text: str, slot_name: str, slots: dict[str, Any], domain: Any
) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateIdentityForm().run(
        dispatcher, _typed(conversation_id, text, slot_name, slots), domain
    )
    values = {event["name"]: event["value"] for event in events if event.get("event") == "slot"}
    return values, [message.get("response") or message.get("text") for message in dispatcher.messages]


async def _verified(
    conversation_id: str, account: str, email: str, service: HelpdeskService, domain: Any
) -> dict[str, Any]:
    slots, said = await _validate(conversation_id, account, "account", {}, domain)
    assert said == ["utter_code_sent"], said
    code = service.latest_code(email)
    checked, said = await _validate(conversation_id, code, "otp_code", slots, domain)
    assert said == ["utter_code_verified"]
    assert checked["otp_code"] == VERIFIED
    return {**slots, **checked}


async def test_start_remembers_the_goal_and_never_asks_for_a_password(domain: Any) -> None:
    dispatcher = CollectingDispatcher()
    tracker = conversation("c", timeline(user("I'm locked out", "account_locked")))
    events = await ActionStartIdentity().run(dispatcher, tracker, domain)
    assert SlotSet("identity_goal", "unlock") in events
    assert [m["response"] for m in dispatcher.messages] == ["utter_identity_intro_unlock"]
    # In every language the customer is told the bot never asks for a password.
    never = {None: "never ask for your password", "de": "frage nie nach Ihrem Passwort"}
    for variation in domain["responses"]["utter_identity_intro_unlock"]:
        language = next(
            (c["value"] for c in variation.get("condition") or [] if c["name"] == "language"), None
        )
        assert never[language] in variation["text"]


async def test_password_reset_mails_a_link_after_the_code(service_env: HelpdeskService, domain: Any) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = await _verified(conversation_id, "jdoe", "jane.doe@example.com", service_env, domain)
    assert slots["verified_customer"]["id"] == "jdoe"
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        conversation_id, timeline(user("x", "nlu_fallback")), slots={**slots, "identity_goal": "reset"}
    )

    events = await ActionIdentityComplete().run(dispatcher, tracker, domain)

    assert [m["response"] for m in dispatcher.messages] == ["utter_reset_link_sent", "utter_ask_rating"]
    assert dispatcher.messages[0]["destination"] == "j******e@example.com"
    assert SlotSet("flow_outcome", "done") in events
    assert service_env.mailbox("jane.doe@example.com")[0]["subject"] == "Reset your password"


async def test_a_locked_account_is_unlocked(service_env: HelpdeskService, domain: Any) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = await _verified(
        conversation_id, "tom.locked@example.com", "tom.locked@example.com", service_env, domain
    )
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        conversation_id, timeline(user("x", "nlu_fallback")), slots={**slots, "identity_goal": "unlock"}
    )

    events = await ActionIdentityComplete().run(dispatcher, tracker, domain)

    assert [m["response"] for m in dispatcher.messages] == ["utter_account_unlocked", "utter_ask_rating"]
    assert SlotSet("flow_outcome", "done") in events


async def test_an_administrators_lock_is_handed_to_an_engineer(
    service_env: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = await _verified(conversation_id, "alocked", "ada.locked@example.com", service_env, domain)
    dispatcher = CollectingDispatcher()
    tracker = conversation(
        conversation_id, timeline(user("x", "nlu_fallback")), slots={**slots, "identity_goal": "unlock"}
    )

    events = await ActionIdentityComplete().run(dispatcher, tracker, domain)

    assert [m["response"] for m in dispatcher.messages] == ["utter_account_locked_by_administrator"]
    assert SlotSet("flow_outcome", "handover") in events
    assert SlotSet("handoff_category", "accounts") in events


async def test_an_unlocked_account_gets_a_reset_link_offer(service_env: HelpdeskService, domain: Any) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots = await _verified(conversation_id, "jdoe", "jane.doe@example.com", service_env, domain)
    tracker = conversation(
        conversation_id, timeline(user("x", "nlu_fallback")), slots={**slots, "identity_goal": "unlock"}
    )
    dispatcher = CollectingDispatcher()

    events = await ActionIdentityComplete().run(dispatcher, tracker, domain)

    assert [m["response"] for m in dispatcher.messages] == ["utter_account_not_locked"]
    assert SlotSet("flow_outcome", "offer_reset_link") in events
    accepted = CollectingDispatcher()
    await ActionSendResetLink().run(accepted, tracker, domain)
    assert accepted.messages[0]["response"] == "utter_reset_link_sent"


async def test_unknown_account_is_asked_again_then_handed_over(
    service_env: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots: dict[str, Any] = {}
    for attempt in (1, 2):
        values, said = await _validate(conversation_id, "nobody-here", "account", slots, domain)
        assert said == ["utter_account_not_found"] and values["account"] is None
        assert values["account_lookups"] == attempt
        slots = values
    values, said = await _validate(conversation_id, "nobody-here", "account", slots, domain)
    assert said == ["utter_account_not_found_handover"]
    assert (values["requested_slot"], values["flow_outcome"], values["handoff_reason"]) == (
        None,
        "handover",
        "flow_failed",
    )


async def test_three_wrong_codes_hand_over_with_high_priority(
    service_env: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots, _ = await _validate(conversation_id, "pchen", "account", {}, domain)
    code = service_env.latest_code("priya.chen@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    said_all = []
    for _ in range(3):
        values, said = await _validate(conversation_id, wrong, "otp_code", slots, domain)
        said_all += said
    assert said_all == ["utter_code_wrong", "utter_code_wrong", "utter_code_locked"]
    assert values["handoff_reason"] == "identity_verification_failed"
    assert values["handoff_priority"] == "p2" and values["requested_slot"] is None
    assert values["otp_code"] is None

    # Self-service stays closed for the account, whatever the conversation.
    again, said = await _validate(f"test-{uuid.uuid4().hex}", "pchen", "account", {}, domain)
    assert said == ["utter_self_service_locked"] and again["flow_outcome"] == "handover"


async def test_typos_in_the_code_are_not_attempts_and_resend_works(
    service_env: HelpdeskService, domain: Any
) -> None:
    conversation_id = f"test-{uuid.uuid4().hex}"
    slots, _ = await _validate(conversation_id, "asmith", "account", {}, domain)
    values, said = await _validate(conversation_id, "12345", "otp_code", slots, domain)
    assert said == ["utter_code_format"] and values["otp_code"] is None
    values, said = await _validate(conversation_id, "I didn't get the code", "otp_code", slots, domain)
    assert said == ["utter_code_sent"] and values["verification_id"] != slots["verification_id"]
    code = service_env.latest_code("alex.smith@example.com")
    spaced = f"{code[:3]} {code[3:]}"
    checked, said = await _validate(conversation_id, spaced, "otp_code", {**slots, **values}, domain)
    assert said == ["utter_code_verified"] and checked["otp_code"] == VERIFIED


async def test_service_down_hands_over(service_down_env: None, domain: Any) -> None:
    values, said = await _validate("c", "jdoe", "account", {}, domain)
    assert said == ["utter_identity_service_down"]
    assert values["flow_outcome"] == "handover"


async def test_complete_without_a_verified_code_hands_over(domain: Any) -> None:
    tracker = conversation(
        "c", timeline(user("x", "nlu_fallback")), slots={"otp_code": None, "identity_goal": "reset"}
    )
    dispatcher = CollectingDispatcher()
    assert await ActionIdentityComplete().run(dispatcher, tracker, domain) == [
        SlotSet("flow_outcome", "handover")
    ]
    assert dispatcher.messages == []


async def test_slots_reset_at_the_start_are_validated_silently(domain: Any) -> None:
    events = timeline(
        user("I forgot my password", "password_reset"),
        action("action_start_identity"),
        slot("account", None),
        slot("otp_code", None),
    )
    dispatcher = CollectingDispatcher()
    await ValidateIdentityForm().run(
        dispatcher, conversation("c", events, slots={"requested_slot": None}), domain
    )
    assert dispatcher.messages == []
