"""The spelling and synonym table (no model): what it rewrites, what it expands, and that it
points at words the articles really use."""

from __future__ import annotations

import pytest

from knowledge_base.articles import Article
from knowledge_base.search import tokenize
from knowledge_base.sections import split_sections
from knowledge_base.synonyms import SYNONYMS, expansions, normalise_spelling


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("Wi-Fi keeps dropping", "wifi keeps dropping"),
        ("wi fi", "wifi"),
        ("wi - fi", "wifi"),
        ("can't log in", "can't signin"),
        ("Sign-in page", "signin page"),
        ("my e-mail", "my email"),
        ("Out-of-office reply", "outofoffice reply"),
        ("two-factor code", "mfa code"),
        ("2FA", "mfa"),
        ("Mac OS X", "macos"),
    ],
)
def test_one_spelling(text: str, spelled: str) -> None:
    assert normalise_spelling(text) == spelled


def test_articles_and_questions_meet_on_one_spelling() -> None:
    assert tokenize("Connect to the corporate Wi-Fi") == tokenize("connect to the corporate wifi")
    assert tokenize("Log in") == tokenize("login") == tokenize("sign-in")
    assert tokenize("Wi-Fi", spelling=False) == ["wi", "fi"]  # what the baseline counted


@pytest.mark.parametrize(
    ("question", "customer_words", "article_words"),
    [
        ("forgot my pwd", "pwd", "password"),
        ("my passcode expired", "passcode", "password"),
        ("work email on my Galaxy S23", "galaxy", "android"),
        ("set up Outlook on my MacBook Pro", "macbook", "mac macos"),
        ("ThinkPad won't start", "thinkpad", "windows"),
        ("AnyConnect says login failed", "anyconnect", "vpn"),
        ("can I talk to a person", "person", "agent service desk"),
        ("no WLAN in room 4", "wlan", "wifi"),
        ("AirPods for calls", "airpods", "headset"),
    ],
)
def test_customer_words_stand_for_article_words(
    question: str, customer_words: str, article_words: str
) -> None:
    assert (customer_words, article_words) in expansions(question)


def test_customer_words_match_whole_words_only() -> None:
    assert expansions("the passenger compass bypass") == []
    assert expansions("please reset the password of my account") == []  # article words only
    assert ("mac mini", "mac macos") in expansions("my Mac Mini")


def test_every_article_word_is_one_the_articles_use(real_articles: list[Article]) -> None:
    # an expansion to a word no article contains would count for nothing
    used = {
        token for article in real_articles for s in split_sections(article, "m") for token in tokenize(s.text)
    }
    used |= {token for article in real_articles for token in tokenize(" ".join(article.tags))}
    unused = [words for words in SYNONYMS if not set(tokenize(words)) <= used]
    assert not unused, f"article words that no article uses: {unused}"
