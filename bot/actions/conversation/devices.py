"""Devices and operating systems in the words customers use, to the names articles apply to."""

from __future__ import annotations

import re

from rasa_sdk import Tracker

# canonical name -> words that mean it (NLU synonyms cover entities; this covers typed answers). The
# order matters: the first system whose words appear wins, so brands that run one system come before
# the generic "laptop" and "phone".
DEVICE_WORDS: dict[str, tuple[str, ...]] = {
    "iphone": ("iphone", "ios", "apple phone"),
    "ipad": ("ipad", "ipados"),
    "android": ("android", "samsung", "galaxy", "pixel", "oneplus", "xiaomi", "huawei", "motorola", "nokia"),
    "macos": (
        "mac",
        "macbook",
        "macbook air",
        "macbook pro",
        "macos",
        "mac os",
        "imac",
        "osx",
        "os x",
        "apple laptop",
    ),
    "linux": ("linux", "ubuntu", "fedora", "debian", "mint", "redhat", "red hat"),
    "windows": (
        "windows",
        "win10",
        "win11",
        "win 10",
        "win 11",
        "pc",
        "surface",
        "thinkpad",
        "lenovo",
        "dell",
        "hp laptop",
        "latitude",
        "elitebook",
    ),
}
# Generic words that name a kind of device but not its system: never preferred over a system.
GENERIC = {"phone", "mobile", "laptop", "computer", "desktop", "tablet", "device"}


def device_of(text: str) -> str | None:
    """The system a customer's words name, or None."""
    lowered = text.lower()
    for canonical, words in DEVICE_WORDS.items():
        if any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in words):
            return canonical
    return None


def canonical_device(text: str) -> str | None:
    return device_of(text)


def device_in_message(tracker: Tracker) -> str | None:
    """The most specific system the latest message names: an entity that is a system (several may be
    found, "my android phone": android, not phone), else the words of the message."""
    entities = [
        str(entity.get("value") or "")
        for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == "device"
    ]
    for value in entities:
        system = device_of(value)
        if system and value.lower() not in GENERIC:
            return system
    text = tracker.latest_message.get("text")
    return device_of(text) if isinstance(text, str) and not text.startswith("/") else None
