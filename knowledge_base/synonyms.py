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

# one spelling -> the other ways of writing it, in lower case; a space in a variant stands for
# any run of spaces and hyphens ("wi fi" is also "wi-fi" and "wi - fi").
SPELLINGS: dict[str, tuple[str, ...]] = {
    "wifi": ("wi fi",),
    "email": ("e mail", "e mails"),
    "signin": ("log in", "login", "logins", "log on", "logon", "sign in", "sign ins", "sign on", "signon"),
    "signout": ("log out", "logout", "log off", "logoff", "sign out", "sign off", "signoff"),
    "outofoffice": ("out of office", "out of the office"),
    "setup": ("set up",),
    "mfa": (
        "multi factor",
        "multifactor",
        "two factor",
        "twofactor",
        "2 factor",
        "2factor",
        "2fa",
        "2 fa",
        "two step",
        "2 step",
        "2step",
    ),
    "onedrive": ("one drive",),
    "macos": ("mac os", "mac os x", "mac osx", "macosx", "os x", "osx"),
    "password": ("pass word",),
    "passkey": ("pass key",),
    "hotspot": ("hot spot",),
    "webcam": ("web cam",),
    "headset": ("head set",),
    "bitlocker": ("bit locker",),
    "filevault": ("file vault",),
}

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


_SEPARATORS = re.compile(r"[\s-]+")


@cache
def _spellings() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every variant, longest first ("mac os x" before "mac os"), and the
    spelling of each variant (written with single spaces)."""
    spelling_of = {variant: spelling for spelling, variants in SPELLINGS.items() for variant in variants}
    variants = sorted(spelling_of, key=len, reverse=True)
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, variant.split())) for variant in variants)
    # The look-ahead on the first letters lets the scan skip most positions at once: articles are
    # rewritten at every index build (17 separate passes took 2 s at 10,000 sections; this, 0.3 s).
    first_letters = "".join(sorted({re.escape(variant[0]) for variant in variants}))
    pattern = re.compile(rf"\b(?=[{first_letters}])(?:{alternatives})\b")
    return pattern, spelling_of


def normalise_spelling(text: str) -> str:
    """Lower-case ``text`` and write every ``SPELLINGS`` variant one way."""
    pattern, spelling_of = _spellings()
    return pattern.sub(lambda match: spelling_of[_SEPARATORS.sub(" ", match.group(0))], text.lower())


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
