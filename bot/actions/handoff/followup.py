"""E-mail follow-up while no engineer of the tier is online; the handoff stays queued either way.

`action_handoff` asks the question in its ticket message and starts `followup_form`, whose first
slot takes the customer's next message whatever it is: a yes (then the address, unless a code
verified it already), a no, an address, or anything else, which is a message for the engineer and
ends the offer silently. `action_email_followup` then pauses the bot for the engineer.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_YES = re.compile(r"^\s*(y|yes|yeah|yep|sure|ok|okay|please|yes please|email me|e-mail me)\b", re.I)


def verified_email(tracker: Tracker) -> str | None:
    customer = tracker.get_slot("verified_customer")
    return customer.get("email") if isinstance(customer, dict) else None


class ActionAskFollowupAnswer(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """The question was part of the ticket message: nothing more to say."""

    def name(self) -> str:
        return "action_ask_followup_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return []


class ValidateFollowupForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_followup_form"

    async def validate_followup_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        address = _EMAIL.search(text)
        if address:
            return {"followup_answer": "yes", "followup_email": address.group(0)}
        intent = flow.latest_intent(tracker)
        if intent == "affirm" or _YES.match(text):
            known = verified_email(tracker)
            return (
                {"followup_answer": "yes", "followup_email": known} if known else {"followup_answer": "yes"}
            )
        answer = "no" if intent == "deny" else "engineer_message"
        return {"followup_answer": answer, "followup_email": None, "requested_slot": None}

    async def validate_followup_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        match = _EMAIL.search(str(value or ""))
        if match is None:
            if value:
                dispatcher.utter_message(response="utter_email_invalid")
            return {"followup_email": None}
        return {"followup_email": match.group(0)}


class ActionEmailFollowup(Action):  # type: ignore[misc]
    """Records the e-mail follow-up (or the customer's no), then leaves the chat to the engineer."""

    def name(self) -> str:
        return "action_email_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        answer = tracker.get_slot("followup_answer")
        email = tracker.get_slot("followup_email")
        number = tracker.get_slot("handoff_ticket")
        if answer == "no":
            dispatcher.utter_message(response="utter_followup_declined")
        elif answer == "yes" and email and number:
            try:
                status, _ = await HelpdeskClient.from_env().call(
                    "POST",
                    f"/api/v1/tickets/{quote(number)}/follow-up",
                    json={"conversation_id": tracker.sender_id, "email": email},
                )
            except HelpdeskUnavailable as exc:
                logger.warning("follow-up for %s failed: %s", number, exc)
                status = 503
            response = "utter_followup_recorded" if status == 201 else "utter_followup_failed"
            dispatcher.utter_message(response=response, ticket_number=number)
        elif answer == "engineer_message" and number:
            # The customer wrote to the engineer instead of answering: it reaches them; say so, once.
            dispatcher.utter_message(response="utter_followup_noted", ticket_number=number)
        return [
            SlotSet("followup_answer", None),
            SlotSet("followup_email", None),
            ConversationPaused(),
            ActionExecuted("action_listen"),
        ]
