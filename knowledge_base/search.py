"""Hybrid (BM25 + dense) search over published articles, with abstention.

``HybridIndex`` keeps the sections of every published article, their embeddings (from an
``EmbeddingStore`` or the ``Embedder``), a vector of each article's title, a BM25 index of the
sections (bm25s), a second one of each article's title and tags, and a matrix of the vectors.
Each change builds a new immutable snapshot and swaps it in with one assignment: searches never
lock and always see one consistent version; writers are serialised.

Scoring, per article (``Ranking`` holds the weights):

* ``dense``: the cosine of the question and the article's best section (vectors are normalised:
  a dot product), blended with the cosine of the question and the article's title and of its
  lead section (title and summary): a question that says what the title says is answered by
  that article rather than by one that mentions it in passing;
* ``bm25``: the best section's BM25 score divided by the sum of the IDFs of the question's
  terms (an IDF-weighted share of the question found in the section: about 1 when every term
  occurs once in a section of average length; words the knowledge base never uses count as
  missing), blended with the same share computed on the article's title and tags;
* ``hybrid``: a weighted blend of the two (see ``Thresholds``), chosen over reciprocal-rank
  fusion by the evaluation (``tests/knowledge_base/test_retrieval_quality.py``).

Words are counted after ``knowledge_base.synonyms.normalise_spelling`` (wi-fi = wifi, log in =
sign in...), and a question's customer words ("pwd", "Galaxy", "AnyConnect") add the article
words they stand for as weaker alternatives (``knowledge_base.synonyms.SYNONYMS``); the dense
side reads the question with those article words appended.

``abstain`` is true when the best article's score is below the mode's threshold.

Languages: ``search(..., language="de")`` ranks only the articles in that language and, when
that abstains, the articles in the other one, saying so (``SearchResponse.fallback``): a German
customer gets the German article when one answers, else the English one with a note.  German
articles have a BM25 index of their own with German words (``knowledge_base.german``: stop words,
stemming, compound splitting), and German searches have their own thresholds.  English searches
use the English words of the shared index, restricted to English articles.  Without a language,
every article is ranked together with the English words, exactly as before languages were told
apart.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from pydantic import BaseModel, ConfigDict

from knowledge_base.articles import Article, ArticleLanguage
from knowledge_base.embeddings import Embedder, EmbeddingStore, InMemoryEmbeddingStore, Matrix, Vector
from knowledge_base.german import german_expansions, german_words, splitter, stem_words, tokenize_de
from knowledge_base.sections import Section, content_hash, make_snippet, split_sections
from knowledge_base.synonyms import expansions, normalise_spelling

__all__ = [
    "BASELINE_RANKING",
    "BASELINE_THRESHOLDS",
    "DEFAULT_GERMAN_THRESHOLDS",
    "DEFAULT_RANKING",
    "DEFAULT_THRESHOLDS",
    "LANGUAGES",
    "FusionMethod",
    "HybridIndex",
    "Ranking",
    "SearchMode",
    "SearchResponse",
    "SearchResult",
    "Thresholds",
    "UpdateStats",
    "tokenize",
]

SearchMode = Literal["hybrid", "bm25", "dense"]
FusionMethod = Literal["blend", "rrf"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "bm25", "dense")
LANGUAGES: tuple[ArticleLanguage, ...] = ("en", "de")
MAX_K = 50
MAX_QUERY_CHARS = 1000


# ---------------------------------------------------------------------------------------------
# Ranking and thresholds: the tuning knobs. Calibrated on tests/knowledge_base/eval_questions.yml
# (see CALIBRATION below); test_retrieval_quality.py prints the figures they give.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranking:
    """How an article's dense and lexical scores are made; fixed for the life of an index.

    A field at 0 (or False) turns its lever off; ``BASELINE_RANKING`` turns them all off.
    """

    # Spell words one way before counting them (knowledge_base.synonyms.SPELLINGS).
    spelling: bool = True
    # Weight of an article word standing in for a customer word (SYNONYMS; 0 = no expansion).
    synonym_weight: float = 0.8
    # The dense side reads the question with those article words appended.
    expand_dense_query: bool = True
    # dense = (1 - title - lead) * best section + title * title cosine + lead * lead cosine
    title_dense: float = 0.3
    lead_dense: float = 0.1
    # bm25 = (1 - title_lexical) * best section's share + title_lexical * title-and-tags share
    title_lexical: float = 0.3
    # German articles get a BM25 index of German words (knowledge_base.german), which searches in
    # German use; off, they search the English words of every article, restricted to German ones.
    german_lexicon: bool = True
    # Weight of a German compound of the question beside its parts, which count fully (0: the
    # parts only); the compound itself matters only when an article uses it.
    compound_weight: float = 0.5


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Fusion weights and abstention thresholds (abstain when the best score is below)."""

    dense_weight: float  # hybrid score = dense_weight * dense + (1 - dense_weight) * bm25
    hybrid_min_score: float  # abstain (hybrid) below this blended score of the best article
    dense_min_cosine: float  # abstain (dense) below this dense score of the best article
    bm25_min_share: float  # abstain (bm25) below this lexical score of the best article
    rrf_k: int = 60  # constant of reciprocal-rank fusion (used only with fusion="rrf")


# CALIBRATION (tests/knowledge_base/eval_questions.yml: 240 in-domain questions, 70 out-of-domain,
# 55 articles of which 53 published; all-MiniLM-L6-v2; run test_retrieval_quality.py -s to see
# the figures and the thresholds it would suggest today; bench/kb_quality.py compares with the
# baseline below and adds 500 generated near-miss articles):
# * the levers, hybrid recall@1 / recall@3 / MRR with the 53 articles | with 500 generated near
#   misses beside them (knowledge_base.synthetic), each added to the one before:
#     baseline (best section only, blend 0.5)       0.892 0.983 0.939 | 0.867 0.954 0.917
#     + one spelling (wi-fi = wifi, log in = ...)    0.892 0.983 0.939 | 0.863 0.954 0.915
#     + synonyms (weight 0.8, BM25 and dense query)  0.887 0.988 0.938 | 0.867 0.967 0.921
#     + title vector 0.3, lead 0.1, title+tags 0.3   0.933 0.996 0.962 | 0.904 0.971 0.940
#     + dense_weight 0.45 (= DEFAULT_*)              0.938 0.992 0.964 | 0.912 0.971 0.945
#   Synonyms matter more to each side alone (bm25 recall@1 0.771 -> 0.787, dense 0.838 -> 0.846)
#   and to questions in other words than the articles'; the title fields most of all (bm25
#   0.787 -> 0.846, dense 0.846 -> 0.883).  Around the chosen weights (title_dense 0.25-0.4,
#   lead_dense 0-0.2, title_lexical 0.2-0.35, dense_weight 0.35-0.5, synonym_weight 0.5-1) the
#   MRR moves by less than 0.005, so they are the middle of that plateau, not its best point.
#   Tried and left out: rank fusion (0.904 0.983 0.944 | 0.879 0.946 0.920), min-max or z-score
#   normalised blends (MRR 0.941-0.962 | 0.917-0.950), a title+summary vector instead of the
#   lead section's (the same), the title twice in the lead, applies_to in the lead, question
#   words (how, what, my...) as stop words (MRR the same or up to 0.006 lower).  No
#   cross-encoder re-ranker: none ships its weights in a PyPI package (they download from a hub
#   when first used, which this service must never do).
# * each *_min_* threshold maximises Youden's J (out-of-domain questions abstained on minus
#   in-domain questions abstained on; evaluation.suggest_threshold) on the best article's score:
#     hybrid 0.24  -> abstains on 96% of out-of-domain questions and 5% of in-domain ones
#                     (baseline: 93% and 5%; ROC AUC 0.985, baseline 0.986);
#     dense  0.38  -> 94% and 6% (baseline 96% and 10%);
#     bm25   0.155 -> 90% and 16% (baseline 86% and 17%).
#   Out-of-domain questions still answered in hybrid mode are near misses such as "how do I
#   reset my bank PIN" (-> password-reset, 0.38), "how do I open a savings account" (0.29) or
#   "lost my wallet on the train" (-> lost-stolen-device, 0.26); catching them would make the
#   bot abstain on 10-20% of real questions.
# * heldout/kb_questions_en.yml is measured by bench/kb_quality.py, never tuned on.
DEFAULT_RANKING = Ranking()
DEFAULT_THRESHOLDS = Thresholds(
    dense_weight=0.45,
    hybrid_min_score=0.24,
    dense_min_cosine=0.38,
    bm25_min_share=0.155,
)

# GERMAN CALIBRATION (tests/knowledge_base/eval_questions_de.yml: 67 German questions, 16 out of
# domain, 53 published German articles; language="de", fallback off; bench/kb_quality.py --german
# compares with the search before languages and reads the held-out German questions):
# * hybrid recall@1 / recall@3 / MRR on the tuning set, each lever added to the one before:
#     no language, English words (as before)          0.731 0.881 0.819
#     + language filter (German articles only)         0.731 0.881 0.819  (they ranked first anyway)
#     + German words: stemming, stop words, compounds  0.821 0.910 0.874
#     + German customer words (german.GERMAN_SYNONYMS) 0.866 0.985 0.915
#     + dense_weight 0.25 and the thresholds below     0.896 0.970 0.933
#   MiniLM is an English model: alone it gets 0.493 0.716 0.629 on German questions (bm25 with
#   German words: 0.881 0.955 0.918), so the German blend leans on BM25: dense_weight 0.2-0.3 is a
#   plateau (MRR 0.925-0.933), 0.45 (the English weight) gives 0.915, 0 gives 0.918.  A compound's
#   own weight beside its parts (Ranking.compound_weight 0, 0.5, 1) changes nothing here.
# * thresholds by Youden's J as for English (evaluation.suggest_threshold): hybrid 0.20 abstains on
#   94% of the out-of-domain questions and 12% of the in-domain ones; dense 0.40, bm25 0.145.  With
#   16 out-of-domain questions they are coarse.
# * heldout/kb_questions_de.yml is measured by bench/kb_quality.py --german, never tuned on.
DEFAULT_GERMAN_THRESHOLDS = Thresholds(
    dense_weight=0.25,
    hybrid_min_score=0.20,
    dense_min_cosine=0.40,
    bm25_min_share=0.145,
)

# The scoring before field weights, spellings and synonyms (best section only, blend 0.5), kept
# so that bench/kb_quality.py can measure the levers against it in the same run.
BASELINE_RANKING = Ranking(
    spelling=False,
    synonym_weight=0.0,
    expand_dense_query=False,
    title_dense=0.0,
    lead_dense=0.0,
    title_lexical=0.0,
    german_lexicon=False,
)
BASELINE_THRESHOLDS = Thresholds(
    dense_weight=0.5,
    hybrid_min_score=0.27,
    dense_min_cosine=0.45,
    bm25_min_share=0.18,
)


# ---------------------------------------------------------------------------------------------
# Public result types
# ---------------------------------------------------------------------------------------------


class SearchResult(BaseModel):
    """One article found; ``section`` is the heading of its best-matching section."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    title: str
    score: float
    snippet: str
    section: str
    dense_score: float | None = None  # the article's dense score (None in bm25 mode)
    bm25_score: float | None = None  # the article's lexical score (None in dense mode)
    language: ArticleLanguage = "en"  # the article's


class SearchResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: tuple[SearchResult, ...]  # a tuple: responses are cached and shared between callers
    abstain: bool
    # The language the results are in when one was asked for (None: every language ranked together)
    language: ArticleLanguage | None = None
    # True when nothing in the asked language answered and these results are in the other one
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """What an index change did. ``embedded`` counts texts sent to the embedder.

    Vectors are those of the sections and, when the ranking uses them, of the article titles.
    """

    indexed: int = 0  # published articles (re)indexed
    removed: int = 0  # articles taken out (deleted, or now a draft)
    sections: int = 0  # sections of the (re)indexed articles
    reused: int = 0  # vectors kept from the previous version of the article
    from_store: int = 0  # vectors read from the EmbeddingStore
    embedded: int = 0  # vectors computed now
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# BM25 tokenisation (same for sections and questions)
# ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\b\w\w+\b")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects must not be shared between threads.
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def tokenize(text: str, *, spelling: bool = True) -> list[str]:
    """Lower-cased words of two characters or more, English stop words removed, stemmed.

    With ``spelling``, variants are first written one way (``synonyms.normalise_spelling``).
    """
    lowered = normalise_spelling(text) if spelling else text.lower()
    words = [word for word in _TOKEN_RE.findall(lowered) if word not in _STOPWORDS]
    return list(_stemmer().stemWords(words)) if words else []


# A question's terms: for each word, the alternatives that may match it, with their weights
# (the word itself at 1, the article words a customer word stands for below 1).
_Term = tuple[tuple[str, float], ...]


def _query_terms(text: str, ranking: Ranking) -> list[_Term]:
    tokens = tokenize(text, spelling=ranking.spelling)
    terms: list[list[tuple[str, float]]] = [[(token, 1.0)] for token in tokens]
    if ranking.synonym_weight <= 0:
        return [tuple(term) for term in terms]
    for customer_words, article_words in expansions(text):
        variant = set(tokenize(customer_words, spelling=ranking.spelling))
        alternatives = [
            (token, ranking.synonym_weight) for token in tokenize(article_words, spelling=ranking.spelling)
        ]
        # attach to the (last) question word the customer words were made of; a phrase of stop
        # words only ("someone" is not one, but a table may hold such phrases) gets its own term
        matches = [i for i, token in enumerate(tokens) if token in variant]
        if matches:
            term = terms[matches[-1]]
            term.extend(alt for alt in alternatives if alt[0] not in {token for token, _ in term})
        elif alternatives:
            terms.append(alternatives)
    return [tuple(term) for term in terms]


def _german_query_terms(text: str, ranking: Ranking) -> list[_Term]:
    """A German question's terms: each word, or the parts of a compound and the compound itself
    at ``compound_weight`` (left out when no article uses it, rather than counted as missing)."""
    split = splitter()
    terms: list[list[tuple[str, float]]] = []
    last_term: dict[str, int] = {}  # stem of a question word -> its (last) term
    for word in german_words(text):
        parts = split.split(word)
        if not parts:
            last_term[stem_words([word])[0]] = len(terms)
            terms.append([(stem_words([word])[0], 1.0)])
            continue
        whole, *stems = stem_words([word, *parts])
        terms.extend([(part, 1.0)] for part in stems)
        if ranking.compound_weight > 0:
            terms.append([(whole, ranking.compound_weight)])
        last_term[whole] = len(terms) - 1
    if ranking.synonym_weight > 0:
        for customer_words, article_words in german_expansions(text):
            alternatives = [(token, ranking.synonym_weight) for token in tokenize_de(article_words)]
            matches = [
                last_term[token]
                for token in tokenize_de(customer_words, compounds=False)
                if token in last_term
            ]
            if matches:
                term = terms[max(matches)]
                term.extend(alt for alt in alternatives if alt[0] not in {token for token, _ in term})
            elif alternatives:
                terms.append(alternatives)
    return [tuple(term) for term in terms]


def _dense_query(text: str, ranking: Ranking) -> str:
    """The text the model reads: the question, plus the article words of its customer words."""
    if not ranking.expand_dense_query or ranking.synonym_weight <= 0:
        return text
    added = list(dict.fromkeys(article_words for _, article_words in expansions(text)))
    return f"{text} ({', '.join(added)})" if added else text


@dataclass(frozen=True)
class _Lexicon:
    """A BM25 index with the IDF of its words, scoring a question as a share (see the top)."""

    bm25: bm25s.BM25 | None
    size: int
    idf: dict[str, float]
    unknown_idf: float  # IDF of a word no document contains

    @classmethod
    def build(cls, corpus: Sequence[list[str]]) -> _Lexicon:
        n = len(corpus)
        bm25: bm25s.BM25 | None = None
        idf: dict[str, float] = {}
        if any(corpus):
            bm25 = bm25s.BM25()  # Lucene variant, k1=1.5, b=0.75
            bm25.index(list(corpus), show_progress=False)
            df = Counter(token for tokens in corpus for token in set(tokens))
            idf = {token: math.log(1 + (n - count + 0.5) / (count + 0.5)) for token, count in df.items()}
        return cls(bm25=bm25, size=n, idf=idf, unknown_idf=math.log(1 + (n + 0.5) / 0.5))

    def shares(self, terms: Sequence[_Term]) -> npt.NDArray[np.float32]:
        """Per document: sum over terms of the best weighted alternative's BM25 score, divided
        by the sum over terms of the best weighted alternative's IDF, at most 1.

        A term none of whose alternatives the index knows counts as missing (its IDF that of an
        unknown word) when it is a word of the question, and is left out when it only stands
        for one.
        """
        if self.bm25 is None or not terms:
            return np.zeros(self.size, dtype=np.float32)
        total = np.zeros(self.size, dtype=np.float32)
        total_idf = 0.0
        for term in terms:
            known = [(token, weight) for token, weight in term if token in self.idf]
            if not known:
                if any(weight >= 1.0 for _, weight in term):
                    total_idf += self.unknown_idf
                continue
            best: npt.NDArray[np.float32] | None = None
            for token, weight in known:
                scores = np.asarray(self.bm25.get_scores([token]), dtype=np.float32)
                if weight != 1.0:
                    scores = scores * np.float32(weight)
                best = scores if best is None else np.maximum(best, scores)
            assert best is not None
            total += best
            total_idf += max(weight * self.idf[token] for token, weight in known)
        if total_idf <= 0:
            return np.zeros(self.size, dtype=np.float32)
        shares: npt.NDArray[np.float32] = np.minimum(total / np.float32(total_idf), np.float32(1.0))
        return shares


# ---------------------------------------------------------------------------------------------
# Index internals
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """An indexed (published) article with its sections, vectors and BM25 tokens."""

    article: Article
    sections: tuple[Section, ...]
    vectors: Matrix  # (len(sections), dim)
    tokens: tuple[list[str], ...]
    title_tokens: list[str]  # title and tags
    title_vector: Vector | None  # None when the ranking does not use it
    # German words of a German article's sections and of its title and tags (Ranking.german_lexicon)
    german_tokens: tuple[list[str], ...] | None = None
    german_title_tokens: list[str] | None = None


# question (lower case), k, mode, language, fallback
_CacheKey = tuple[str, int, str, str | None, bool]


@dataclass(frozen=True)
class _GermanLexicon:
    """The BM25 indexes of the German articles' German words, and where those articles sit."""

    lexicon: _Lexicon  # over their sections
    title_lexicon: _Lexicon  # over their titles and tags
    rows: npt.NDArray[np.intp]  # section row (in the snapshot) of each of those sections
    entries: npt.NDArray[np.intp]  # entry index (in the snapshot) of each German article


class _ResultCache:
    """A small LRU of responses, one per snapshot (a swap starts an empty one)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[_CacheKey, SearchResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> SearchResponse | None:
        if self._size <= 0:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: _CacheKey, value: SearchResponse) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@dataclass(frozen=True)
class _Snapshot:
    """Everything a search reads. Never modified after it is built."""

    version: int
    entries: tuple[_Entry, ...]
    positions: dict[str, int]  # article id -> index in entries
    sections: tuple[Section, ...]
    starts: npt.NDArray[np.intp]  # first section row of each entry (its lead section)
    matrix: Matrix  # (n_sections, dim)
    titles: Matrix | None  # (n_entries, dim), None when the ranking does not use title vectors
    lexicon: _Lexicon  # over the sections
    title_lexicon: _Lexicon  # over the titles and tags, one document per entry
    by_language: dict[ArticleLanguage, npt.NDArray[np.intp]]  # entry indices of the articles in each language
    german: _GermanLexicon | None  # None when the ranking has no German lexicon
    cache: _ResultCache = field(compare=False)

    @property
    def size(self) -> int:
        return len(self.sections)


def _build_snapshot(
    version: int, entries: Iterable[_Entry], dim: int, cache_size: int, with_titles: bool, with_german: bool
) -> _Snapshot:
    ordered = tuple(sorted(entries, key=lambda entry: entry.article.id))
    sections = tuple(section for entry in ordered for section in entry.sections)
    counts = np.array([len(entry.sections) for entry in ordered], dtype=np.intp)
    starts = np.zeros(len(ordered), dtype=np.intp)
    if len(ordered) > 1:
        starts[1:] = np.cumsum(counts)[:-1]
    if ordered:
        matrix = np.ascontiguousarray(np.concatenate([entry.vectors for entry in ordered]), dtype=np.float32)
    else:
        matrix = np.zeros((0, dim), dtype=np.float32)
    matrix.setflags(write=False)
    titles: Matrix | None = None
    if with_titles:
        titles = np.zeros((len(ordered), dim), dtype=np.float32)
        for i, entry in enumerate(ordered):
            if entry.title_vector is not None:
                titles[i] = entry.title_vector
        titles.setflags(write=False)
    by_language = {
        language: np.array(
            [i for i, entry in enumerate(ordered) if entry.article.language == language], dtype=np.intp
        )
        for language in LANGUAGES
    }
    german: _GermanLexicon | None = None
    if with_german:
        german_entries = [ordered[i] for i in by_language["de"]]
        rows = [int(starts[i]) + row for i in by_language["de"] for row in range(len(ordered[i].sections))]
        german = _GermanLexicon(
            lexicon=_Lexicon.build(
                [tokens for entry in german_entries for tokens in entry.german_tokens or ()]
            ),
            title_lexicon=_Lexicon.build([entry.german_title_tokens or [] for entry in german_entries]),
            rows=np.array(rows, dtype=np.intp),
            entries=by_language["de"],
        )

    return _Snapshot(
        version=version,
        entries=ordered,
        positions={entry.article.id: i for i, entry in enumerate(ordered)},
        sections=sections,
        starts=starts,
        matrix=matrix,
        titles=titles,
        lexicon=_Lexicon.build([tokens for entry in ordered for tokens in entry.tokens]),
        title_lexicon=_Lexicon.build([entry.title_tokens for entry in ordered]),
        by_language=by_language,
        german=german,
        cache=_ResultCache(cache_size),
    )


# ---------------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------------


class HybridIndex:
    """Searchable published articles. Thread-safe: many searchers, one writer at a time.

    Writes (``upsert``, ``upsert_many``, ``remove``, ``apply``, ``replace_all``) embed only the
    sections whose content hash is new, rebuild the BM25 part and the vector matrix, and swap the
    snapshot atomically. At 10,000 sections a write takes ~0.3 s plus 15-50 ms per changed
    section (see bench/kb_search.py); use ``apply``/``upsert_many`` to batch several changes.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: EmbeddingStore | None = None,
        *,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        german_thresholds: Thresholds = DEFAULT_GERMAN_THRESHOLDS,
        fusion: FusionMethod = "blend",
        ranking: Ranking = DEFAULT_RANKING,
        result_cache_size: int = 1024,
    ) -> None:
        self._embedder = embedder
        self._store: EmbeddingStore = store if store is not None else InMemoryEmbeddingStore()
        self.thresholds = thresholds  # without a language, and in English
        self.german_thresholds = german_thresholds  # in German
        self.fusion: FusionMethod = fusion
        self._ranking = ranking
        self._cache_size = result_cache_size
        self._entries: dict[str, _Entry] = {}
        self._write_lock = threading.RLock()
        self._snapshot = self._new_snapshot(0, ())

    # -- reading ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def ranking(self) -> Ranking:
        """How articles are scored (fixed: the indexed words and vectors depend on it)."""
        return self._ranking

    @property
    def version(self) -> int:
        """Increases with every change that is visible to searches."""
        return self._snapshot.version

    @property
    def article_ids(self) -> list[str]:
        return [entry.article.id for entry in self._snapshot.entries]

    @property
    def section_count(self) -> int:
        return self._snapshot.size

    def __len__(self) -> int:
        return len(self._snapshot.entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._snapshot.positions

    def get(self, article_id: str) -> Article | None:
        """The indexed (published) version of an article, or None."""
        snap = self._snapshot
        position = snap.positions.get(article_id)
        return snap.entries[position].article if position is not None else None

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, article: Article) -> UpdateStats:
        """Index a published article (new or changed); a draft is taken out of the index."""
        return self.apply(upserts=[article])

    def upsert_many(self, articles: Iterable[Article]) -> UpdateStats:
        """Like ``upsert`` for many articles, with one batch of embeddings and one swap."""
        return self.apply(upserts=articles)

    def remove(self, article_id: str) -> bool:
        """Take an article out of the index; False when it was not there."""
        return self.apply(removals=[article_id]).removed == 1

    def apply(self, upserts: Iterable[Article] = (), removals: Iterable[str] = ()) -> UpdateStats:
        """Upsert some articles and remove others, made visible to searches in one swap.

        An article both upserted and removed is removed. Nothing is swapped (the version stays)
        when nothing changes, e.g. an article saved again unchanged.
        """
        started = time.perf_counter()
        with self._write_lock:
            gone = set(removals)
            batch = {article.id: article for article in upserts if article.id not in gone}
            entries = dict(self._entries)
            removed = 0
            for article_id in gone | {a.id for a in batch.values() if not a.published}:
                if entries.pop(article_id, None) is not None:
                    removed += 1
            published = [article for article in batch.values() if article.published]
            new_entries, stats = self._prepare(published, entries)
            changed = removed > 0 or any(entries.get(key) is not entry for key, entry in new_entries.items())
            if changed:
                entries.update(new_entries)
                self._swap(entries)
        return dataclasses.replace(stats, removed=removed, seconds=time.perf_counter() - started)

    def replace_all(self, articles: Iterable[Article]) -> UpdateStats:
        """Make the index hold exactly the published ones of ``articles`` (e.g. at start-up)."""
        started = time.perf_counter()
        with self._write_lock:
            published = {article.id: article for article in articles if article.published}
            removed = sum(1 for article_id in self._entries if article_id not in published)
            new_entries, stats = self._prepare(list(published.values()), self._entries)
            self._swap(new_entries)
        return dataclasses.replace(stats, removed=removed, seconds=time.perf_counter() - started)

    def _prepare(
        self, articles: Sequence[Article], previous: dict[str, _Entry]
    ) -> tuple[dict[str, _Entry], UpdateStats]:
        """Entries for ``articles``: vectors reused, read from the store, or embedded.

        Each article has one vector per section and, when the ranking uses it, one of its title;
        the counts in the stats are of vectors (a title is keyed like a section: by its text).
        """
        model_name = self._embedder.model_name
        ranking = self._ranking
        with_titles = ranking.title_dense > 0
        entries: dict[str, _Entry] = {}
        reused = 0
        changed: list[Article] = []
        for article in articles:
            old_entry = previous.get(article.id)
            if old_entry is not None and old_entry.article == article:
                entries[article.id] = old_entry  # unchanged: nothing to split, embed or tokenise
                reused += len(old_entry.sections) + (old_entry.title_vector is not None)
            else:
                changed.append(article)

        split = {article.id: split_sections(article, model_name) for article in changed}
        # (hash, text) of every vector the changed articles need: sections, then the title
        texts: dict[str, list[tuple[str, str]]] = {}
        for article in changed:
            needed = [(section.content_hash, section.text) for section in split[article.id]]
            if with_titles:
                needed.append((content_hash(model_name, article.title), article.title))
            texts[article.id] = needed
        known: dict[str, Vector] = {}
        for article_id, needed in texts.items():
            old = previous.get(article_id)
            if old is None:
                continue
            old_vectors = {s.content_hash: old.vectors[i] for i, s in enumerate(old.sections)}
            if old.title_vector is not None:
                old_vectors[content_hash(model_name, old.article.title)] = old.title_vector
            for text_hash, _ in needed:
                vector = old_vectors.get(text_hash)
                if vector is not None and text_hash not in known:
                    known[text_hash] = vector
                    reused += 1
        wanted = {text_hash for needed in texts.values() for text_hash, _ in needed}
        missing = [h for h in wanted if h not in known]
        from_store = self._store.get_many(missing) if missing else {}
        known.update(from_store)
        to_embed: dict[str, str] = {}
        for needed in texts.values():
            for text_hash, text in needed:
                if text_hash not in known:
                    to_embed.setdefault(text_hash, text)
        if to_embed:
            hashes = list(to_embed)
            vectors = self._embedder.embed_documents([to_embed[h] for h in hashes])
            fresh = {h: vectors[i] for i, h in enumerate(hashes)}
            self._store.put_many(fresh)
            known.update(fresh)

        for article in changed:
            article_sections = tuple(split[article.id])
            matrix = np.stack([known[s.content_hash] for s in article_sections]).astype(
                np.float32, copy=False
            )
            matrix.setflags(write=False)
            spelling = ranking.spelling
            tokens = tuple(tokenize(s.text, spelling=spelling) for s in article_sections)
            title_text = " ".join([article.title, *article.tags])
            german = ranking.german_lexicon and article.language == "de"
            entries[article.id] = _Entry(
                article=article,
                sections=article_sections,
                vectors=matrix,
                tokens=tokens,
                title_tokens=tokenize(title_text, spelling=spelling),
                title_vector=known[content_hash(model_name, article.title)] if with_titles else None,
                german_tokens=tuple(tokenize_de(s.text) for s in article_sections) if german else None,
                german_title_tokens=tokenize_de(title_text) if german else None,
            )
        stats = UpdateStats(
            indexed=len(entries),
            sections=sum(len(entry.sections) for entry in entries.values()),
            reused=reused,
            from_store=len(from_store),
            embedded=len(to_embed),
        )
        return entries, stats

    def _new_snapshot(self, version: int, entries: Iterable[_Entry]) -> _Snapshot:
        return _build_snapshot(
            version,
            entries,
            self._embedder.dimension,
            self._cache_size,
            self._ranking.title_dense > 0,
            self._ranking.german_lexicon,
        )

    def _swap(self, entries: dict[str, _Entry]) -> None:
        snapshot = self._new_snapshot(self._snapshot.version + 1, entries.values())
        self._entries = entries
        self._snapshot = snapshot  # one reference assignment: atomic for readers

    # -- searching -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        mode: SearchMode = "hybrid",
        language: ArticleLanguage | None = None,
        fallback: bool = True,
    ) -> SearchResponse:
        """The ``k`` best published articles for ``query`` and whether to abstain.

        With a ``language``, only the articles in it are ranked; when that abstains and the
        articles in the other language answer, those are returned with ``fallback`` set (unless
        ``fallback`` is False: calibration looks at one language's scores alone).
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        snap = self._snapshot
        text = " ".join(query[:MAX_QUERY_CHARS].split())
        if not text or snap.size == 0:
            return SearchResponse(results=(), abstain=True, language=language)
        key = (text.lower(), k, mode, language, fallback)
        cached = snap.cache.get(key)
        if cached is not None:
            return cached
        query_vector = _QueryVector(self._embedder, text, self._ranking)
        response = self._search(snap, text, k, mode, language, query_vector)
        if fallback and language is not None and response.abstain:
            other: ArticleLanguage = "en" if language == "de" else "de"
            answer = self._search(snap, text, k, mode, other, query_vector)
            if not answer.abstain:
                response = answer.model_copy(update={"fallback": True})
        snap.cache.put(key, response)
        return response

    def thresholds_for(self, language: ArticleLanguage | None) -> Thresholds:
        return self.german_thresholds if language == "de" else self.thresholds

    def _lexical(
        self, snap: _Snapshot, text: str, language: ArticleLanguage | None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """Per section and per article (title and tags): the question's lexical shares."""
        ranking = self._ranking
        if language == "de" and snap.german is not None:
            german = snap.german
            terms = _german_query_terms(text, ranking)
            lexical = np.zeros(snap.size, dtype=np.float32)
            lexical[german.rows] = german.lexicon.shares(terms)
            title_shares: npt.NDArray[np.float32] | None = None
            if ranking.title_lexical > 0:
                title_shares = np.zeros(len(snap.entries), dtype=np.float32)
                title_shares[german.entries] = german.title_lexicon.shares(terms)
            return lexical, title_shares
        terms = _query_terms(text, ranking)
        lexical = snap.lexicon.shares(terms)
        return lexical, snap.title_lexicon.shares(terms) if ranking.title_lexical > 0 else None

    def _search(
        self,
        snap: _Snapshot,
        text: str,
        k: int,
        mode: SearchMode,
        language: ArticleLanguage | None,
        query_vector: _QueryVector,
    ) -> SearchResponse:
        th = self.thresholds_for(language)
        ranking = self._ranking
        starts = snap.starts
        dense: npt.NDArray[np.float32] | None = None  # per section
        lexical: npt.NDArray[np.float32] | None = None  # per section
        art_dense: npt.NDArray[np.float32] | None = None  # per article
        art_lex: npt.NDArray[np.float32] | None = None  # per article
        if mode in ("hybrid", "dense"):
            vector = query_vector.get()
            # einsum, not matmul: OpenBLAS would split this small product over threads and, on a
            # busy 2-core machine, wait a scheduler slice for the second one (8-12 ms instead of
            # 0.4 ms at 10,000 sections, measured); einsum's loop is single-threaded SIMD.
            dense = np.einsum("ij,j->i", snap.matrix, vector)
            art_dense = _field_blend(
                np.maximum.reduceat(dense, starts),
                (ranking.lead_dense, dense[starts]),
                (ranking.title_dense, _cosines(snap.titles, vector)),
            )
        if mode in ("hybrid", "bm25"):
            lexical, title_shares = self._lexical(snap, text, language)
            art_lex = _field_blend(
                np.maximum.reduceat(lexical, starts), (ranking.title_lexical, title_shares)
            )

        # the articles ranked: all, or those in the language (their scores alone, so that rank
        # fusion ranks among them)
        candidates = snap.by_language[language] if language is not None else None
        if candidates is not None:
            if candidates.shape[0] == 0:
                return SearchResponse(results=(), abstain=True, language=language)
            art_dense = art_dense[candidates] if art_dense is not None else None
            art_lex = art_lex[candidates] if art_lex is not None else None

        # section score (chooses the snippet) and article score (ranks)
        if dense is not None and lexical is not None and art_dense is not None and art_lex is not None:
            w = np.float32(th.dense_weight)
            section_scores = (w * dense + (1 - w) * lexical).astype(np.float32, copy=False)
            blended = (w * art_dense + (1 - w) * art_lex).astype(np.float32, copy=False)
            art_scores = _rrf(art_dense, art_lex, th.rrf_k) if self.fusion == "rrf" else blended
            min_score = th.hybrid_min_score
        elif dense is not None and art_dense is not None:
            section_scores = dense
            art_scores = blended = art_dense
            min_score = th.dense_min_cosine
        elif lexical is not None and art_lex is not None:
            section_scores = lexical
            art_scores = blended = art_lex
            min_score = th.bm25_min_share
        else:  # pragma: no cover - mode checked above
            raise AssertionError(mode)

        top = _top_k(art_scores, k)
        results: list[SearchResult] = []
        n_entries = len(snap.entries)
        for position in top:
            i = int(candidates[position]) if candidates is not None else position
            entry = snap.entries[i]
            start = int(starts[i])
            stop = int(starts[i + 1]) if i + 1 < n_entries else snap.size
            best = start + int(np.argmax(section_scores[start:stop]))
            section = snap.sections[best]
            snippet = make_snippet(section.content) if section.content else section.heading
            results.append(
                SearchResult(
                    article_id=entry.article.id,
                    title=entry.article.title,
                    score=round(float(art_scores[position]), 4),
                    snippet=snippet,
                    section=section.heading,
                    dense_score=round(float(art_dense[position]), 4) if art_dense is not None else None,
                    bm25_score=round(float(art_lex[position]), 4) if art_lex is not None else None,
                    language=entry.article.language,
                )
            )
        abstain = not results or float(blended[top[0]]) < min_score
        return SearchResponse(results=tuple(results), abstain=abstain, language=language)


class _QueryVector:
    """The question's vector, computed when a search first needs it (once for a fallback too)."""

    def __init__(self, embedder: Embedder, text: str, ranking: Ranking) -> None:
        self._embedder = embedder
        self._text = text
        self._ranking = ranking
        self._vector: Vector | None = None

    def get(self) -> Vector:
        if self._vector is None:
            self._vector = self._embedder.embed_query(_dense_query(self._text, self._ranking))
        return self._vector


def _cosines(matrix: Matrix | None, vector: Vector) -> npt.NDArray[np.float32] | None:
    return None if matrix is None else np.einsum("ij,j->i", matrix, vector)


def _field_blend(
    best_section: npt.NDArray[np.float32],
    *fields: tuple[float, npt.NDArray[np.float32] | None],
) -> npt.NDArray[np.float32]:
    """(1 - sum of the weights) * best section + sum of weight * field, per article."""
    used = [(weight, scores) for weight, scores in fields if weight > 0 and scores is not None]
    if not used:
        return best_section
    blended = np.float32(1 - sum(weight for weight, _ in used)) * best_section
    for weight, scores in used:
        blended += np.float32(weight) * scores
    return blended.astype(np.float32, copy=False)


def _top_k(scores: npt.NDArray[np.float32], k: int) -> list[int]:
    """Indices of the k highest scores, best first (argpartition, then sort only those)."""
    n = scores.shape[0]
    if n == 0:
        return []
    k = min(k, n)
    part = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    order = part[np.lexsort((part, -scores[part]))]  # ties: lower index (article id) first
    return [int(i) for i in order]


def _rrf(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.float32]:
    """Reciprocal-rank fusion of two score vectors over the same items."""
    fused = np.zeros(a.shape[0], dtype=np.float32)
    for scores in (a, b):
        ranks = np.empty(scores.shape[0], dtype=np.float32)
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, scores.shape[0] + 1, dtype=np.float32)
        fused += 1.0 / (k + ranks)
    return fused
