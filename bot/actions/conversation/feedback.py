"""Satisfaction: a 1-5 rating after a solved flow, and when an engineer hands the customer back.

A rating is read only while the bot waits for one (`rating_for` is set when it asks): "install my Canon
printer on Ubuntu 22.04" is a request with numbers in it, never a rating of 2. A number the customer
sends when no rating was asked for is answered as any other unclear message is.
"""

from __future__ import annotations

import logging
import re

from helpdesk_text.redaction import redact
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_RATING = re.compile(r"(?<!\d)([1-5])(?!\d)|\b(one|two|three|four|five)\b", re.I)


def rating_of(tracker: Tracker) -> int | None:
    candidates = [flow.latest_entity(tracker, "rating") or "", flow.latest_text(tracker)]
    for text in candidates:
        match = _RATING.search(text)
        if match:
            return int(match.group(1)) if match.group(1) else _WORDS[match.group(2).lower()]
    return None


def comment_of(text: str) -> str | None:
    """Whatever the customer wrote besides the number ("3, took a while"), redacted."""
    if text.startswith("/"):
        return None
    rest = _RATING.sub("", text, count=1).strip(" ,.-:/!")
    rest = re.sub(r"^(stars?|out of 5|/5)\b", "", rest, flags=re.I).strip(" ,.-:")
    return redact(rest)[:2000] if re.search(r"[a-zA-Z]{3}", rest) else None


class ActionSaveRating(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_save_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        target = tracker.get_slot("rating_for")
        rating = rating_of(tracker) if target else None
        if rating is None:
            # No rating question waits (or this is no rating): treat it as a message the bot did not
            # understand, from the knowledge base with one clarifying question.
            return [FollowupAction("action_answer_from_kb")]
        body: dict[str, object] = {"conversation_id": tracker.sender_id, "rating": rating}
        if target.isdigit():
            body["handoff_id"] = int(target)
        comment = comment_of(flow.latest_text(tracker))
        if comment:
            body["comment"] = comment
        try:
            status, _ = await HelpdeskClient.from_env().call("POST", "/api/v1/ratings", json=body)
            if status != 201:
                logger.warning("rating not stored: %s", status)
        except HelpdeskUnavailable as exc:
            logger.warning("rating not stored: %s", exc)
        dispatcher.utter_message(
            response="utter_thanks_for_rating" if rating >= 3 else "utter_sorry_low_rating"
        )
        return [SlotSet("rating_for", None)]


class ActionHandedBack(Action):  # type: ignore[misc]
    """`EXTERNAL_handed_back` (triggered by the service when an engineer resolves with return_to_bot)."""

    def name(self) -> str:
        return "action_handed_back"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        handoff_id = flow.latest_entity(tracker, "handoff_id")
        number = (
            flow.latest_entity(tracker, "ticket_number")
            or tracker.get_slot("handoff_ticket")
            or "your ticket"
        )
        dispatcher.utter_message(response="utter_handed_back", ticket_number=number)
        # About the engineer's help on the ticket, and asked even when the bot asked before: it rates
        # another person's work.
        events = flow.ask_rating(
            dispatcher,
            tracker,
            handoff_id if handoff_id and handoff_id.isdigit() else "conversation",
            ticket_number=number,
        )
        return [*events, SlotSet("handoff_ticket", None)]
