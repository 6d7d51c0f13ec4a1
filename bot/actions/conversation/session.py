"""Overrides of Rasa's `action_restart` and `action_session_start`.

Rasa's defaults both reset the tracker, and the reset clears the paused flag (`tracker._reset()` in
rasa/shared/core/trackers.py). Rasa also lets a paused conversation handle exactly one thing: a
`/restart` message (`MessageProcessor._should_handle_message`). Without these overrides a customer
typing `/restart`, or coming back after the session expired, would silently take the conversation
back from the engineer while the service still shows the handoff as open.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)

ACTION_LISTEN = "action_listen"


async def engineer_holds_conversation(tracker: Tracker) -> bool:
    """True while the service has an open (waiting or assigned) handoff for this conversation."""
    try:
        return await HelpdeskClient.from_env().open_handoff(tracker.sender_id) is not None
    except HelpdeskUnavailable as exc:
        # Unknown: keep whatever state Rasa has, so an outage neither strands an engineer's
        # customer with the bot nor pauses a bot conversation nobody is watching.
        logger.warning("open-handoff lookup for %s failed: %s", tracker.sender_id, exc)
        return bool(tracker.is_paused())


class ActionRestart(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """`/restart`: Rasa's default, unless an engineer holds the conversation."""

    def name(self) -> str:
        return "action_restart"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if await engineer_holds_conversation(tracker):
            dispatcher.utter_message(response="utter_handoff_still_open")
            # Rasa keeps predicting while the latest message is `/restart`, even when paused; the
            # follow-up listen ends that loop before any policy can make the bot talk.
            return [ConversationPaused(), FollowupAction(ACTION_LISTEN)]

        dispatcher.utter_message(response="utter_restart")
        # Rasa follows `Restarted` with `action_session_start` by itself.
        return [Restarted()]


class ActionSessionStart(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """Rasa's default session start, staying paused while an engineer holds the conversation."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        if _carries_over_slots(domain):
            events.extend(_carried_over_slots(tracker))
        # A conversation the customer never wrote in cannot have a handoff: no lookup, so new chats
        # start even while the service is down.
        if _has_customer_messages(tracker) and await engineer_holds_conversation(tracker):
            # `SessionStarted` un-pauses; pause again so the new session stays with the engineer.
            events.append(ConversationPaused())
        events.append(ActionExecuted(ACTION_LISTEN))
        return events


def _carries_over_slots(domain: DomainDict) -> bool:
    session_config: dict[str, Any] = domain.get("session_config") or {}
    return bool(session_config.get("carry_over_slots_to_new_session", True))


def _carried_over_slots(tracker: Tracker) -> list[EventType]:
    """One `SlotSet` per slot with its latest value, like Rasa's default carries over."""
    latest: dict[str, Any] = {}
    for event in tracker.applied_events():
        if event.get("event") == "slot" and event.get("name"):
            latest[event["name"]] = event.get("value")
    return [
        SlotSet(name, value)
        for name, value in latest.items()
        if value is not None and name not in NEVER_CARRIED_OVER
    ]


# A verification proves who typed in this session, not in the next one (an hour later, at a shared
# computer, someone else may be at the keyboard): its slots start empty in every new session.
NEVER_CARRIED_OVER = frozenset({"otp_code", "verification_id", "verified_customer", "account_lookups"})


def _has_customer_messages(tracker: Tracker) -> bool:
    return any(event.get("event") == "user" for event in tracker.events)
