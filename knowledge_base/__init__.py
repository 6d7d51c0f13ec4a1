"""Knowledge base of the help desk: articles, sections, embeddings and hybrid search.

Typical use in the service::

    from knowledge_base import HybridIndex, MiniLMEmbedder, load_articles

    index = HybridIndex(MiniLMEmbedder(), store=my_database_store)   # store: EmbeddingStore
    index.replace_all(articles)                # at start-up (embeds only what the store lacks)
    index.upsert(article)                      # on create/update (a draft is taken out)
    index.remove(article_id)                   # on delete
    response = index.search("vpn keeps dropping", k=5)   # SearchResponse(results, abstain)
    index.search("VPN bricht ab", language="de")  # German articles first, English as a fallback

Ranking (``Ranking``: title fields, one spelling, synonyms from ``knowledge_base.synonyms``) and
abstention (``Thresholds``) are calibrated on tests/knowledge_base/eval_questions.yml; see the
CALIBRATION comment in ``knowledge_base/search.py`` and bench/kb_quality.py.

Everything here is synchronous and thread-safe: call ``search`` and the writers from a thread
pool (``run_in_threadpool`` / ``asyncio.to_thread``), not on the event loop, because a new
question runs the model (~10 ms) and a write rebuilds the BM25 index.
"""

from knowledge_base.articles import (
    Article,
    ArticleFileError,
    LoadError,
    LoadResult,
    Step,
    dump_article,
    export_articles,
    load_article,
    load_articles,
    parse_article,
    slugify,
)
from knowledge_base.embeddings import (
    Embedder,
    EmbeddingStore,
    InMemoryEmbeddingStore,
    MiniLMEmbedder,
)
from knowledge_base.search import (
    BASELINE_RANKING,
    BASELINE_THRESHOLDS,
    DEFAULT_GERMAN_THRESHOLDS,
    DEFAULT_RANKING,
    DEFAULT_THRESHOLDS,
    HybridIndex,
    Ranking,
    SearchMode,
    SearchResponse,
    SearchResult,
    Thresholds,
    UpdateStats,
)
from knowledge_base.sections import Section, split_sections

__all__ = [
    "BASELINE_RANKING",
    "BASELINE_THRESHOLDS",
    "DEFAULT_GERMAN_THRESHOLDS",
    "DEFAULT_RANKING",
    "DEFAULT_THRESHOLDS",
    "Article",
    "ArticleFileError",
    "Embedder",
    "EmbeddingStore",
    "HybridIndex",
    "InMemoryEmbeddingStore",
    "LoadError",
    "LoadResult",
    "MiniLMEmbedder",
    "Ranking",
    "SearchMode",
    "SearchResponse",
    "SearchResult",
    "Section",
    "Step",
    "Thresholds",
    "UpdateStats",
    "dump_article",
    "export_articles",
    "load_article",
    "load_articles",
    "parse_article",
    "slugify",
    "split_sections",
]
