"""What the knowledge-base API accepts and returns."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff_api.core.fields import Text, UtcDatetime

Title = Annotated[Text, Field(min_length=1, max_length=300)]
Body = Annotated[Text, Field(max_length=100_000)]
Words = Annotated[list[Annotated[Text, Field(min_length=1, max_length=100)]], Field(max_length=50)]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: Annotated[Text, Field(min_length=1, max_length=2000)]
    check: Annotated[Text | None, Field(max_length=2000)] = None


class ArticleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[Text, Field(max_length=100)] = ""
    tags: Words = Field(default_factory=list)
    applies_to: Words = Field(default_factory=list)
    audience: Annotated[Text | None, Field(max_length=50)] = None
    status: Literal["draft", "published"] = "draft"
    summary: Annotated[Text | None, Field(max_length=2000)] = None
    steps: Annotated[list[StepIn], Field(max_length=50)] = Field(default_factory=list)
    language: Literal["en", "de"] = "en"
    translation_of: Annotated[str | None, Field(max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")] = None


class ArticleCreate(ArticleFields):
    id: Annotated[str | None, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")] = (
        None
    )
    title: Title
    body: Body


MAX_IMPORT = 2000


class ArticleImport(BaseModel):
    """Many articles at once: each created, or updated when its `id` exists (a revision each)."""

    model_config = ConfigDict(extra="forbid")

    articles: Annotated[list[ArticleCreate], Field(min_length=1, max_length=MAX_IMPORT)]


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    ids: list[str] = Field(description="the articles' ids, in the order sent")
    revision: int = Field(
        description="the knowledge base's revision after the import: every article is searchable once "
        "`GET /api/v1/kb/index` reports `indexed_revision` at least this"
    )


class IndexOut(BaseModel):
    """What this worker's search index holds; new and changed articles are embedded in the background
    and searches answer from the index as it is meanwhile."""

    indexed_revision: int = Field(description="the last article revision searches answer from")
    latest_revision: int = Field(description="the last article revision stored")
    pending: int = Field(description="articles of the change being indexed that are not searchable yet")
    up_to_date: bool
    indexing: bool = Field(description="whether changes are being embedded and indexed now")
    articles: int = Field(description="published articles searchable")
    sections: int


class ArticleUpdate(BaseModel):
    """A partial or full edit; `version` is the version the editor started from."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    title: Title | None = None
    body: Body | None = None
    category: Annotated[Text | None, Field(max_length=100)] = None
    tags: Words | None = None
    applies_to: Words | None = None
    audience: Annotated[Text | None, Field(max_length=50)] = None
    status: Literal["draft", "published"] | None = None
    summary: Annotated[Text | None, Field(max_length=2000)] = None
    steps: Annotated[list[StepIn] | None, Field(max_length=50)] = None
    language: Literal["en", "de"] | None = None
    translation_of: Annotated[str | None, Field(max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")] = None


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    category: str | None
    tags: list[str]
    applies_to: list[str]
    audience: str | None
    status: str
    summary: str | None
    steps: list[dict[str, Any]]
    language: str = "en"
    translation_of: str | None = None
    version: int
    updated_at: UtcDatetime
    updated_by: str | None
    url: str


class PairedArticle(BaseModel):
    """The other side of a translation pair, as the editor shows it beside the article."""

    id: str
    title: str
    body: str
    language: str
    status: str
    updated_at: UtcDatetime
    # A translation older than its original (the original changed after the translation was last saved).
    stale: bool


class ArticlePairOut(BaseModel):
    """An article with its translation pair: its original (when it is a translation) or its translations."""

    article: ArticleOut
    stale: bool = Field(description="this article is a translation older than its original")
    original: PairedArticle | None = None
    translations: list[PairedArticle] = Field(default_factory=list)


class ArticleSummaryOut(BaseModel):
    id: str
    title: str
    category: str | None
    language: str = "en"
    translation_of: str | None = None
    status: str
    version: int
    updated_at: UtcDatetime
    updated_by: str | None


class RevisionOut(BaseModel):
    id: int
    article_id: str
    version: int
    action: str
    changed_fields: list[str]
    at: UtcDatetime
    by: str
    snapshot: dict[str, Any]


Language = Literal["en", "de"]


class SearchHit(BaseModel):
    article_id: str
    title: str
    score: float
    snippet: str
    section: str
    url: str
    summary: str | None
    has_steps: bool
    language: Language = Field(description="the article's language")


class SearchOut(BaseModel):
    results: list[SearchHit]
    abstain: bool = Field(description="true when nothing answers the question well enough to show a customer")
    language: Language | None = Field(
        default=None,
        description="the language of the results when one was asked for (null: all ranked together)",
    )
    fallback: bool = Field(
        default=False,
        description="true when nothing in the asked language answered and the results are in the other one",
    )


class GapGroup(BaseModel):
    example: str
    count: int
    questions: list[str]
    last_asked: UtcDatetime


class GapHandoff(BaseModel):
    handoff_id: int
    number: str
    summary: str | None
    reason: str
    articles_tried: list[Any]


class GapsOut(BaseModel):
    unanswered: list[GapGroup]
    handoffs_without_help: list[GapHandoff]


class DraftFromGap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=1000)]], Field(min_length=1, max_length=50)
    ]
    title: Title | None = None
