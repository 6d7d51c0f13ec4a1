"""Builds the `POST /api/v1/handoffs` body from a conversation (see docs/architecture.md).

Everything customer-typed that goes into the body passes through `redaction.redact`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from helpdesk_text.redaction import redact, redact_value
from rasa_sdk import Tracker

from actions.conversation.language import language_of

DEFAULT_REASON = "customer_request"
DEFAULT_TIER = "l2"
LOW_CONFIDENCE_REASON = "low_confidence"
UNKNOWN_CHANNEL = "unknown"

# Slots the bot uses to run the hand-over itself; they are sent in their own fields or not at all.
INTERNAL_SLOTS = frozenset(
    {
        "handoff_reason",
        "handoff_tier",
        "handoff_ticket",
        "handoff_priority",
        "handoff_category",
        "kb_articles_tried",
        "steps_tried",
        "session_started_metadata",
        "language",
        "language_source",
        "requested_slot",
        # The flows' own bookkeeping (see actions/flow.py and the domain).
        "flow_outcome",
        "identity_goal",
        "verification_id",
        "verified_customer",
        "account_lookups",
        # Never sent anywhere: holds only a marker once the code is checked, but stay safe.
        "otp_code",
        "kb_candidates",
        "kb_current",
        "kb_query",
        "kb_flow",
        "setup_article",
        "setup_step",
        "setup_help_given",
        "failing_step",
        "rating_for",
        "rating_asked",
        "setup_offered",
        "setup_query",
        "setup_rephrased",
        "kb_rephrased",
        "form_retries",
        "followup_answer",
        "followup_email",
    }
)
PRIORITIES = frozenset({"p1", "p2", "p3", "p4"})

# Answers to the bot's own questions say nothing about what the customer needs.
_ANSWER_INTENTS = frozenset({"affirm", "deny", "dont_know", "choose_article", "rate"})

# What the customer came for, in the queue's words.
TOPIC_INTENTS: dict[str, tuple[str, str]] = {
    "password_reset": ("accounts", "Password reset"),
    "account_locked": ("accounts", "Locked account"),
    "device_setup": ("devices", "Device setup"),
    "report_issue": ("incidents", "Problem report"),
    "how_to": ("questions", "How-to question"),
    "security_incident": ("security", "Security incident"),
    "ticket_status": ("tickets", "Ticket status question"),
}

REASON_PHRASES: dict[str, str] = {
    "customer_request": "the customer asked for an engineer",
    "low_confidence": "the bot did not understand the customer",
    "kb_no_answer": "the knowledge base had no answer",
    "flow_failed": "the self-service flow failed",
    "identity_verification_failed": "identity verification failed",
    "action_server_unavailable": "the bot's action server was unavailable",
    "action_failed": "one of the bot's actions failed",
    "security_incident": "a possible security incident, handed over at once",
    "reported_issue": "the customer reported a problem",
}

# Keeps the body well under any size limit of the service while covering a long chat.
MAX_TRANSCRIPT_ENTRIES = 200
MAX_TEXT_CHARS = 2000
MAX_SUMMARY_QUOTE_CHARS = 200
MAX_INTENT_HISTORY = 20


def build_handoff_payload(tracker: Tracker, reason: str | None = None) -> dict[str, Any]:
    """The handoff request body for the conversation in `tracker`.

    `reason` overrides the one the conversation set (the action fallback in connectors/ uses it).
    """
    events = tracker.events_after_latest_restart()
    user_events = [event for event in events if event.get("event") == "user"]
    intent, confidence = _understood_intent(user_events, tracker.latest_message)
    reason = reason or _slot_text(tracker, "handoff_reason") or _default_reason(tracker)
    tier = _slot_text(tracker, "handoff_tier") or DEFAULT_TIER
    topic_intent = _latest_topic_intent(user_events)

    payload: dict[str, Any] = {
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or UNKNOWN_CHANNEL,
        "reason": reason,
        "tier": tier,
        "summary": _summary(topic_intent, reason, user_events),
        "language": language_of(tracker),
        "context": {
            "intent": intent,
            "confidence": confidence,
            "slots": customer_slots(tracker),
            "kb_articles_tried": _slot_list(tracker, "kb_articles_tried"),
            "steps_tried": _slot_list(tracker, "steps_tried"),
            "intent_history": _intent_history(user_events),
        },
        "transcript": build_transcript(events),
    }
    failing_step = tracker.get_slot("failing_step")
    if isinstance(failing_step, dict):
        payload["context"]["failing_step"] = redact_value(failing_step)
    category = _slot_text(tracker, "handoff_category")
    if category is None and topic_intent is not None:
        category = TOPIC_INTENTS[topic_intent][0]
    if category is not None:
        payload["category"] = category
    priority = _slot_text(tracker, "handoff_priority")
    if priority in PRIORITIES:
        payload["priority"] = priority
    customer = verified_customer(tracker)
    if customer:
        payload["customer"] = customer
    return payload


# A one-time code proves who is at the keyboard for this long: after it, at a shared computer, the next
# person may be typing. Older, the engineer sees who was verified and when, not "verified".
VERIFIED_FOR_SECONDS = 15 * 60


def verified_customer(tracker: Tracker, now: float | None = None) -> dict[str, Any] | None:
    """Who the customer is, once a one-time code proved it in this conversation, and whether that
    proof is still fresh (at most VERIFIED_FOR_SECONDS old)."""
    value = tracker.get_slot("verified_customer")
    if not isinstance(value, dict) or not value.get("id"):
        return None
    verified_at = value.get("verified_at")
    fresh = (
        isinstance(verified_at, int | float)
        and 0 <= (now or time.time()) - verified_at <= VERIFIED_FOR_SECONDS
    )
    customer: dict[str, Any] = {
        "id": str(value["id"]),
        "name": value.get("name"),
        "email": value.get("email"),
        "verified": fresh,
    }
    if isinstance(verified_at, int | float):
        customer["verified_at"] = iso_timestamp(verified_at)
    return customer


def build_transcript(events: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Customer, bot and engineer messages, oldest first, redacted."""
    transcript: list[dict[str, str]] = []
    for event in events:
        role = _transcript_role(event)
        text = event.get("text")
        if role is None or not isinstance(text, str) or not text.strip():
            continue
        transcript.append(
            {"role": role, "text": redact(text)[:MAX_TEXT_CHARS], "at": iso_timestamp(event.get("timestamp"))}
        )
    return transcript[-MAX_TRANSCRIPT_ENTRIES:]


def customer_slots(tracker: Tracker) -> dict[str, Any]:
    """What the customer told the bot (non-empty slots that are not bookkeeping), redacted."""
    return {
        name: redact_value(value)
        for name, value in tracker.slots.items()
        if value is not None and name not in INTERNAL_SLOTS
    }


def iso_timestamp(timestamp: Any) -> str:
    """Rasa's float epoch seconds as an ISO 8601 UTC string ending in `Z`."""
    moment = (
        datetime.fromtimestamp(float(timestamp), tz=timezone.utc)
        if isinstance(timestamp, (int, float))
        else datetime.now(tz=timezone.utc)
    )
    # Full precision: the service can match a line to the same event read back from the broker.
    return moment.isoformat(timespec="auto").replace("+00:00", "Z")


def _transcript_role(event: dict[str, Any]) -> str | None:
    if event.get("event") == "user":
        return "customer"
    if event.get("event") == "bot":
        # The service posts engineers' replies as bot events tagged with its message id.
        metadata = event.get("metadata") or {}
        return "agent" if "helpdesk_message_id" in metadata else "bot"
    return None


def _understood_intent(
    user_events: list[dict[str, Any]], latest_message: dict[str, Any]
) -> tuple[str | None, float | None]:
    """Intent and confidence of the latest message that says what the customer needs.

    A "yes" to "shall I connect you?" is skipped so the engineer sees "password_reset", not "affirm".
    """
    parses = [event.get("parse_data") or {} for event in reversed(user_events)]
    parses.append(latest_message or {})
    candidates = [parse.get("intent") or {} for parse in parses]
    chosen = next(
        (intent for intent in candidates if intent.get("name") and intent["name"] not in _ANSWER_INTENTS),
        next((intent for intent in candidates if intent.get("name")), {}),
    )
    confidence = chosen.get("confidence")
    return chosen.get("name"), None if confidence is None else round(float(confidence), 4)


def _intent_history(user_events: list[dict[str, Any]]) -> list[str]:
    """Intents of the customer's messages since the last restart, oldest first (extra context key)."""
    names = [((event.get("parse_data") or {}).get("intent") or {}).get("name") for event in user_events]
    return [str(name) for name in names if name][-MAX_INTENT_HISTORY:]


def _latest_topic_intent(user_events: list[dict[str, Any]]) -> str | None:
    for event in reversed(user_events):
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name in TOPIC_INTENTS:
            return str(name)
    return None


def _default_reason(tracker: Tracker) -> str:
    latest_intent = (tracker.latest_message.get("intent") or {}).get("name")
    return LOW_CONFIDENCE_REASON if latest_intent == "nlu_fallback" else DEFAULT_REASON


def _summary(topic_intent: str | None, reason: str, user_events: list[dict[str, Any]]) -> str:
    label = TOPIC_INTENTS[topic_intent][1] if topic_intent else "General help"
    summary = f"{label}: {REASON_PHRASES.get(reason, reason.replace('_', ' '))}."
    typed = [
        event["text"]
        for event in user_events
        if isinstance(event.get("text"), str)
        and event["text"].strip()
        and not event["text"].startswith("/")
        and ((event.get("parse_data") or {}).get("intent") or {}).get("name") not in _ANSWER_INTENTS
    ]
    if typed:
        quote = redact(typed[-1])
        if len(quote) > MAX_SUMMARY_QUOTE_CHARS:
            quote = quote[: MAX_SUMMARY_QUOTE_CHARS - 1] + "…"
        summary += f' Last message: "{quote}"'
    return summary


def _slot_text(tracker: Tracker, name: str) -> str | None:
    value = tracker.get_slot(name)
    return value if isinstance(value, str) and value else None


def _slot_list(tracker: Tracker, name: str) -> list[Any]:
    value = tracker.get_slot(name)
    return redact_value(list(value)) if isinstance(value, list) else []
