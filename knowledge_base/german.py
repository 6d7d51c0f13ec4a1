"""German words for BM25: one spelling, umlauts folded, stop words out, compounds split, stemmed.

German glues nouns together: a customer asks about the "Druckerwarteschlange" while the article
says "Drucker" and "Warteschlange" (or the reverse).  A stemmer alone cannot see that, so each
long word is also split into the words it is made of, when the split is more plausible than the
whole (Koehn and Knight, "Empirical methods for compound splitting", 2003): the parts' geometric
mean frequency must beat the frequency of the word itself.  A word that articles use often
("Passwort", "Warteschlange") stays whole; a rare or unknown one made of frequent words
("Druckerwarteschlange", "Kennwortrichtlinie") is split.

The frequencies are those of the German articles shipped in ``knowledge_base/articles`` (the
help desk's own vocabulary), counted once per process.  They are fixed, not taken from whatever
the index holds: an article's tokens are computed once and reused while it does not change, so
they must not depend on the other articles.  Why not a library: on PyPI, ``compound-split``
(GPL-3.0, 59 MB of n-gram tables, no release since 2020) is neither light nor kept up, and
``charsplit-fst`` needs Python 3.12 (the service runs 3.11).  Ours knows fewer words but
exactly the ones the articles use, which are the only ones BM25 can match anyway.

Stop words: bm25s's German list (the Snowball one); stemming: PyStemmer's Snowball German, the
stemmer bm25s itself uses.  Folding "ä" and "ae" to "a" (and so on) lets "zuruecksetzen",
typed without umlauts, meet "zurücksetzen".
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import bm25s
import Stemmer

from knowledge_base.synonyms import normalise_spelling

__all__ = [
    "GERMAN_SPELLINGS",
    "GERMAN_SYNONYMS",
    "CompoundSplitter",
    "fold",
    "german_expansions",
    "german_words",
    "splitter",
    "stem_words",
    "tokenize_de",
]

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"

# One spelling for what German customers write several ways (after ``normalise_spelling``, which
# already writes "E-Mail" as "email" and "2FA" as "mfa"); a space stands for spaces and hyphens.
GERMAN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "mfa": ("zwei faktor", "zweifaktor", "multi faktor", "mehr faktor", "mehrfaktor"),
    "wlan": ("w lan", "wifi"),
}

# The words German articles use -> what customers type for the same thing (words or phrases, lower
# case), as ``synonyms.SYNONYMS`` for English: a customer word in a question adds the article
# words as weaker alternatives; a question that uses the article's word is left as it is.
GERMAN_SYNONYMS: dict[str, tuple[str, ...]] = {
    # accounts
    "passwort": ("kennwort", "pw", "passwd", "zugangsdaten", "logindaten", "anmeldedaten"),
    "gesperrt": ("blockiert", "deaktiviert"),
    "abgelaufen ablauf": ("läuft ab", "ausläuft", "ausgelaufen", "verfällt", "verfallen"),
    "anmelden anmeldung": ("einloggen", "login", "signin", "reinkommen"),
    "mfa authenticator": (
        "zweiter faktor",
        "bestätigungs app",
        "freigabeanfrage",
        "push",
        "einmalcode",
        "sms code",
        "prüfcode",
        "sicherheitscode",
    ),
    "berechtigung zugriff": ("rechte", "zugang", "freischaltung", "freischalten"),
    # people
    "service desk": ("support", "helpdesk", "hotline", "it abteilung", "techniker", "mensch"),
    # devices
    "handy smartphone": ("telefon", "mobiltelefon", "mobilgerät"),
    "laptop computer": ("rechner", "notebook", "pc"),
    "langsam": ("träge", "lahm", "zäh", "dauert lange"),
    "monitor bildschirm": ("display", "screen", "anzeige"),
    "drucker": ("kopierer", "multifunktionsgerät", "printer"),
    "kamera webcam": ("cam", "videobild"),
    "mikrofon": ("mikro", "mic"),
    "headset": ("kopfhörer", "ohrhörer", "airpods"),
    # networks and mail
    "wlan": ("internet", "funknetz", "wireless"),
    "vpn": ("fernzugriff", "tunnel", "remote zugang", "anyconnect", "globalprotect"),
    "email": ("mails", "mail", "nachrichten", "posteingang"),
    "abwesenheitsnotiz": ("abwesenheitsassistent", "urlaubsnotiz", "automatische antwort", "ooo"),
    # applications and meetings
    "besprechung meeting": ("call", "anruf", "konferenz", "videocall", "telko"),
    "bildschirmfreigabe": ("präsentieren", "bildschirm teilen", "screen sharing", "vorführen"),
    "software programm": ("tool", "anwendung"),
}

_TOKEN_RE = re.compile(r"\b\w\w+\b")
_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
# "ae", "oe", "ue" typed for an umlaut; not the "ue" of "queue" or "quelle"
_DIGRAPHS = re.compile(r"(?<!q)(ae|oe|ue)")
MIN_PART = 4  # shortest word a compound is split into ("Netz", "Team")
MAX_PARTS = 4
# Longer "words" are not split: German compounds stay well below, and the search for a split
# grows with the square of the length (a question may be 1,000 characters of one "word").
MAX_COMPOUND = 40
_LINKS = ("s", "es")  # the linking "s" of "Anmeldeinformationsverwaltung"


def fold(text: str) -> str:
    """Lower-case, umlauts and "ß" folded, and "ae"/"oe"/"ue" read as umlauts."""
    return _DIGRAPHS.sub(lambda match: match.group(0)[0], text.lower().translate(_UMLAUTS))


@cache
def _stop_words() -> frozenset[str]:
    return frozenset(fold(word) for word in bm25s.stopwords.STOPWORDS_GERMAN)


@cache
def _spellings() -> tuple[re.Pattern[str], dict[str, str]]:
    spelling_of = {
        variant: spelling for spelling, variants in GERMAN_SPELLINGS.items() for variant in variants
    }
    variants = sorted(spelling_of, key=len, reverse=True)
    pattern = re.compile(
        r"\b(?:" + "|".join(r"[\s-]+".join(map(re.escape, v.split())) for v in variants) + r")\b"
    )
    return pattern, spelling_of


def _normalise(text: str) -> str:
    pattern, spelling_of = _spellings()
    spelled = normalise_spelling(text)  # lower case; English loan words written one way
    return pattern.sub(lambda match: spelling_of[re.sub(r"[\s-]+", " ", match.group(0))], spelled)


def german_words(text: str) -> list[str]:
    """The words of ``text`` as counted: one spelling, folded, two letters or more, no stop words."""
    stop = _stop_words()
    return [word for word in _TOKEN_RE.findall(fold(_normalise(text))) if word not in stop]


@cache
def _synonym_patterns() -> tuple[tuple[re.Pattern[str], str, str], ...]:
    patterns: list[tuple[re.Pattern[str], str, str]] = []
    for article_words, customer_words in GERMAN_SYNONYMS.items():
        for phrase in customer_words:
            spelled = fold(_normalise(phrase))
            pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, spelled.split())) + r"(?!\w)")
            patterns.append((pattern, spelled, article_words))
    return tuple(patterns)


def german_expansions(text: str) -> list[tuple[str, str]]:
    """(customer words found in ``text``, the article words they stand for), in table order.

    Matched on the spelled and folded text; the customer words are returned spelled that way.
    """
    spelled = fold(_normalise(text))
    return [
        (phrase, article_words)
        for pattern, phrase, article_words in _synonym_patterns()
        if pattern.search(spelled)
    ]


_local = threading.local()


def stem_words(words: list[str]) -> list[str]:
    # PyStemmer objects must not be shared between threads.
    stemmer: Stemmer.Stemmer | None = getattr(_local, "german", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("german")
        _local.german = stemmer
    return list(stemmer.stemWords(words)) if words else []


class CompoundSplitter:
    """Splits a word into known words when their frequencies make the split more likely."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = dict(counts)  # stem -> occurrences
        self._stop = _stop_words()
        self._cache: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CompoundSplitter:
        words = [word for text in texts for word in german_words(text) if word.isalpha()]
        return cls(Counter(stem_words(words)))

    def count(self, word: str) -> int:
        return self._counts.get(stem_words([word])[0], 0)

    def split(self, word: str) -> tuple[str, ...]:
        """The parts of a folded word, or ``()`` when it is best left whole."""
        found = self._cache.get(word)
        if found is not None:
            return found
        parts = self._split(word)
        with self._lock:
            if len(self._cache) < 100_000:
                self._cache[word] = parts
        return parts

    def _split(self, word: str) -> tuple[str, ...]:
        if not 2 * MIN_PART <= len(word) <= MAX_COMPOUND or not word.isalpha():
            return ()
        best: tuple[float, tuple[str, ...]] = (float(self.count(word)), ())
        for parts in self._decompositions(word, MAX_PARTS, {}):
            if len(parts) < 2:
                continue
            counts = [self.count(part) for part in parts]
            score = math.exp(sum(math.log(c) for c in counts) / len(counts))
            if score > best[0]:
                best = (score, parts)
        return best[1]

    def _known(self, piece: str) -> bool:
        return len(piece) >= MIN_PART and piece not in self._stop and self.count(piece) > 0

    def _decompositions(
        self, word: str, max_parts: int, seen: dict[tuple[str, int], list[tuple[str, ...]]]
    ) -> list[tuple[str, ...]]:
        """Every way to write ``word`` as known words (a linking "s" may follow all but the last)."""
        done = seen.get((word, max_parts))
        if done is not None:
            return done
        if self._known(word):
            found: list[tuple[str, ...]] = [(word,)]
        else:
            found = []
        if max_parts < 2:
            return found
        for cut in range(MIN_PART, len(word) - MIN_PART + 1):
            head, rest = word[:cut], word[cut:]
            heads = [head] if self._known(head) else []
            heads += [
                head[: -len(link)]
                for link in _LINKS
                if head.endswith(link) and self._known(head[: -len(link)]) and not self._known(head)
            ]
            if not heads:
                continue
            for tail in self._decompositions(rest, max_parts - 1, seen):
                found.extend((h, *tail) for h in heads)
        seen[(word, max_parts)] = found
        return found


@cache
def splitter() -> CompoundSplitter:
    """The splitter over the German articles shipped with the knowledge base (read once)."""
    from knowledge_base.articles import load_articles  # the articles module does not need this one

    texts: list[str] = []
    for article in load_articles(ARTICLES_DIR).articles:
        if article.language != "de":
            continue
        texts += [article.title, " ".join(article.tags), article.summary or "", article.body]
        texts += [f"{step.instruction} {step.check or ''}" for step in article.steps]
    return CompoundSplitter.from_texts(texts)


def tokenize_de(text: str, *, compounds: bool = True) -> list[str]:
    """BM25 tokens of German text: each word stemmed, followed by its parts when it is a compound."""
    split = splitter() if compounds else None
    words: list[str] = []
    for word in german_words(text):
        words.append(word)
        if split is not None:
            words.extend(split.split(word))
    return stem_words(words)
