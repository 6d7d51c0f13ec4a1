"""Articles in the database: create, edit with optimistic concurrency, delete, revisions and restore."""

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from handoff_api.core.errors import Conflict, Invalid, NotFound
from handoff_api.models import ArticleRevision, ArticleRow, utcnow
from knowledge_base.articles import MAX_SLUG_LENGTH, Article, slugify

CONTENT_FIELDS = (
    "title",
    "body",
    "category",
    "tags",
    "applies_to",
    "audience",
    "status",
    "summary",
    "steps",
    "language",
    "translation_of",
)


def to_article(row: ArticleRow) -> Article:
    return Article.model_validate(
        {
            "id": row.id,
            **{name: getattr(row, name) for name in CONTENT_FIELDS},
            "updated_at": row.updated_at,
            "updated_by": row.updated_by,
        }
    )


def _validated(fields: dict[str, Any]) -> Article:
    try:
        return Article.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "article"
        raise Invalid(f"{where}: {first['msg']}") from exc


def _content(article: Article) -> dict[str, Any]:
    data = article.model_dump(mode="json")
    return {name: data[name] for name in CONTENT_FIELDS}


def _snapshot(row: ArticleRow) -> dict[str, Any]:
    return {"id": row.id, "version": row.version, **{name: getattr(row, name) for name in CONTENT_FIELDS}}


def _revise(session: Session, row: ArticleRow, action: str, by: str, changed: list[str]) -> ArticleRevision:
    revision = ArticleRevision(
        article_id=row.id,
        version=row.version,
        action=action,
        changed_fields=changed,
        snapshot=_snapshot(row),
        by=by,
    )
    session.add(revision)
    session.flush()
    return revision


def get(session: Session, article_id: str) -> ArticleRow:
    row = session.get(ArticleRow, article_id)
    if row is None:
        raise NotFound(f"article {article_id} does not exist")
    return row


def listing(session: Session, text: str | None = None, status: str | None = None) -> list[ArticleRow]:
    query = select(ArticleRow).order_by(ArticleRow.updated_at.desc(), ArticleRow.id)
    if status:
        query = query.where(ArticleRow.status == status)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(ArticleRow.title).like(pattern),
                func.lower(ArticleRow.body).like(pattern),
                ArticleRow.id.like(pattern),
            )
        )
    return list(session.scalars(query))


def _free_id(session: Session, title: str) -> str:
    """A valid id from the title that no article has; room is kept for a "-2", "-3"... suffix."""
    base = slugify(title, max_length=MAX_SLUG_LENGTH - 6)
    candidate, n = base, 1
    while session.get(ArticleRow, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create(session: Session, fields: dict[str, Any], by: str) -> ArticleRow:
    article_id = fields.get("id") or _free_id(session, str(fields.get("title") or ""))
    article = _validated({**fields, "id": article_id})
    if session.get(ArticleRow, article.id) is not None:
        raise Conflict(f"article {article.id} exists already")
    row = ArticleRow(id=article.id, version=1, updated_by=by, **_content(article))
    session.add(row)
    session.flush()
    _revise(
        session,
        row,
        "created",
        by,
        [name for name in CONTENT_FIELDS if getattr(row, name) not in (None, "", [])],
    )
    return row


def update(
    session: Session, article_id: str, fields: dict[str, Any], version: int, by: str, action: str = "updated"
) -> ArticleRow:
    row = get(session, article_id)
    if row.version != version:
        raise Conflict(
            f"article {article_id} changed since version {version} (now version {row.version}, "
            f"by {row.updated_by}); reload it and apply your edit again"
        )
    current = _content(to_article(row))
    article = _validated({"id": article_id, **current, **fields})
    new = _content(article)
    changed = [name for name in CONTENT_FIELDS if new[name] != current[name]]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, new[name])
    row.version += 1
    row.updated_at = utcnow()
    row.updated_by = by
    session.flush()
    _revise(session, row, action, by, changed)
    return row


def delete(session: Session, article_id: str, version: int | None, by: str) -> None:
    row = get(session, article_id)
    if version is not None and row.version != version:
        raise Conflict(f"article {article_id} changed since version {version} (now version {row.version})")
    row.version += 1
    _revise(session, row, "deleted", by, [])
    session.delete(row)
    session.flush()


def revisions(session: Session, article_id: str) -> list[ArticleRevision]:
    found = list(
        session.scalars(
            select(ArticleRevision)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.id)
        )
    )
    if not found:
        raise NotFound(f"article {article_id} has no history")
    return found


def restore(session: Session, article_id: str, revision_id: int, by: str) -> ArticleRow:
    revision = session.get(ArticleRevision, revision_id)
    if revision is None or revision.article_id != article_id:
        raise NotFound(f"article {article_id} has no revision {revision_id}")
    fields = {name: revision.snapshot.get(name) for name in CONTENT_FIELDS}
    row = session.get(ArticleRow, article_id)
    if row is None:
        last = session.scalar(
            select(func.max(ArticleRevision.version)).where(ArticleRevision.article_id == article_id)
        )
        article = _validated({"id": article_id, **fields})
        row = ArticleRow(id=article_id, version=(last or 0) + 1, updated_by=by, **_content(article))
        session.add(row)
        session.flush()
        _revise(session, row, "restored", by, list(CONTENT_FIELDS))
        return row
    return update(session, article_id, fields, row.version, by, action="restored")


def import_articles(
    session: Session, articles: Iterable[Article], by: str, done: Callable[[], None] | None = None
) -> tuple[int, int]:
    """Creates new articles and updates changed ones; returns (created, updated). `done` is called
    after each article (a progress bar)."""
    created = updated = 0
    for article in articles:
        if done is not None:
            done()
        row = session.get(ArticleRow, article.id)
        if row is None:
            create(session, {**_content(article), "id": article.id}, by)
            created += 1
        elif _content(to_article(row)) != _content(article):
            update(session, article.id, _content(article), row.version, by)
            updated += 1
    return created, updated


def import_fields(session: Session, fields: dict[str, Any], by: str) -> tuple[str, str]:
    """One article of a bulk import: created (an id is made from the title when none is given),
    updated when its id exists and the content differs, else left as it is. Returns (id, what)."""
    article_id = fields.get("id")
    row = session.get(ArticleRow, article_id) if article_id else None
    if row is None:
        return create(session, fields, by).id, "created"
    before = row.version
    update(
        session, row.id, {k: v for k, v in fields.items() if k != "id"}, row.version, by, action="imported"
    )
    return row.id, "updated" if row.version != before else "unchanged"


def latest_revision(session: Session) -> int:
    return session.scalar(select(func.max(ArticleRevision.id))) or 0


def changed_since(session: Session, revision_id: int) -> list[str]:
    """The articles changed after `revision_id`, each once, in the order of their last change."""
    last = func.max(ArticleRevision.id)
    return list(
        session.scalars(
            select(ArticleRevision.article_id)
            .where(ArticleRevision.id > revision_id)
            .group_by(ArticleRevision.article_id)
            .order_by(last)
        )
    )


def all_articles(session: Session) -> list[Article]:
    return [to_article(row) for row in session.scalars(select(ArticleRow).order_by(ArticleRow.id))]


def translations_of(session: Session, article_id: str) -> list[ArticleRow]:
    """The articles that name `article_id` as their original, by language."""
    return list(
        session.scalars(
            select(ArticleRow).where(ArticleRow.translation_of == article_id).order_by(ArticleRow.language)
        )
    )


def is_stale(translation: ArticleRow, original: ArticleRow) -> bool:
    """A translation older than its original: the original was saved after the translation was."""
    return original.updated_at > translation.updated_at
