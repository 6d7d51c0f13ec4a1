"""Hybrid (BM25 + dense) search over published articles, with abstention.

``HybridIndex`` keeps the sections of every published article, their embeddings (from an
``EmbeddingStore`` or the ``Embedder``), a BM25 index (bm25s) and a matrix of the section
vectors.  Each change builds a new immutable snapshot and swaps it in with one assignment:
searches never lock and always see one consistent version; writers are serialised.

Scoring, per article (the best of its sections, that section gives the snippet):

* ``dense``: cosine of the question and the section (vectors are normalised: a dot product);
* ``bm25``: the section's BM25 score divided by the sum of the IDFs of the question's terms:
  an IDF-weighted share of the question found in the section (about 1 when every term occurs
  once in a section of average length; words the knowledge base never uses count as missing);
* ``hybrid``: a weighted blend of the two (see ``Thresholds``), chosen over reciprocal-rank
  fusion by the evaluation (``tests/knowledge_base/test_retrieval_quality.py``).

``abstain`` is true when the best article's score is below the mode's threshold.
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

from knowledge_base.articles import Article
from knowledge_base.embeddings import Embedder, EmbeddingStore, InMemoryEmbeddingStore, Matrix, Vector
from knowledge_base.sections import Section, make_snippet, split_sections

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FusionMethod",
    "HybridIndex",
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
MAX_K = 50
MAX_QUERY_CHARS = 1000


# ---------------------------------------------------------------------------------------------
# Thresholds: the only tuning knobs. Calibrated on tests/knowledge_base/eval_questions.yml
# (see CALIBRATION below); test_retrieval_quality.py prints the figures they give.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Fusion weights and abstention thresholds (abstain when the best score is below)."""

    dense_weight: float  # hybrid score = dense_weight * cosine + (1 - dense_weight) * bm25 share
    hybrid_min_score: float  # abstain (hybrid) below this blended score of the best article
    dense_min_cosine: float  # abstain (dense) below this cosine of the best section
    bm25_min_share: float  # abstain (bm25) below this IDF-weighted share of the question
    rrf_k: int = 60  # constant of reciprocal-rank fusion (used only with fusion="rrf")


# CALIBRATION (tests/knowledge_base/eval_questions.yml: 240 in-domain questions, 70 out-of-domain,
# 55 articles of which 53 published; all-MiniLM-L6-v2; run test_retrieval_quality.py -s to see
# the figures and the thresholds it would suggest today):
# * dense_weight 0.5: hybrid MRR 0.939 / recall@1 0.892 at 0.4-0.5, 0.936 at 0.6, 0.925 at 0.7,
#   0.912 at 0.8; reciprocal-rank fusion (rrf_k 60) 0.933 at any weight: the blend was chosen, as
#   its score is also an absolute measure for abstention (ROC AUC in-domain vs out-of-domain on the
#   best article's score: blend 0.986, cosine 0.980, bm25 share 0.920).  A logistic regression on
#   (cosine, bm25 share, question length) did no better in cross-validation (AUC 0.983-0.985).
# * each *_min_* threshold maximises Youden's J (out-of-domain questions abstained on minus
#   in-domain questions abstained on; evaluation.suggest_threshold) on the best article's score:
#     hybrid 0.27 -> abstains on 93% of out-of-domain questions and 5% of in-domain ones;
#     dense  0.45 -> 96% and 10%;   bm25 0.18 -> 86% and 17%.
#   Out-of-domain questions still answered in hybrid mode are near misses such as "how do I
#   reset my bank PIN" (-> password-reset, 0.35) or "how do I open a savings account" (0.31);
#   catching them would make the bot abstain on 10-20% of real questions.
DEFAULT_THRESHOLDS = Thresholds(
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
    dense_score: float | None = None  # cosine of the best section (None in bm25 mode)
    bm25_score: float | None = None  # IDF-weighted share of the question (None in dense mode)


class SearchResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: tuple[SearchResult, ...]  # a tuple: responses are cached and shared between callers
    abstain: bool


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """What an index change did. ``embedded`` counts texts sent to the embedder."""

    indexed: int = 0  # published articles (re)indexed
    removed: int = 0  # articles taken out (deleted, or now a draft)
    sections: int = 0  # sections of the (re)indexed articles
    reused: int = 0  # section vectors kept from the previous version of the article
    from_store: int = 0  # section vectors read from the EmbeddingStore
    embedded: int = 0  # section vectors computed now
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


def tokenize(text: str) -> list[str]:
    """Lower-cased words of two characters or more, English stop words removed, stemmed."""
    words = [word for word in _TOKEN_RE.findall(text.lower()) if word not in _STOPWORDS]
    return list(_stemmer().stemWords(words)) if words else []


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


class _ResultCache:
    """A small LRU of responses, one per snapshot (a swap starts an empty one)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int, str], SearchResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, str]) -> SearchResponse | None:
        if self._size <= 0:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, int, str], value: SearchResponse) -> None:
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
    starts: npt.NDArray[np.intp]  # first section row of each entry
    matrix: Matrix  # (n_sections, dim)
    bm25: bm25s.BM25 | None
    idf: dict[str, float]
    unknown_idf: float  # IDF of a word no section contains
    cache: _ResultCache = field(compare=False)

    @property
    def size(self) -> int:
        return len(self.sections)


def _build_snapshot(version: int, entries: Iterable[_Entry], dim: int, cache_size: int) -> _Snapshot:
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

    corpus = [tokens for entry in ordered for tokens in entry.tokens]
    n = len(corpus)
    bm25: bm25s.BM25 | None = None
    idf: dict[str, float] = {}
    if n:
        bm25 = bm25s.BM25()  # Lucene variant, k1=1.5, b=0.75
        bm25.index(corpus, show_progress=False)
        df = Counter(token for tokens in corpus for token in set(tokens))
        idf = {token: math.log(1 + (n - count + 0.5) / (count + 0.5)) for token, count in df.items()}
    unknown_idf = math.log(1 + (n + 0.5) / 0.5)
    return _Snapshot(
        version=version,
        entries=ordered,
        positions={entry.article.id: i for i, entry in enumerate(ordered)},
        sections=sections,
        starts=starts,
        matrix=matrix,
        bm25=bm25,
        idf=idf,
        unknown_idf=unknown_idf,
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
        fusion: FusionMethod = "blend",
        result_cache_size: int = 1024,
    ) -> None:
        self._embedder = embedder
        self._store: EmbeddingStore = store if store is not None else InMemoryEmbeddingStore()
        self.thresholds = thresholds
        self.fusion: FusionMethod = fusion
        self._cache_size = result_cache_size
        self._entries: dict[str, _Entry] = {}
        self._write_lock = threading.RLock()
        self._snapshot = _build_snapshot(0, (), embedder.dimension, result_cache_size)

    # -- reading ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        return self._embedder

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
        """Entries for ``articles``: vectors reused, read from the store, or embedded."""
        model_name = self._embedder.model_name
        entries: dict[str, _Entry] = {}
        reused = 0
        changed: list[Article] = []
        for article in articles:
            old_entry = previous.get(article.id)
            if old_entry is not None and old_entry.article == article:
                entries[article.id] = old_entry  # unchanged: nothing to split, embed or tokenise
                reused += len(old_entry.sections)
            else:
                changed.append(article)

        split = {article.id: split_sections(article, model_name) for article in changed}
        known: dict[str, Vector] = {}
        for article_id, sections in split.items():
            old = previous.get(article_id)
            if old is None:
                continue
            old_vectors = {s.content_hash: old.vectors[i] for i, s in enumerate(old.sections)}
            for section in sections:
                vector = old_vectors.get(section.content_hash)
                if vector is not None and section.content_hash not in known:
                    known[section.content_hash] = vector
                    reused += 1
        wanted = {s.content_hash for sections in split.values() for s in sections}
        missing = [h for h in wanted if h not in known]
        from_store = self._store.get_many(missing) if missing else {}
        known.update(from_store)
        to_embed: dict[str, str] = {}
        for sections in split.values():
            for section in sections:
                if section.content_hash not in known:
                    to_embed.setdefault(section.content_hash, section.text)
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
            tokens = tuple(tokenize(s.text) for s in article_sections)
            entries[article.id] = _Entry(
                article=article, sections=article_sections, vectors=matrix, tokens=tokens
            )
        stats = UpdateStats(
            indexed=len(entries),
            sections=sum(len(entry.sections) for entry in entries.values()),
            reused=reused,
            from_store=len(from_store),
            embedded=len(to_embed),
        )
        return entries, stats

    def _swap(self, entries: dict[str, _Entry]) -> None:
        snapshot = _build_snapshot(
            self._snapshot.version + 1, entries.values(), self._embedder.dimension, self._cache_size
        )
        self._entries = entries
        self._snapshot = snapshot  # one reference assignment: atomic for readers

    # -- searching -------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, mode: SearchMode = "hybrid") -> SearchResponse:
        """The ``k`` best published articles for ``query`` and whether to abstain."""
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        snap = self._snapshot
        text = " ".join(query[:MAX_QUERY_CHARS].split())
        if not text or snap.size == 0:
            return SearchResponse(results=(), abstain=True)
        key = (text.lower(), k, mode)
        cached = snap.cache.get(key)
        if cached is not None:
            return cached
        response = self._search(snap, text, k, mode)
        snap.cache.put(key, response)
        return response

    def _bm25_shares(self, snap: _Snapshot, text: str) -> npt.NDArray[np.float32]:
        tokens = tokenize(text)
        if not tokens or snap.bm25 is None:
            return np.zeros(snap.size, dtype=np.float32)
        known = [token for token in tokens if token in snap.idf]
        if not known:
            return np.zeros(snap.size, dtype=np.float32)
        scores: npt.NDArray[np.float32] = np.asarray(snap.bm25.get_scores(known), dtype=np.float32)
        total_idf = sum(snap.idf.get(token, snap.unknown_idf) for token in tokens)
        shares: npt.NDArray[np.float32] = np.minimum(scores / np.float32(total_idf), np.float32(1.0))
        return shares

    def _search(self, snap: _Snapshot, text: str, k: int, mode: SearchMode) -> SearchResponse:
        th = self.thresholds
        dense: npt.NDArray[np.float32] | None = None
        lexical: npt.NDArray[np.float32] | None = None
        if mode in ("hybrid", "dense"):
            query_vector = self._embedder.embed_query(text)
            # einsum, not matmul: OpenBLAS would split this small product over threads and, on a
            # busy 2-core machine, wait a scheduler slice for the second one (8-12 ms instead of
            # 0.4 ms at 10,000 sections, measured); einsum's loop is single-threaded SIMD.
            dense = np.einsum("ij,j->i", snap.matrix, query_vector)
        if mode in ("hybrid", "bm25"):
            lexical = self._bm25_shares(snap, text)

        starts = snap.starts
        art_dense = np.maximum.reduceat(dense, starts) if dense is not None else None
        art_lex = np.maximum.reduceat(lexical, starts) if lexical is not None else None

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
        for i in top:
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
                    score=round(float(art_scores[i]), 4),
                    snippet=snippet,
                    section=section.heading,
                    dense_score=round(float(art_dense[i]), 4) if art_dense is not None else None,
                    bm25_score=round(float(art_lex[i]), 4) if art_lex is not None else None,
                )
            )
        abstain = not results or float(blended[top[0]]) < min_score
        return SearchResponse(results=tuple(results), abstain=abstain)


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
