"""The conversation's language (English or German), and the bot's own words in it.

The slot `language` is filled on every customer message by `action_detect_language` (a custom slot
mapping, so it is set before the bot answers):
- "Deutsch bitte" / "English please" (or the widget's language switch) always decides ("chosen");
- otherwise the first message of 3 words or more decides, detected by lingua (its models ship in the
  PyPI package; nothing is downloaded), when it is sure (confidence >= 0.7) ("detected");
- until then, the widget's `data-lang` or the browser's language, sent with each message, is the hint
  ("hint"), which a detected language replaces.
Short messages ("ok", "VPN") never change the language: they say too little.

Texts the actions build themselves (a guide's offer, "Step 2 of 5", the expected wait) come from
`TEXTS`; everything else is a response of the domain, whose German variations have
`condition: language de`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

LANGUAGES = ("en", "de")
DEFAULT = "en"
MIN_WORDS = 3
# Below this lingua is guessing: "teams video is frozen" reads German at 0.62; real German messages score
# 0.95 and more, English ones 0.65 and more, so a guess leaves the conversation in its language.
SURE = 0.7

_CHOSEN = {
    "de": re.compile(
        r"\b(auf deutsch|deutsch bitte|bitte (auf )?deutsch|german please|in german"
        r"|sprichst du deutsch|sprechen sie deutsch)\b",
        re.I,
    ),
    "en": re.compile(
        r"\b(english please|in english|auf englisch|englisch bitte|speak english|do you speak english)\b",
        re.I,
    ),
}
_ONLY_A_CHOICE = re.compile(r"^\s*(deutsch|german|english|englisch)\s*[.!]*\s*$", re.I)

_detector: Any = None
_detector_lock = threading.Lock()


def _lingua() -> Any:
    global _detector
    with _detector_lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            _detector = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.GERMAN).build()
        return _detector


def chosen_language(text: str) -> str | None:
    """The language the customer asks for in so many words, if they do."""
    if _ONLY_A_CHOICE.match(text):
        return "de" if text.strip().lower().startswith(("deutsch", "german")) else "en"
    for language, pattern in _CHOSEN.items():
        if pattern.search(text):
            return language
    return None


def detected_language(text: str) -> str | None:
    """English or German, when the text is long enough to tell and lingua is sure."""
    if len(re.findall(r"[^\W\d_]{2,}", text)) < MIN_WORDS:
        return None
    values = _lingua().compute_language_confidence_values(text)
    if not values or values[0].value < SURE:
        return None
    return "de" if values[0].language.name == "GERMAN" else "en"


def hinted_language(tracker: Tracker) -> str | None:
    metadata = tracker.latest_message.get("metadata") or {}
    hint = str(metadata.get("language") or "").lower()[:2]
    return hint if hint in LANGUAGES else None


def chosen_in_widget(tracker: Tracker) -> str | None:
    """The language the customer picked with the widget's switch (sent with each message after it)."""
    metadata = tracker.latest_message.get("metadata") or {}
    return hinted_language(tracker) if metadata.get("language_chosen") is True else None


def language_of(tracker: Tracker) -> str:
    value = tracker.get_slot("language")
    return value if value in LANGUAGES else DEFAULT


class ActionDetectLanguage(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text")
        text = text if isinstance(text, str) else ""
        current, source = tracker.get_slot("language"), tracker.get_slot("language_source")
        if text and not text.startswith("/"):
            chosen = chosen_language(text)
            if chosen:
                return _set(chosen, "chosen", current, source)
        if metadata_choice := chosen_in_widget(tracker):
            return _set(metadata_choice, "chosen", current, source)
        if text and not text.startswith("/"):
            if source == "chosen":
                return []
            if source != "detected":
                detected = detected_language(text)
                if detected:
                    return _set(detected, "detected", current, source)
        hint = hinted_language(tracker)
        if hint and current is None:
            return _set(hint, "hint", current, source)
        return []


def _set(language: str, how: str, current: Any, source: Any) -> list[EventType]:
    if language == current and how == source:
        return []
    return [SlotSet("language", language), SlotSet("language_source", how)]


# The bot's own words that the actions put together, by language.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "guide_offer": 'I can walk you through "{title}" ({count} steps). Is that what you need?',
        "guide_yes": "Yes, let's start",
        "guide_other": "Something else",
        "yes": "Yes",
        "no": "No",
        "step": "Step {number} of {total}: {instruction}",
        "step_check": "When it worked: {check}",
        "steps": "Steps:",
        "more": "More: {url}",
        "within_minutes": "within {count} minutes",
        "within_hours": "within {count} hours",
        "by_time": "(by {time} UTC{day})",
        "on_day": " on {day}",
    },
    "de": {
        "guide_offer": (
            'Ich kann Sie durch die Anleitung "{title}" führen ({count} Schritte). '
            "Ist es das, was Sie brauchen?"
        ),
        "guide_yes": "Ja, los geht's",
        "guide_other": "Etwas anderes",
        "yes": "Ja",
        "no": "Nein",
        "step": "Schritt {number} von {total}: {instruction}",
        "step_check": "Wenn es geklappt hat: {check}",
        "steps": "Schritte:",
        "more": "Mehr dazu: {url}",
        "within_minutes": "innerhalb von {count} Minuten",
        "within_hours": "innerhalb von {count} Stunden",
        "by_time": "(bis {time} Uhr UTC{day})",
        "on_day": " am {day}",
    },
}


def text(language: str, key: str, **values: Any) -> str:
    return TEXTS.get(language, TEXTS[DEFAULT])[key].format(**values)
