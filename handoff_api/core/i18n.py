"""What the desk writes to a customer, in the conversation's language (English, German).

Messages are gettext catalogues (`handoff_api/locale/<language>/LC_MESSAGES/messages.po`), read with Babel
when first needed; the English text is the message id, so English needs no catalogue. Placeholders are
`{name}`, filled after translation. A message a catalogue lacks stays English (and a test lists them).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
LANGUAGES = ("en", "de")
DEFAULT = "en"


@functools.cache
def catalog(language: str) -> Catalog | None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def translate(language: str | None, message: str, **values: Any) -> str:
    """`message` in `language`, with `values` filled in."""
    found = catalog(language or DEFAULT)
    entry = found.get(message) if found is not None else None
    text = entry.string if entry is not None and entry.string else message
    return str(text).format(**values) if values else str(text)
