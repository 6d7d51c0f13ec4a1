"""Knowledge-base articles, their revisions, the embedding cache and the questions people asked."""

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from handoff_api.models.base import Base, utcnow


class ArticleRow(Base):
    """A knowledge-base article; the database is the source of truth once imported."""

    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(default=list)
    applies_to: Mapped[list[str]] = mapped_column(default=list)
    audience: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    summary: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    translation_of: Mapped[str | None] = mapped_column(String(100), index=True)
    # Optimistic concurrency: an edit names the version it started from; a stale one gets 409.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class ArticleRevision(Base):
    """Every change to an article (who, when, what), kept after deletion so it can be restored.

    The highest revision id is also the knowledge base's version: workers compare it to refresh search.
    """

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    changed_fields: Mapped[list[str]] = mapped_column(default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(100))


class EmbeddingRow(Base):
    """Section embeddings by content hash, so a restart or a republish does not embed again."""

    __tablename__ = "embeddings"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbQuery(Base):
    """What people asked the knowledge base and whether it had an answer: the knowledge-gap view."""

    __tablename__ = "kb_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    abstained: Mapped[bool]
    top_article_id: Mapped[str | None] = mapped_column(String(100))
    top_score: Mapped[float | None]
    asked_by: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
