"""The words customers use for what the articles call otherwise, in one table.

Two kinds of entries:

* ``SPELLINGS``: one thing written several ways ("wi-fi", "wi fi", "wifi"; "log in", "sign-in").
  Both the articles and the questions are rewritten to one spelling before the words are
  counted, so that a question matches whichever way the article writes it.
* ``SYNONYMS``: the words articles use -> the words customers type for the same thing ("pwd",
  "passcode" for password; "Galaxy", "Pixel" for Android; "AnyConnect" for the VPN).  Only
  questions are expanded: a customer word found in a question adds the article words as
  alternatives of lower weight (``knowledge_base.search`` takes, for each word of the
  question, the best of the word itself and its alternatives), so a question that already
  uses the article's word is not changed.

Standard library only, so that the bot's side can import the same table.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["SPELLINGS", "SYNONYMS", "expansions", "normalise_spelling"]

# (pattern, replacement), applied in order to lower-cased text.
SPELLINGS: tuple[tuple[str, str], ...] = (
    (r"\bwi[\s-]?fi\b", "wifi"),
    (r"\be[\s-]mails?\b", "email"),
    (r"\b(?:log|sign)[\s-]?(?:in|on)s?\b", "signin"),
    (r"\b(?:log|sign)[\s-]?(?:out|off)\b", "signout"),
    (r"\bout[\s-]of[\s-](?:the[\s-])?office\b", "outofoffice"),
    (r"\bset[\s-]?up\b", "setup"),
    (r"\bmulti[\s-]?factor\b|\btwo[\s-]?factor\b|\b2[\s-]?factor\b|\b2[\s-]?fa\b", "mfa"),
    (r"\btwo[\s-]?step\b|\b2[\s-]?step\b", "mfa"),
    (r"\bone[\s-]?drive\b", "onedrive"),
    (r"\bmac[\s-]?os(?:\s?x)?\b|\bos[\s-]?x\b", "macos"),
    (r"\bpass[\s-]?word\b", "password"),
    (r"\bpass[\s-]?key\b", "passkey"),
    (r"\bhot[\s-]?spot\b", "hotspot"),
    (r"\bweb[\s-]?cam\b", "webcam"),
    (r"\bhead[\s-]?set\b", "headset"),
    (r"\bbit[\s-]?locker\b", "bitlocker"),
    (r"\bfile[\s-]?vault\b", "filevault"),
)

# article words -> what customers type for them (words or phrases, lower case, spelled as
# after SPELLINGS).
SYNONYMS: dict[str, tuple[str, ...]] = {
    # accounts
    "password": ("pwd", "pw", "passwd", "pass", "passcode", "passphrase", "pin", "credentials", "key"),
    "signin": ("credentials",),
    "locked": ("blocked", "disabled", "suspended", "frozen out"),
    "mfa authenticator": ("otp", "one time code", "verification code", "security code", "duo", "okta"),
    # people
    "agent service desk": (
        "person",
        "human",
        "somebody",
        "someone",
        "operator",
        "technician",
        "tech",
        "helpdesk",
        "help desk",
        "it support",
        "support",
    ),
    # mail
    "email": ("mail", "mails", "emails", "inbox", "outlook"),
    "outofoffice automatic reply": ("ooo", "auto reply", "autoreply", "away message", "vacation reply"),
    # networks
    "wifi": ("wlan", "wireless", "internet", "wireless network"),
    "vpn": ("remote access", "anyconnect", "globalprotect", "forticlient", "tunnel"),
    # devices: brand or model -> the system the articles name
    "android": ("galaxy", "samsung", "pixel", "oneplus", "xiaomi", "motorola", "huawei", "oppo"),
    "iphone": ("ios", "apple phone"),
    "windows": ("thinkpad", "surface", "dell", "lenovo", "hp", "win10", "win11", "pc", "latitude"),
    "mac macos": ("macbook", "imac", "mac mini", "apple laptop", "macbook air", "macbook pro"),
    "linux": ("ubuntu", "fedora", "debian", "mint", "red hat"),
    "laptop computer": ("notebook", "machine", "pc", "desktop", "workstation"),
    "phone mobile": ("cell", "cellphone", "smartphone", "handy"),
    "headset": ("headphones", "earphones", "earbuds", "airpods", "jabra", "plantronics"),
    "webcam camera": ("cam", "video camera"),
    "microphone": ("mic",),
    "monitor screen display": ("second screen", "external screen"),
    "printer": ("copier", "photocopier", "mfp", "printing machine"),
    # applications by name
    "browser": ("chrome", "edge", "firefox", "safari"),
    "password manager": ("lastpass", "1password", "bitwarden", "keepass", "dashlane"),
    "company portal": ("intune", "self service", "app store", "software center"),
    "teams": ("ms teams", "microsoft teams", "skype"),
    "onedrive": ("sharepoint", "dropbox", "google drive", "cloud storage"),
    "return": ("send back", "give back", "hand back", "hand in", "drop off"),
    "phishing": ("scam", "spam", "fake email", "dodgy email"),
    "suspicious": ("hacked", "compromised", "someone else"),
}


@cache
def _spelling_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), replacement) for pattern, replacement in SPELLINGS)


def normalise_spelling(text: str) -> str:
    """Lower-case ``text`` and write every ``SPELLINGS`` variant one way."""
    lowered = text.lower()
    for pattern, replacement in _spelling_patterns():
        lowered = pattern.sub(replacement, lowered)
    return lowered


@cache
def _synonym_patterns() -> tuple[tuple[re.Pattern[str], str, str], ...]:
    patterns: list[tuple[re.Pattern[str], str, str]] = []
    for article_words, customer_words in SYNONYMS.items():
        for phrase in customer_words:
            spelled = normalise_spelling(phrase)
            pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, spelled.split())) + r"(?!\w)")
            patterns.append((pattern, spelled, article_words))
    return tuple(patterns)


def expansions(text: str) -> list[tuple[str, str]]:
    """(customer words found in ``text``, the article words they stand for), in table order.

    ``text`` is matched after ``normalise_spelling``; the customer words are returned spelled
    that way.
    """
    spelled = normalise_spelling(text)
    return [
        (phrase, article_words)
        for pattern, phrase, article_words in _synonym_patterns()
        if pattern.search(spelled)
    ]
