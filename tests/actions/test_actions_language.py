"""The conversation's language: chosen, detected from a first message of 3 words or more, or hinted by
the widget; and the bot's own words in it."""

from __future__ import annotations

from typing import Any

import pytest
from actions.conversation.language import ActionDetectLanguage, chosen_language, detected_language, text
from rasa_sdk.executor import CollectingDispatcher

from conversation_builder import conversation, timeline, user


def _slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


async def _detect(
    said: str, slots: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    message = user(said, "nlu_fallback")
    message["parse_data"]["metadata"] = metadata or {}
    tracker = conversation("c", timeline(message), slots=slots or {})
    tracker.latest_message["metadata"] = metadata or {}
    return _slots(await ActionDetectLanguage().run(CollectingDispatcher(), tracker, {}))


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("ich habe mein Passwort vergessen", "de"),
        ("Drucker im zweiten Stock druckt nicht", "de"),
        ("my vpn keeps dropping at home", "en"),
        ("teams video is frozen", None),  # English with German-looking words: lingua guesses, we don't
        ("ok", None),  # too short to tell
        ("VPN", None),
    ],
)
def test_detection_needs_three_words(said: str, language: str | None) -> None:
    assert detected_language(said) == language


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("Deutsch bitte", "de"),
        ("können wir auf Deutsch weitermachen", "de"),
        ("English please", "en"),
        ("German", "de"),
    ],
)
def test_asked_for_in_so_many_words(said: str, language: str) -> None:
    assert chosen_language(said) == language


@pytest.mark.asyncio
async def test_the_first_long_message_decides_and_a_choice_sticks() -> None:
    assert await _detect("mein Laptop startet nicht mehr") == {
        "language": "de",
        "language_source": "detected",
    }
    # Detected once: a later English message does not flip it; asking does.
    assert await _detect("my laptop does not start", {"language": "de", "language_source": "detected"}) == {}
    chosen = await _detect("English please", {"language": "de", "language_source": "detected"})
    assert chosen == {"language": "en", "language_source": "chosen"}
    assert (
        await _detect("bitte hilf mir mit dem Drucker", {"language": "en", "language_source": "chosen"}) == {}
    )


@pytest.mark.asyncio
async def test_the_widget_hint_holds_until_a_message_tells() -> None:
    assert await _detect("hi", metadata={"language": "de-DE"}) == {
        "language": "de",
        "language_source": "hint",
    }
    detected = await _detect(
        "my printer says it is offline and I cannot print anything",
        {"language": "de", "language_source": "hint"},
        {"language": "de"},
    )
    assert detected == {"language": "en", "language_source": "detected"}


@pytest.mark.asyncio
async def test_the_widget_switch_is_a_choice() -> None:
    """The widget's language switch sends `language_chosen` with its language: it beats what was detected,
    and an English message after it does not flip the conversation back."""
    switched = {"language": "de", "language_chosen": True}
    was_english = {"language": "en", "language_source": "detected"}
    assert await _detect("my printer says it is offline", was_english, switched) == {
        "language": "de",
        "language_source": "chosen",
    }
    assert (
        await _detect(
            "my printer says it is offline", {"language": "de", "language_source": "chosen"}, switched
        )
        == {}
    )
    # A plain hint (no switch) does not override a detected language.
    assert await _detect("my printer says it is offline", was_english, {"language": "de"}) == {}


def test_the_bot_s_own_words_in_german() -> None:
    assert text("de", "step", number=2, total=5, instruction="X") == "Schritt 2 von 5: X"
    assert text("de", "guide_offer", title="VPN", count=3).startswith(
        'Ich kann Sie durch die Anleitung "VPN"'
    )
    assert text("en", "guide_offer", title="VPN", count=3).startswith('I can walk you through "VPN"')
