"""The search index the service answers from, kept in step with the articles in the database.

Every worker polls the highest article revision id (one indexed query) and re-indexes only the
articles changed since; embeddings come from the database cache by content hash, so a restart or a
republish embeds only new text. A published change is searchable on every worker within a second.
"""

import asyncio
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import structlog
from anyio import to_thread
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.kb import store as kb_store
from handoff_api.models import ArticleRow, EmbeddingRow
from knowledge_base.articles import ArticleLanguage, load_articles
from knowledge_base.embeddings import Embedder, Matrix, MiniLMEmbedder, Vector
from knowledge_base.search import HybridIndex, SearchResponse

log = structlog.get_logger(__name__)
STARTER_CORPUS = Path(__file__).resolve().parents[2] / "knowledge_base" / "articles"
# PostgreSQL advisory lock key of the first start's seeding ("kb_seed" in ASCII).
SEED_LOCK_KEY = 0x6B625F73656564
# Articles embedded and swapped into the index at a time when many changed at once: each batch is
# searchable ~2-4 s after the previous one on two cores, instead of all of them after minutes.
APPLY_BATCH = 50


class DbEmbeddingStore:
    """Section vectors by content hash in the service's database."""

    def __init__(self, read: sessionmaker[Session], write: sessionmaker[Session]) -> None:
        self._factory = read
        self._write = write

    def get_many(self, hashes: Iterable[str]) -> dict[str, Vector]:
        wanted = list(hashes)
        found: dict[str, Vector] = {}
        with self._factory() as session:
            for start in range(0, len(wanted), 500):
                rows = session.execute(
                    select(EmbeddingRow.content_hash, EmbeddingRow.vector).where(
                        EmbeddingRow.content_hash.in_(wanted[start : start + 500])
                    )
                )
                for content_hash, blob in rows:
                    found[content_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, vectors: Mapping[str, Vector]) -> None:
        if not vectors:
            return
        values = [
            {
                "content_hash": h,
                "dimension": int(v.shape[0]),
                "vector": np.asarray(v, dtype=np.float32).tobytes(),
            }
            for h, v in vectors.items()
        ]
        with self._factory() as session, session.begin():
            insert = (
                pg_insert
                if session.bind is not None and session.bind.dialect.name == "postgresql"
                else sqlite_insert
            )
            session.execute(insert(EmbeddingRow).values(values).on_conflict_do_nothing())


class OwnThreadEmbedder:
    """Runs the model in long-lived threads of its own: one for questions, one for documents.

    torch keeps per-thread state; a pooled worker thread that ran the model and is still alive
    when the interpreter exits aborts the process ("terminate called without an active exception").
    A concurrent.futures thread is joined at exit, so it ends cleanly.

    Questions and documents run on separate model instances (`queries`, when given) in separate
    threads: a search never queues behind a bulk import's embedding, which takes minutes for a few
    hundred articles on two cores (searches waited 18-73 s for it).
    """

    _documents_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder-documents")
    _queries_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder-queries")

    def __init__(self, inner: Embedder, queries: Embedder | None = None) -> None:
        self._inner = inner
        self._queries = queries or inner

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        return self._documents_thread.submit(self._inner.embed_documents, texts).result()

    def embed_query(self, text: str) -> Vector:
        # One model instance cannot encode on two threads at once: without a second, the same thread.
        thread = self._documents_thread if self._queries is self._inner else self._queries_thread
        return thread.submit(self._queries.embed_query, text).result()


_QUERY_TWINS: "weakref.WeakKeyDictionary[MiniLMEmbedder, MiniLMEmbedder]" = weakref.WeakKeyDictionary()


def query_embedder(embedder: Embedder) -> Embedder | None:
    """The model instance questions are embedded on (one per document model, made once)."""
    if not isinstance(embedder, MiniLMEmbedder):
        return None
    twin = _QUERY_TWINS.get(embedder)
    if twin is None:
        twin = _QUERY_TWINS[embedder] = embedder.twin()
    return twin


class KnowledgeIndex:
    def __init__(
        self,
        read: sessionmaker[Session],
        write: sessionmaker[Session],
        embedder: Embedder,
        *,
        query_model: bool = True,
        apply_batch: int = APPLY_BATCH,
    ) -> None:
        """`read` sessions to look (never holding SQLite's write lock while embedding), `write` to store.

        `query_model` False and a large `apply_batch`: questions wait for documents being embedded
        and a bulk change becomes searchable at once (how it was before; bench/kb_import.py)."""
        self._factory = read
        self._write = write
        queries = query_embedder(embedder) if query_model else None
        self.index = HybridIndex(OwnThreadEmbedder(embedder, queries), DbEmbeddingStore(read, write))
        self._apply_batch = apply_batch
        self._seen_revision = -1
        # Articles of the refresh in progress not yet searchable (a bulk import's progress).
        self.pending = 0
        self._refresh_lock = threading.Lock()
        self.ready = threading.Event()

    def seed_if_empty(self, corpus: Path = STARTER_CORPUS) -> int:
        """Imports the starter corpus on the very first start (never again once anything was stored)."""
        try:
            with self._write() as session, session.begin():
                if session.get_bind().dialect.name == "postgresql":
                    # Workers starting together on an empty database take turns (SQLite's writers do
                    # anyway): one that looked while another was importing found the base empty, then
                    # met the other's committed rows mid-import ("article ... exists already") and its
                    # start failed. Held to the commit; the next one finds the articles and leaves them.
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK_KEY})
                if kb_store.latest_revision(session) or session.scalar(select(ArticleRow.id).limit(1)):
                    return 0
                loaded = load_articles(corpus)
                for error in loaded.errors:
                    log.warning("kb.seed_skipped_file", error=str(error))
                created, _ = kb_store.import_articles(session, loaded.articles, "import")
        except IntegrityError:
            # Several workers starting on an empty PostgreSQL database: another one seeded it first.
            log.info("kb.seeded_by_another_worker")
            return 0
        log.info("kb.seeded", articles=created, corpus=str(corpus))
        return created

    def refresh(self) -> bool:
        """Brings the index up to date with the database; returns whether anything changed.

        Searches never wait for it: they read the index as it is. Many changes at once (a bulk
        import) are applied in batches of `APPLY_BATCH` articles, each searchable as soon as its
        embeddings are ready, and each batch's articles are read in a short session of their own (no
        transaction stays open while the model works).
        """
        with self._refresh_lock:
            with self._factory() as session:
                latest = kb_store.latest_revision(session)
                if latest == self._seen_revision:
                    return False
                first = self._seen_revision < 0
                if first:
                    articles = kb_store.all_articles(session)
                else:
                    changed = kb_store.changed_since(session, self._seen_revision)
            if first:
                self.index.replace_all(articles)
                # The question model loads now, not on the first customer's question (~4 s).
                self.index.embedder.embed_query("warm up the question model")
            else:
                self.pending = len(changed)
                batch = self._apply_batch
                for start in range(0, len(changed), batch):
                    self._apply(changed[start : start + batch])
                    self.pending = max(0, len(changed) - start - batch)
            self._seen_revision = latest
            self.ready.set()
            return True

    def _apply(self, article_ids: Sequence[str]) -> None:
        with self._factory() as session:
            rows = {
                row.id: row
                for row in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(article_ids)))
            }
            upserts = [kb_store.to_article(rows[i]) for i in article_ids if i in rows]
        removals = [i for i in article_ids if i not in rows]
        # One rebuild of the BM25 part for the batch.
        self.index.apply(upserts=upserts, removals=removals)

    @property
    def refreshing(self) -> bool:
        """Whether changes are being indexed now."""
        return self._refresh_lock.locked()

    @property
    def indexed_revision(self) -> int:
        """The last article revision every search answers from (-1 before the first build)."""
        return self._seen_revision

    def search(self, query: str, k: int, language: ArticleLanguage | None = None) -> SearchResponse:
        return self.index.search(query, k=k, language=language)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Waits for a refresh in progress, so nothing embeds into a database that is going away."""
        if self._refresh_lock.acquire(timeout=timeout):
            self._refresh_lock.release()

    async def follow(self, interval: float = 0.5, warm: bool = True) -> None:
        """Runs in every worker: picks up changes that other workers (or this one) committed.

        `warm` builds the index at start-up, so the first customer question does not wait for the
        model; otherwise the first search builds it.
        """
        while True:
            if warm or self.ready.is_set():
                try:
                    await to_thread.run_sync(self.refresh)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("kb.refresh_failed")
            await asyncio.sleep(interval)
