"""Hands the conversation over to an engineer (L2 by default) through the helpdesk service."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .handoff_payload import build_handoff_payload
from .helpdesk_client import Handoff, HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)


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

        tell_customer_about(handoff, dispatcher)
        return [
            SlotSet("handoff_ticket", handoff.number),
            # Reason and tier describe this hand-over only; a later one starts from the defaults.
            SlotSet("handoff_reason", None),
            SlotSet("handoff_tier", None),
            ConversationPaused(),
            # Rasa stops predicting once paused, so it would never log the turn's closing listen.
            # Without it a later `/restart` misses Rasa's restart rule (it needs the latest action
            # to be action_listen) and an ML policy picks a random action while an engineer talks.
            ActionExecuted("action_listen"),
        ]


def tell_customer_about(handoff: Handoff, dispatcher: CollectingDispatcher) -> None:
    """Ticket number and what happens next, in the words of `utter_handoff_*` responses."""
    fill: dict[str, Any] = {"ticket_number": handoff.number, "tier_label": handoff.tier.upper()}
    if handoff.status == "waiting" and handoff.queue_position:
        dispatcher.utter_message(
            response="utter_handoff_created", queue_position=handoff.queue_position, **fill
        )
    else:
        # Asked again while an engineer already has it: there is no queue place to report.
        dispatcher.utter_message(response="utter_handoff_assigned", **fill)
