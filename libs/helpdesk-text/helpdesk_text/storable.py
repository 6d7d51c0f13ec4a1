"""Text every database column can store.

What no column stores: NUL (PostgreSQL refuses it in text) and lone UTF-16 surrogates (no UTF-8 for them;
JSON can spell one, "\\ud800"). A chat client can send both. What customers typed is kept, with them
replaced (`storable`); what a client sends to the API is refused, with the problem named
(`storable_problem`).
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with NUL characters and lone surrogates replaced by U+FFFD, the replacement character."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_problem(text: str) -> str | None:
    """Why `text` cannot be stored as it is, or None when it can."""
    if "\x00" in text:
        return "must not contain NUL (\\x00) characters"
    if _SURROGATE.search(text):
        return "must be valid Unicode: it contains a lone surrogate (\\ud800-\\udfff)"
    return None
