"""Masks secrets customers paste into the chat, in the bot and in the service.

The bot masks what it sends with a handoff; the service masks what customers write while an engineer
holds the chat.

Engineers never need a customer's password, one-time code or card number to help, and the handoff
transcript is stored and shown to several people, so these are replaced by a label that still tells
the engineer what kind of thing the customer shared.
"""

from __future__ import annotations

import re
from re import Match
from typing import Any

from helpdesk_text.storable import storable

PASSWORD_MASK = "[REDACTED PASSWORD]"
CODE_MASK = "[REDACTED CODE]"
CARD_MASK = "[REDACTED CARD]"

# Words that follow "password is" in ordinary complaints ("my password is not working"): masking them
# would hide the problem from the engineer and protect nothing.
_NOT_SECRETS = (
    "not|wrong|incorrect|invalid|expired|expiring|locked|blocked|disabled|too|still|the|my|a|an|no|"
    "being|correct|right|working|broken|rejected|reset|changed|weak|short|long|same|empty|missing"
)

_PASSWORD = re.compile(
    r"(?P<label>\b(?:pass(?:word|wd|phrase|code)?|pwd?|pin)\b)"
    r"(?P<sep>\s+(?:is|was|=)\s*:?\s*|\s*[:=]\s*)"
    rf"(?!(?:{_NOT_SECRETS})\b)"
    r"(?P<secret>\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE,
)

# 13-19 digits, optionally grouped by spaces or hyphens as printed on cards.
_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")

# 6-8 digits standing alone (not part of "HD-010010" or a longer number), or "123 456" as
# authenticator apps display it.
_ONE_TIME_CODE = re.compile(r"(?<![\w-])(?:\d{6,8}|\d{3}[ -]\d{3})(?![\w-])")


def redact(text: str) -> str:
    """Return `text` with passwords, card numbers and one-time codes masked (and made `storable`)."""
    text = storable(text)
    text = _PASSWORD.sub(lambda m: f"{m.group('label')}{m.group('sep')}{PASSWORD_MASK}", text)
    text = _CARD_CANDIDATE.sub(_mask_card, text)
    return _ONE_TIME_CODE.sub(CODE_MASK, text)


EMAIL_MASK = "[EMAIL]"
PHONE_MASK = "[PHONE]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 7 or more digits with the spaces, dots, dashes, slashes and brackets phone numbers are written with,
# optionally after a "+" (ticket numbers like "HD-01001" have fewer digits and a prefix).
_PHONE = re.compile(r"(?<![\w-])\+?\(?\d(?:[\d\s./()-]{5,}\d)(?![\w-])")


_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}")


def _mask_phone(match: Match[str]) -> str:
    found = match.group()
    if sum(c.isdigit() for c in found) < 7 or _DATE.fullmatch(found.strip()):
        return found  # a date, a version, a short number: what the question is about
    return PHONE_MASK


def mask_personal(text: str) -> str:
    """`redact`, and e-mail addresses and phone numbers masked too: for people who need what customers
    asked, not who asked (knowledge editors reading unanswered questions)."""
    text = _EMAIL.sub(EMAIL_MASK, storable(text))
    text = _PHONE.sub(_mask_phone, text)
    return redact(text)


def redact_value(value: Any) -> Any:
    """Redact strings anywhere inside slot values (strings, lists, dicts); keep other types."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        redacted: dict[Any, Any] = {key: redact_value(item) for key, item in value.items()}
        return redacted
    return value


def _mask_card(match: Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD_MASK
    return match.group(0)


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn check used by payment cards."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
