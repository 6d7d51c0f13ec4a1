"""The service calls of the identity form: send a code, check a code (see identity.py)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import flow
from actions.conversation.language import language_of
from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)

MAX_LOOKUPS = 3
VERIFIED = "[verified]"
_NEW_CODE = re.compile(
    r"\b(resend|new code|another code|send (it )?again|didn'?t (get|receive)|no code)\b", re.I
)
_CODE = re.compile(r"^\s*(\d{3})[\s-]?(\d{3})\s*$")


def wants_new_code(text: str) -> bool:
    return bool(_NEW_CODE.search(text))


def _stop(reason: str, priority: str | None = None) -> dict[str, Any]:
    """Slot values that end the form and send the customer to an engineer."""
    slots: dict[str, Any] = {"requested_slot": None, "flow_outcome": flow.HANDOVER, "handoff_reason": reason}
    slots["handoff_category"] = "accounts"
    if priority:
        slots["handoff_priority"] = priority
    return slots


async def send_code(
    dispatcher: CollectingDispatcher, tracker: Tracker, account: str, lookups: int
) -> dict[str, Any]:
    if not account:
        return {"account": None}
    try:
        status, body = await HelpdeskClient.from_env().call(
            "POST",
            "/api/v1/identity/verifications",
            json={
                "username_or_email": account,
                "conversation_id": tracker.sender_id,
                "language": language_of(tracker),
            },
        )
    except HelpdeskUnavailable as exc:
        logger.warning("verification start for %s failed: %s", tracker.sender_id, exc)
        dispatcher.utter_message(response="utter_identity_service_down")
        return _stop("flow_failed", "p2")
    if status == 201:
        dispatcher.utter_message(response="utter_code_sent", destination=body.get("masked_destination"))
        return {"account": account, "verification_id": body.get("verification_id"), "account_lookups": 0}
    if status == 404 and lookups < MAX_LOOKUPS:
        dispatcher.utter_message(response="utter_account_not_found", account=account)
        return {"account": None, "account_lookups": lookups}
    if status == 404:
        dispatcher.utter_message(response="utter_account_not_found_handover")
        return _stop("flow_failed")
    if status == 423:
        dispatcher.utter_message(response="utter_self_service_locked")
        return _stop("identity_verification_failed", "p2")
    if status == 429:
        dispatcher.utter_message(response="utter_too_many_codes")
        return _stop("identity_verification_failed", "p2")
    if status == 409:
        dispatcher.utter_message(response="utter_no_contact_on_record")
        return _stop("flow_failed")
    dispatcher.utter_message(response="utter_account_not_found", account=account)
    return {"account": None}


async def check_code(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> dict[str, Any]:
    match = _CODE.match(text)
    if match is None:
        dispatcher.utter_message(response="utter_code_format")
        return {"otp_code": None}
    verification_id = tracker.get_slot("verification_id")
    try:
        status, body = await HelpdeskClient.from_env().call(
            "POST",
            f"/api/v1/identity/verifications/{verification_id}/check",
            json={"code": match.group(1) + match.group(2)},
        )
    except HelpdeskUnavailable as exc:
        logger.warning("code check for %s failed: %s", tracker.sender_id, exc)
        dispatcher.utter_message(response="utter_identity_service_down")
        return {**_stop("flow_failed", "p2"), "otp_code": None}
    state = body.get("status") if status == 200 else "error"
    if state == "verified":
        dispatcher.utter_message(response="utter_code_verified")
        customer = body.get("customer")
        if isinstance(customer, dict):
            # When the code was checked: "verified" holds for VERIFIED_FOR_SECONDS (handoff/payload.py).
            customer = {**customer, "verified_at": time.time()}
        return {"otp_code": VERIFIED, "verified_customer": customer}
    if state == "wrong_code":
        dispatcher.utter_message(response="utter_code_wrong", attempts_left=body.get("attempts_left"))
        return {"otp_code": None}
    if state == "expired":
        dispatcher.utter_message(response="utter_code_expired")
        return {
            **await send_code(dispatcher, tracker, tracker.get_slot("account") or "", 1),
            "otp_code": None,
        }
    if state == "locked":
        dispatcher.utter_message(response="utter_code_locked")
        return {**_stop("identity_verification_failed", "p2"), "otp_code": None}
    dispatcher.utter_message(response="utter_identity_service_down")
    return {**_stop("flow_failed", "p2"), "otp_code": None}
