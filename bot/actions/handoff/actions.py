"""Hands the conversation over to an engineer (L2 by default) through the helpdesk service."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation.language import language_of, text
from actions.handoff.payload import build_handoff_payload
from actions.service.client import Handoff, HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)
HANDOVER_SLOTS = ("handoff_reason", "handoff_tier", "handoff_priority", "handoff_category", "flow_outcome")


class ActionHandoff(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """Opens (or finds) the conversation's handoff, tells the customer, and pauses the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        payload = build_handoff_payload(tracker)
        try:
            handoff = await HelpdeskClient.from_env().create_handoff(payload)
        except HelpdeskUnavailable as exc:
            # Pausing now would leave the customer talking to nobody: stay with the bot instead.
            logger.warning("handoff for conversation %s failed: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_handoff_failed")
            return []

        tell_customer_about(handoff, dispatcher, language_of(tracker))
        events: list[EventType] = [
            SlotSet("handoff_ticket", handoff.number),
            # Reason, tier, priority and category describe this hand-over only.
            *(SlotSet(name, None) for name in HANDOVER_SLOTS),
        ]
        if nobody_online(handoff):
            # The ticket message asked about an e-mail follow-up: the form takes the next answer,
            # then pauses (followup.py). The handoff is queued either way.
            return [*events, FollowupAction("followup_form")]
        return [
            *events,
            ConversationPaused(),
            # Rasa stops predicting once paused, so it would never log the turn's closing listen.
            # Without it a later `/restart` misses Rasa's restart rule (it needs the latest action
            # to be action_listen) and an ML policy picks a random action while an engineer talks.
            ActionExecuted("action_listen"),
        ]


def nobody_online(handoff: Handoff) -> bool:
    return handoff.status == "waiting" and handoff.agents_online == 0


def expected_wait(handoff: Handoff, language: str = "en") -> str:
    """The tier's first-response target for this ticket, in words ("within 29 minutes (by 16:30 UTC)")."""
    try:
        due = datetime.fromisoformat(str(handoff.first_response_due).replace("Z", "+00:00"))
    except ValueError:
        return "as soon as an engineer is back" if language == "en" else "sobald ein Techniker wieder da ist"
    minutes = max(1, int((due - datetime.now(timezone.utc)).total_seconds() // 60))
    within = (
        text(language, "within_minutes", count=minutes)
        if minutes < 120
        else text(language, "within_hours", count=round(minutes / 60))
    )
    day = (
        ""
        if minutes < 24 * 60
        else text(language, "on_day", day=f"{due:%d.%m.}" if language == "de" else f"{due:%d %b}")
    )
    return f"{within} {text(language, 'by_time', time=f'{due:%H:%M}', day=day)}"


def tell_customer_about(handoff: Handoff, dispatcher: CollectingDispatcher, language: str = "en") -> None:
    """Ticket number and what happens next, in the words of `utter_handoff_*` responses."""
    fill: dict[str, Any] = {"ticket_number": handoff.number, "tier_label": handoff.tier.upper()}
    if nobody_online(handoff):
        dispatcher.utter_message(
            response="utter_handoff_nobody_online",
            queue_position=handoff.queue_position or 1,
            expected_wait=expected_wait(handoff, language),
            **fill,
        )
    elif handoff.status == "waiting" and handoff.queue_position:
        dispatcher.utter_message(
            response="utter_handoff_created", queue_position=handoff.queue_position, **fill
        )
    else:
        # Asked again while an engineer already has it: there is no queue place to report.
        dispatcher.utter_message(response="utter_handoff_assigned", **fill)
