"""The knowledge base: search for the bot and agents, articles and their history for editors."""

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from helpdesk_text.redaction import mask_personal
from helpdesk_text.storable import storable
from starlette.concurrency import run_in_threadpool

from handoff_api.api import links
from handoff_api.api.deps import SessionDep, SettingsDep, check_tier, require_roles
from handoff_api.core.errors import Conflict, Invalid, NotFound, Unavailable
from handoff_api.handoffs import service as handoffs
from handoff_api.kb import gaps as kb_gaps
from handoff_api.kb import schemas
from handoff_api.kb import store as kb_store
from handoff_api.kb.index import KnowledgeIndex
from handoff_api.models import ArticleRevision, ArticleRow, KbQuery, User
from handoff_api.models.vocabulary import AGENT_ROLES

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])

Searcher = Annotated[User, Depends(require_roles("bot", "editor", *AGENT_ROLES))]
Reader = Annotated[User, Depends(require_roles("bot", "editor", *AGENT_ROLES))]
Editor = Annotated[User, Depends(require_roles("editor"))]
READY_WAIT_SECONDS = 20.0


def article_url(settings: SettingsDep, article_id: str) -> str:
    return f"{settings.public_url}/kb/{article_id}"


def _out(row: ArticleRow, settings: SettingsDep) -> schemas.ArticleOut:
    return schemas.ArticleOut(
        id=row.id,
        title=row.title,
        body=row.body,
        category=row.category or None,
        tags=row.tags,
        applies_to=row.applies_to,
        audience=row.audience,
        status=row.status,
        summary=row.summary,
        steps=row.steps,
        language=row.language,
        translation_of=row.translation_of,
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        url=article_url(settings, row.id),
    )


async def _ready_index(request: Request) -> KnowledgeIndex:
    knowledge: KnowledgeIndex = request.app.state.knowledge
    if not knowledge.ready.is_set():
        if not request.app.state.settings.helpdesk_kb_warm_start:
            await run_in_threadpool(knowledge.refresh)
        if not await run_in_threadpool(knowledge.ready.wait, READY_WAIT_SECONDS):
            raise Unavailable("the knowledge base is still loading; retry in a few seconds")
    return knowledge


@router.get("/search", response_model=schemas.SearchOut)
async def search(
    request: Request,
    user: Searcher,
    settings: SettingsDep,
    q: Annotated[
        str, Query(min_length=1, max_length=1000, description="the question, in the customer's words")
    ],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    language: Annotated[
        schemas.Language | None,
        Query(
            description="the customer's language: only articles in it are ranked; when none answers, the "
            "articles in the other language are (the response says so with `fallback`). Omitted: every "
            "article is ranked together"
        ),
    ] = None,
) -> schemas.SearchOut:
    knowledge = await _ready_index(request)
    found = await run_in_threadpool(knowledge.search, q, k, language)
    hits = []
    for result in found.results:
        article = knowledge.index.get(result.article_id)
        hits.append(
            schemas.SearchHit(
                article_id=result.article_id,
                title=result.title,
                score=round(result.score, 4),
                snippet=result.snippet,
                section=result.section,
                url=article_url(settings, result.article_id),
                summary=article.summary if article else None,
                has_steps=bool(article and article.steps),
                language=result.language,
            )
        )
    if user.role == "bot":
        top = found.results[0] if found.results else None
        gate = request.app.state.write_gate or contextlib.nullcontext()
        async with gate:
            await run_in_threadpool(
                _log_query,
                request,
                q,
                found.abstain,
                top.article_id if top else None,
                top.score if top else None,
            )
    return schemas.SearchOut(
        results=hits, abstain=found.abstain, language=found.language, fallback=found.fallback
    )


def _log_query(
    request: Request, text: str, abstained: bool, article_id: str | None, score: float | None
) -> None:
    with request.app.state.sessions() as session, session.begin():
        session.add(
            KbQuery(
                text=storable(text),
                abstained=abstained,
                top_article_id=article_id,
                top_score=score,
                asked_by="bot",
            )
        )


@router.get("/articles", response_model=list[schemas.ArticleSummaryOut])
def list_articles(
    session: SessionDep,
    _user: Annotated[User, Depends(require_roles("editor", *AGENT_ROLES))],
    q: Annotated[str | None, Query(max_length=200)] = None,
    status_filter: Annotated[str | None, Query(alias="status", pattern="^(draft|published)$")] = None,
) -> list[schemas.ArticleSummaryOut]:
    return [
        schemas.ArticleSummaryOut(
            id=row.id,
            title=row.title,
            category=row.category or None,
            language=row.language,
            translation_of=row.translation_of,
            status=row.status,
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )
        for row in kb_store.listing(session, q, status_filter)
    ]


@router.post(
    "/articles",
    response_model=schemas.ArticleOut,
    status_code=status.HTTP_201_CREATED,
    responses=links.responses(201, links.FROM_ARTICLE),
)
def create_article(
    body: schemas.ArticleCreate, session: SessionDep, editor: Editor, settings: SettingsDep, request: Request
) -> schemas.ArticleOut:
    row = kb_store.create(session, body.model_dump(mode="json"), editor.name)
    return _out(row, settings)


@router.post("/articles/import", response_model=schemas.ImportOut)
def import_articles(body: schemas.ArticleImport, session: SessionDep, editor: Editor) -> schemas.ImportOut:
    """Creates or updates many articles in one transaction (all or none). Searches go on answering
    from the index as it is while the new text is embedded; `GET /api/v1/kb/index` shows progress."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    ids: list[str] = []
    for position, article in enumerate(body.articles):
        fields = article.model_dump(mode="json")
        if fields.get("id") and fields["id"] in ids:
            raise Invalid(f"articles.{position}.id: {fields['id']} is sent twice")
        article_id, what = kb_store.import_fields(session, fields, editor.name)
        counts[what] += 1
        ids.append(article_id)
    session.flush()
    return schemas.ImportOut(**counts, ids=ids, revision=kb_store.latest_revision(session))


@router.get("/index", response_model=schemas.IndexOut)
def index_status(request: Request, session: SessionDep, _user: Reader) -> schemas.IndexOut:
    knowledge: KnowledgeIndex = request.app.state.knowledge
    latest = kb_store.latest_revision(session)
    indexed = knowledge.indexed_revision
    return schemas.IndexOut(
        indexed_revision=indexed,
        latest_revision=latest,
        pending=0
        if indexed >= latest
        else knowledge.pending
        if knowledge.refreshing
        else len(kb_store.changed_since(session, indexed)),
        up_to_date=indexed >= latest,
        indexing=knowledge.refreshing,
        articles=len(knowledge.index),
        sections=knowledge.index.section_count,
    )


@router.get("/articles/{article_id}", response_model=schemas.ArticleOut)
def read_article(
    article_id: str, session: SessionDep, user: Reader, settings: SettingsDep
) -> schemas.ArticleOut:
    row = kb_store.get(session, article_id)
    if row.status != "published" and user.role not in ("editor", "lead"):
        raise NotFound(f"article {article_id} does not exist")
    return _out(row, settings)


@router.get("/articles/{article_id}/pair", response_model=schemas.ArticlePairOut)
def read_pair(
    article_id: str,
    session: SessionDep,
    _user: Annotated[User, Depends(require_roles("editor", "lead"))],
    settings: SettingsDep,
) -> schemas.ArticlePairOut:
    """The article beside its translation pair, for the editor: its original, or its translations, each
    marked when the translation is older than its original."""
    row = kb_store.get(session, article_id)

    def paired(other: ArticleRow, stale: bool) -> schemas.PairedArticle:
        return schemas.PairedArticle(
            id=other.id,
            title=other.title,
            body=other.body,
            language=other.language,
            status=other.status,
            updated_at=other.updated_at,
            stale=stale,
        )

    original = session.get(ArticleRow, row.translation_of) if row.translation_of else None
    stale = original is not None and kb_store.is_stale(row, original)
    return schemas.ArticlePairOut(
        article=_out(row, settings),
        stale=stale,
        # The mark belongs to the translation: the original is never "older than its original".
        original=paired(original, False) if original is not None else None,
        translations=[
            paired(t, kb_store.is_stale(t, row)) for t in kb_store.translations_of(session, row.id)
        ],
    )


@router.put(
    "/articles/{article_id}",
    response_model=schemas.ArticleOut,
    responses=links.responses(200, links.FROM_ARTICLE),
)
def update_article(
    article_id: str, body: schemas.ArticleUpdate, session: SessionDep, editor: Editor, settings: SettingsDep
) -> schemas.ArticleOut:
    fields = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    row = kb_store.update(session, article_id, fields, body.version, editor.name)
    return _out(row, settings)


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_article(
    article_id: str,
    session: SessionDep,
    editor: Editor,
    version: Annotated[
        int | None, Query(ge=1, description="the version being deleted; stale gets 409")
    ] = None,
) -> Response:
    kb_store.delete(session, article_id, version, editor.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/articles/{article_id}/revisions", response_model=list[schemas.RevisionOut])
def list_revisions(article_id: str, session: SessionDep, _editor: Editor) -> list[schemas.RevisionOut]:
    return [_revision_out(r) for r in kb_store.revisions(session, article_id)]


@router.post("/articles/{article_id}/revisions/{revision_id}/restore", response_model=schemas.ArticleOut)
def restore_revision(
    article_id: str, revision_id: int, session: SessionDep, editor: Editor, settings: SettingsDep
) -> schemas.ArticleOut:
    return _out(kb_store.restore(session, article_id, revision_id, editor.name), settings)


def _revision_out(revision: ArticleRevision) -> schemas.RevisionOut:
    return schemas.RevisionOut(
        id=revision.id,
        article_id=revision.article_id,
        version=revision.version,
        action=revision.action,
        changed_fields=revision.changed_fields,
        at=revision.at,
        by=revision.by,
        snapshot=revision.snapshot,
    )


GapReader = Annotated[User, Depends(require_roles("editor", "lead"))]


@router.get("/gaps", response_model=schemas.GapsOut)
async def knowledge_gaps(
    request: Request, _user: GapReader, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> schemas.GapsOut:
    """Unanswered questions grouped by meaning, and handoffs no article helped."""
    knowledge: KnowledgeIndex = request.app.state.knowledge

    def collect() -> schemas.GapsOut:
        with request.app.state.read_sessions() as session:
            groups = kb_gaps.unanswered_groups(session, knowledge.index.embedder, days)
            handoffs = kb_gaps.handoffs_without_help(session, days)
            # Editors need what customers asked, not who asked: addresses, phone numbers, codes masked.
            return schemas.GapsOut(
                unanswered=[
                    schemas.GapGroup(
                        example=mask_personal(g["example"]),
                        count=g["count"],
                        questions=list(dict.fromkeys(mask_personal(q) for q in g["questions"])),
                        last_asked=g["last_asked"],
                    )
                    for g in groups
                ],
                handoffs_without_help=[
                    schemas.GapHandoff(
                        handoff_id=h.id,
                        number=h.number,
                        summary=mask_personal(h.summary) if h.summary else h.summary,
                        reason=h.reason,
                        articles_tried=h.context.get("kb_articles_tried") or [],
                    )
                    for h in handoffs
                ],
            )

    return await run_in_threadpool(collect)


@router.post("/gaps/draft", response_model=schemas.ArticleOut, status_code=status.HTTP_201_CREATED)
def draft_from_gap(
    body: schemas.DraftFromGap, session: SessionDep, editor: Editor, settings: SettingsDep
) -> schemas.ArticleOut:
    fields = kb_gaps.draft_from_questions(body.questions)
    if body.title:
        fields["title"] = body.title
    return _out(kb_store.create(session, fields, editor.name), settings)


@router.post(
    "/drafts/from-handoff/{handoff_id}",
    response_model=schemas.ArticleOut,
    status_code=status.HTTP_201_CREATED,
)
def draft_from_resolution(
    handoff_id: int,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*AGENT_ROLES))],
    settings: SettingsDep,
) -> schemas.ArticleOut:
    """An agent's resolution becomes a draft article for the editors. Only agents who may see the
    handoff: the draft copies what the customer wrote, which editors see only masked (the gaps view)."""
    handoff = handoffs.get(session, handoff_id)
    check_tier(user, handoff)
    if handoff.status != "resolved":
        raise Conflict(
            f"handoff {handoff.number} is not resolved yet; its resolution is what the draft is made of"
        )
    return _out(kb_store.create(session, kb_gaps.draft_from_handoff(handoff), user.name), settings)
