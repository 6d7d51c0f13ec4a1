"""Fixtures of the knowledge-base tests: the real model (loaded once), real articles, a counter."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from knowledge_base.articles import Article, load_articles  # noqa: E402
from knowledge_base.embeddings import InMemoryEmbeddingStore, Matrix, MiniLMEmbedder, Vector  # noqa: E402

ARTICLES_DIR = REPO_ROOT / "knowledge_base" / "articles"
EVAL_FILE = Path(__file__).resolve().parent / "eval_questions.yml"


class CountingEmbedder:
    """Wraps a real embedder and counts what it is asked to embed."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.document_calls = 0
        self.documents_embedded = 0
        self.texts: list[str] = []
        self.query_calls = 0

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        self.document_calls += 1
        self.documents_embedded += len(texts)
        self.texts.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vector:
        self.query_calls += 1
        return self.inner.embed_query(text)

    def reset(self) -> None:
        self.document_calls = self.documents_embedded = self.query_calls = 0
        self.texts.clear()


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real bundled model, loaded once for the whole session."""
    model = MiniLMEmbedder()
    model.load()
    return model


@pytest.fixture
def counting_embedder(embedder: MiniLMEmbedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture(scope="session")
def real_articles() -> list[Article]:
    result = load_articles(ARTICLES_DIR)
    assert result.articles, f"no articles in {ARTICLES_DIR}"
    return result.articles


@pytest.fixture(scope="session")
def shared_store() -> InMemoryEmbeddingStore:
    """One store for the session: an article's sections are embedded once, whatever the test."""
    return InMemoryEmbeddingStore()
