"""Devices and operating systems in the words customers use, to the names articles apply to."""

from __future__ import annotations

import re

# canonical name -> words that mean it (NLU synonyms cover entities; this covers typed answers)
DEVICE_WORDS: dict[str, tuple[str, ...]] = {
    "windows": (
        "windows",
        "win10",
        "win11",
        "win 10",
        "win 11",
        "pc",
        "surface",
        "thinkpad",
        "dell",
        "laptop",
    ),
    "macos": ("mac", "macbook", "macos", "mac os", "imac", "osx", "os x", "apple laptop"),
    "linux": ("linux", "ubuntu", "fedora", "debian"),
    "iphone": ("iphone", "ios", "apple phone"),
    "ipad": ("ipad",),
    "android": ("android", "samsung", "galaxy", "pixel"),
}


def canonical_device(text: str) -> str | None:
    lowered = text.lower()
    for canonical, words in DEVICE_WORDS.items():
        if any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in words):
            return canonical
    return None
