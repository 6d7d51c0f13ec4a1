"""`/restart` and session expiry must not take a conversation away from an engineer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from actions.conversation.session import ActionRestart, ActionSessionStart
from actions.handoff.actions import ActionHandoff
from rasa_sdk import Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from tests.harness.service_process import HelpdeskService

from conversation_builder import action, conversation, paused, slot, timeline, user


async def _handed_over_conversation(domain: dict[str, Any]) -> Tracker:
    """A conversation whose handoff is open at the service, paused as Rasa would have it."""
    conversation_id = f"test-{uuid.uuid4().hex}"
    events = timeline(action("action_listen"), user("human please", "request_human"))
    created = await ActionHandoff().run(CollectingDispatcher(), conversation(conversation_id, events), domain)
    assert ConversationPaused() in created
    ticket = next(event["value"] for event in created if event.get("name") == "handoff_ticket")
    return conversation(
        conversation_id,
        [
            *events,
            action("action_handoff"),
            slot("handoff_ticket", ticket),
            paused(),
            action("action_listen"),
            user("/restart", "restart"),
        ],
        slots={"handoff_ticket": ticket},
        is_paused=True,
    )


def _fresh_conversation(*extra: dict[str, Any]) -> Tracker:
    events = timeline(action("action_listen"), user("hi", "greet"), slot("device", "laptop"), *extra)
    return conversation(f"test-{uuid.uuid4().hex}", events, slots={"device": "laptop"})


@pytest.mark.service
@pytest.mark.asyncio
async def test_restart_during_a_handoff_keeps_it_paused_and_open(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: dict[str, Any]
) -> None:
    tracker = await _handed_over_conversation(domain)
    dispatcher = CollectingDispatcher()

    events = await ActionRestart().run(dispatcher, tracker, domain)

    assert events == [ConversationPaused(), FollowupAction("action_listen")]
    assert Restarted() not in events
    assert [message["response"] for message in dispatcher.messages] == ["utter_handoff_still_open"]
    assert service_env.get(f"/api/v1/conversations/{tracker.sender_id}/handoff").status_code == 200


@pytest.mark.service
@pytest.mark.asyncio
async def test_restart_without_a_handoff_restarts(
    service_env: HelpdeskService, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionRestart().run(dispatcher, _fresh_conversation(user("/restart", "restart")), domain)

    assert events == [Restarted()]
    assert [message["response"] for message in dispatcher.messages] == ["utter_restart"]


@pytest.mark.asyncio
async def test_restart_while_the_service_is_down_keeps_rasas_paused_state(
    service_down_env: None, domain: dict[str, Any]
) -> None:
    held = conversation(
        "test-held",
        timeline(user("agent", "request_human"), paused(), user("/restart", "restart")),
        is_paused=True,
    )
    assert await ActionRestart().run(CollectingDispatcher(), held, domain) == [
        ConversationPaused(),
        FollowupAction("action_listen"),
    ]
    free = _fresh_conversation(user("/restart", "restart"))
    assert await ActionRestart().run(CollectingDispatcher(), free, domain) == [Restarted()]


@pytest.mark.service
@pytest.mark.asyncio
async def test_new_session_during_a_handoff_stays_paused(
    service_env: HelpdeskService, l2_online: HelpdeskService, domain: dict[str, Any]
) -> None:
    tracker = await _handed_over_conversation(domain)
    dispatcher = CollectingDispatcher()

    events = await ActionSessionStart().run(dispatcher, tracker, domain)

    assert events[0] == SessionStarted()
    assert SlotSet("handoff_ticket", tracker.get_slot("handoff_ticket")) in events
    # SessionStarted resets Rasa's paused flag, so the pause must come after it.
    assert events[-2:] == [ConversationPaused(), ActionExecuted("action_listen")]
    assert dispatcher.messages == []


@pytest.mark.service
@pytest.mark.asyncio
async def test_new_session_without_a_handoff_is_rasas_default(
    service_env: HelpdeskService, domain: dict[str, Any]
) -> None:
    events = await ActionSessionStart().run(CollectingDispatcher(), _fresh_conversation(), domain)

    assert events == [SessionStarted(), SlotSet("device", "laptop"), ActionExecuted("action_listen")]


@pytest.mark.asyncio
async def test_a_verification_never_carries_over_to_a_new_session(
    service_down_env: None, domain: dict[str, Any]
) -> None:
    """Slots carry over, but who proved their identity in the last session may not be who types now."""
    verified = (
        slot("otp_code", "verified"),
        slot("verification_id", "v-1"),
        slot("verified_customer", {"id": "jdoe", "verified_at": 1.0}),
        slot("account_lookups", 1),
    )
    events = await ActionSessionStart().run(CollectingDispatcher(), _fresh_conversation(*verified), domain)

    assert events == [SessionStarted(), SlotSet("device", "laptop"), ActionExecuted("action_listen")]


@pytest.mark.asyncio
async def test_slots_are_not_carried_over_when_the_domain_says_so(
    service_down_env: None, domain: dict[str, Any]
) -> None:
    no_carry_over = {**domain, "session_config": {"carry_over_slots_to_new_session": False}}

    events = await ActionSessionStart().run(CollectingDispatcher(), _fresh_conversation(), no_carry_over)

    assert events == [SessionStarted(), ActionExecuted("action_listen")]


@pytest.mark.asyncio
async def test_a_brand_new_conversation_starts_even_while_the_service_is_down(
    service_down_env: None, domain: dict[str, Any]
) -> None:
    events = await ActionSessionStart().run(CollectingDispatcher(), conversation("test-new", []), domain)

    assert events == [SessionStarted(), ActionExecuted("action_listen")]
