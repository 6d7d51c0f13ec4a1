"""Small helpers the flows share: what the customer just said, hand-over slots, the rating question."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

# What a flow tells the dialogue it wants next (categorical slot `flow_outcome`, see rules.yml).
CONTINUE = "continue"  # a question was asked: wait for the customer
DONE = "done"  # solved: the rating question was asked
HANDOVER = "handover"  # hand over to an engineer (handoff_* slots say why)
COLLECT_DETAILS = "collect_details"  # gather the problem's details, then hand over
OFFER_RESET_LINK = "offer_reset_link"  # account was not locked: offer a reset link
USE_KB = "use_kb"  # no guided setup: answer from the knowledge base instead
ASK_DEVICE = "ask_device"  # the guide depends on the device: ask which one first


def outcome(value: str) -> SlotSet:
    return SlotSet("flow_outcome", value)


def latest_intent(tracker: Tracker) -> str | None:
    name = (tracker.latest_message.get("intent") or {}).get("name")
    return str(name) if name else None


def latest_text(tracker: Tracker) -> str:
    text = tracker.latest_message.get("text")
    return text.strip() if isinstance(text, str) else ""


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    value = next(tracker.get_latest_entity_values(entity), None)
    return None if value is None else str(value)


def text_of_latest_intent(tracker: Tracker, intents: set[str]) -> str:
    """What the customer typed in their latest message of one of `intents` (e.g. the problem)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        text = event.get("text")
        if name in intents and isinstance(text, str) and not text.startswith("/"):
            return text.strip()
    return ""


def hand_over(
    reason: str, priority: str | None = None, tier: str | None = None, category: str | None = None
) -> list[EventType]:
    """Slots `action_handoff` reads, and the outcome that makes the rules run it next."""
    events: list[EventType] = [SlotSet("handoff_reason", reason), outcome(HANDOVER)]
    if priority:
        events.append(SlotSet("handoff_priority", priority))
    if tier:
        events.append(SlotSet("handoff_tier", tier))
    if category:
        events.append(SlotSet("handoff_category", category))
    return events


def ask_rating(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    rating_for: str = "conversation",
    ticket_number: str | None = None,
) -> list[EventType]:
    """After a solved flow (or a hand-back, with the handoff id): how did we do, 1-5? Once per
    conversation: a customer who solves three things is not asked three times. After a hand-back the
    question is about the engineer's help on the ticket, not about the bot."""
    if tracker.get_slot("rating_asked") and not ticket_number:
        dispatcher.utter_message(response="utter_anything_else")
        return [outcome(DONE)]
    if ticket_number:
        dispatcher.utter_message(response="utter_ask_rating_engineer", ticket_number=ticket_number)
    else:
        dispatcher.utter_message(response="utter_ask_rating")
    return [SlotSet("rating_for", rating_for), SlotSet("rating_asked", True), outcome(DONE)]


def yes_no_buttons(tracker: Tracker) -> list[dict[str, str]]:
    from actions.conversation.language import language_of, text

    language = language_of(tracker)
    return [
        {"title": text(language, "yes"), "payload": "/affirm"},
        {"title": text(language, "no"), "payload": "/deny"},
    ]


def retried(tracker: Tracker, question: str) -> bool:
    """The customer already answered `question` once with something the bot could not use."""
    counts = tracker.get_slot("form_retries")
    return isinstance(counts, dict) and int(counts.get(question, 0)) >= 1


def retry_counted(question: str, tracker: Tracker) -> dict[str, Any]:
    counts = tracker.get_slot("form_retries")
    counts = dict(counts) if isinstance(counts, dict) else {}
    counts[question] = int(counts.get(question, 0)) + 1
    return {"form_retries": counts}


def retry_reset(question: str, tracker: Tracker) -> dict[str, Any]:
    counts = tracker.get_slot("form_retries")
    counts = {k: v for k, v in counts.items() if k != question} if isinstance(counts, dict) else {}
    return {"form_retries": counts or None}


def active_loop_just_ended(tracker: Tracker, form: str) -> bool:
    """`form` ran and ended since the customer's latest message (its answers are fresh)."""
    ended = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return False
        if kind == "active_loop" and event.get("name") is None:
            ended = True
        if kind == "action" and event.get("name") == form and ended:
            return True
    return False


NOT_SURE = ("not sure", "dont know", "don't know", "no idea", "dunno", "unsure", "weiß nicht", "keine ahnung")


def not_sure(text: str) -> bool:
    lowered = text.lower()
    return any(words in lowered for words in NOT_SURE)


def slot_list(tracker: Tracker, name: str) -> list[Any]:
    value = tracker.get_slot(name)
    return list(value) if isinstance(value, list) else []


# What the customer already turned down in this conversation: never offered or shown to them again.
TURNED_DOWN = frozenset({"did_not_help", "not_asked", "guide_declined"})


def turned_down(tracker: Tracker) -> set[str]:
    """The articles the customer said no to (a guide declined, an answer that did not help or was not
    what they asked)."""
    return {
        str(item["article_id"])
        for item in slot_list(tracker, "kb_articles_tried")
        if isinstance(item, dict) and item.get("verdict") in TURNED_DOWN and item.get("article_id")
    }
