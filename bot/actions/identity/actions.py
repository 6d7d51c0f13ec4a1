"""Password reset and account unlock: verify by a one-time code mailed to the address on record.

The bot never asks for, shows or stores a password. The code the customer types is checked by the
service and replaced in the `otp_code` slot by a marker at once; the slot is not featurized, never
sent with a handoff, and codes are masked in every transcript (redaction.py).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.identity.steps import check_code, send_code, wants_new_code
from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)

VERIFIED = "[verified]"
# What the identity slots hold when the customer could not name their account.
SKIPPED = "[skipped]"
IDENTITY_SLOTS = ("account", "otp_code", "verification_id", "verified_customer", "account_lookups")


class ActionStartIdentity(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """Remembers whether the customer wants an unlock or a reset, and explains what happens next."""

    def name(self) -> str:
        return "action_start_identity"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        goal = "unlock" if flow.latest_intent(tracker) == "account_locked" else "reset"
        dispatcher.utter_message(response=f"utter_identity_intro_{goal}")
        return [SlotSet("identity_goal", goal), flow.outcome(flow.CONTINUE)] + [
            SlotSet(name, None) for name in IDENTITY_SLOTS
        ]


class ValidateIdentityForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_identity_form"

    async def validate_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        account = str(value or "").strip()[:200]
        if not account:
            # Slots reset when the flow starts are validated too: nothing typed, nothing to say.
            return {"account": None}
        if flow.latest_intent(tracker) == "dont_know" or flow.not_sure(account):
            # No account, no check: rather than asking again, the knowledge base answers what they asked
            # (perhaps they did not mean a reset at all), and a person after that.
            dispatcher.utter_message(response="utter_identity_skipped")
            asked = flow.text_of_latest_intent(tracker, {"password_reset", "account_locked"})
            return {
                "account": SKIPPED,
                "otp_code": SKIPPED,
                "kb_query": asked or None,
                "flow_outcome": flow.USE_KB,
            }
        lookups = int(tracker.get_slot("account_lookups") or 0) + 1
        return await send_code(dispatcher, tracker, account, lookups)

    async def validate_otp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if not text.strip():
            return {"otp_code": None}
        if wants_new_code(text):
            result = await send_code(dispatcher, tracker, tracker.get_slot("account") or "", 1)
            return {**result, "otp_code": None}
        return await check_code(dispatcher, tracker, text)


class ActionIdentityComplete(Action):  # type: ignore[misc]
    """After the form: unlock the account or mail a reset link (or hand over if verification failed)."""

    def name(self) -> str:
        return "action_identity_complete"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("otp_code") == SKIPPED:
            return [*(SlotSet(name, None) for name in IDENTITY_SLOTS), flow.outcome(flow.USE_KB)]
        if tracker.get_slot("flow_outcome") == flow.HANDOVER or tracker.get_slot("otp_code") != VERIFIED:
            # The form ended without a verified code: the validator already told the customer why.
            return [flow.outcome(flow.HANDOVER)]
        if tracker.get_slot("identity_goal") == "unlock":
            return await _unlock(dispatcher, tracker)
        return await send_reset_link(dispatcher, tracker)


class ActionSendResetLink(Action):  # type: ignore[misc]
    """The customer accepted a reset link after finding their account was not locked."""

    def name(self) -> str:
        return "action_send_reset_link"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return await send_reset_link(dispatcher, tracker)


async def _unlock(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    verification_id = tracker.get_slot("verification_id")
    try:
        status, body = await HelpdeskClient.from_env().call(
            "POST", f"/api/v1/identity/verifications/{verification_id}/unlock"
        )
    except HelpdeskUnavailable as exc:
        logger.warning("unlock for %s failed: %s", tracker.sender_id, exc)
        status, body = 503, {}
    if status != 200:
        dispatcher.utter_message(response="utter_identity_service_down")
        return flow.hand_over("flow_failed", priority="p2", category="accounts")
    if body.get("locked_by_administrator"):
        # A leaver's or an incident's lock: an engineer decides, with the verification on record.
        dispatcher.utter_message(response="utter_account_locked_by_administrator")
        return flow.hand_over("flow_failed", priority="p2", category="accounts")
    if body.get("was_locked"):
        dispatcher.utter_message(response="utter_account_unlocked", account=tracker.get_slot("account"))
        return flow.ask_rating(dispatcher, tracker)
    dispatcher.utter_message(response="utter_account_not_locked")
    return [flow.outcome(flow.OFFER_RESET_LINK)]


async def send_reset_link(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    verification_id = tracker.get_slot("verification_id")
    if not verification_id or tracker.get_slot("otp_code") != VERIFIED:
        dispatcher.utter_message(response="utter_verification_needed")
        return [flow.outcome(flow.CONTINUE)]
    try:
        status, body = await HelpdeskClient.from_env().call(
            "POST", f"/api/v1/identity/verifications/{verification_id}/reset-link"
        )
    except HelpdeskUnavailable as exc:
        logger.warning("reset link for %s failed: %s", tracker.sender_id, exc)
        status, body = 503, {}
    if status == 409:
        dispatcher.utter_message(response="utter_verification_expired")
        return [flow.outcome(flow.CONTINUE), SlotSet("otp_code", None)]
    if status != 200:
        dispatcher.utter_message(response="utter_identity_service_down")
        return flow.hand_over("flow_failed", priority="p2", category="accounts")
    dispatcher.utter_message(response="utter_reset_link_sent", destination=body.get("masked_destination"))
    return flow.ask_rating(dispatcher, tracker)
