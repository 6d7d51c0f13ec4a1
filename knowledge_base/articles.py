"""Knowledge-base articles: the model, and Markdown + YAML front matter import/export.

One article per file, ``<id>.md``::

    ---
    id: vpn-windows
    title: Connect to the company VPN on Windows
    category: network
    tags: [vpn, remote, windows]
    applies_to: [windows]
    audience: employees
    status: published
    summary: One or two sentences that answer directly.
    steps:
      - instruction: Open the VPN client.
        check: The window shows "Connected".
    ---
    Markdown body with `## ` sections.

``load_articles`` never lets one broken file take the others down: each problem becomes a
``LoadError`` naming the file and, where it can, the field.  ``dump_article`` writes a
canonical file that ``load_article`` reads back to an equal ``Article``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

__all__ = [
    "SLUG_PATTERN",
    "Article",
    "ArticleFileError",
    "ArticleStatus",
    "LoadError",
    "LoadResult",
    "Step",
    "dump_article",
    "export_articles",
    "load_article",
    "load_articles",
    "parse_article",
    "slugify",
]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG_RE = re.compile(SLUG_PATTERN)
MAX_SLUG_LENGTH = 100

ArticleStatus = Literal["draft", "published"]
ArticleLanguage = Literal["en", "de"]

# Order of the front-matter keys in exported files (the body is not front matter).
_FIELD_ORDER = (
    "id",
    "title",
    "category",
    "tags",
    "applies_to",
    "audience",
    "status",
    "summary",
    "steps",
    "language",
    "translation_of",
    "updated_at",
    "updated_by",
)


def _scalar_to_str(value: Any) -> Any:
    """YAML reads ``[windows, 11]`` as ``["windows", 11]``: accept numbers as text."""
    if isinstance(value, bool):
        return value  # let validation report it: "yes"/"no" turned into booleans is a mistake
    if isinstance(value, int | float):
        return str(value)
    return value


def _clean_str_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        # "tags: vpn, remote" written without brackets
        value = [part for part in value.split(",")]
    if isinstance(value, list | tuple):
        seen: dict[str, None] = {}
        out: list[Any] = []
        for item in value:
            item = _scalar_to_str(item)
            if isinstance(item, str):
                item = item.strip()
                if not item or item in seen:
                    continue
                seen[item] = None
            out.append(item)
        return out
    return value


def _to_datetime(value: Any) -> Any:
    """YAML reads ``2026-01-31`` as a date; an article keeps a timestamp (UTC when no zone)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic names the field
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return value


def _text_or_empty(value: Any) -> Any:
    return "" if value is None else _scalar_to_str(value)


def _strip_optional(value: Any) -> Any:
    value = _scalar_to_str(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


StrList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]], BeforeValidator(_clean_str_list)
]
OptionalText = Annotated[str | None, BeforeValidator(_strip_optional)]
Timestamp = Annotated[dt.datetime | None, BeforeValidator(_to_datetime)]


class Step(BaseModel):
    """One thing the customer does, and how they can tell it worked."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    instruction: Annotated[str, BeforeValidator(_scalar_to_str), Field(min_length=1)]
    check: OptionalText = None


class Article(BaseModel):
    """A knowledge-base article. Only ``published`` articles are searchable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=MAX_SLUG_LENGTH, pattern=SLUG_PATTERN)]
    title: Annotated[str, BeforeValidator(_scalar_to_str), Field(min_length=1, max_length=300)]
    body: str = ""
    category: Annotated[str, BeforeValidator(_text_or_empty)] = ""
    tags: StrList = Field(default_factory=list)
    applies_to: StrList = Field(default_factory=list)
    audience: OptionalText = None
    status: ArticleStatus = "draft"
    summary: OptionalText = None
    steps: list[Step] = Field(default_factory=list)
    # The article's language, and the article it translates (a German article names its English original;
    # the editor shows the pair side by side and marks a translation older than its original).
    language: ArticleLanguage = "en"
    translation_of: Annotated[str | None, Field(max_length=MAX_SLUG_LENGTH, pattern=SLUG_PATTERN)] = None
    updated_at: Timestamp = None
    updated_by: OptionalText = None

    @field_validator("title", "category", mode="after")
    @classmethod
    def _strip(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("title", mode="after")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("title must not be blank")
        return value

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            # Canonical body: no trailing spaces at line ends changes meaning in Markdown
            # (hard breaks), so keep lines as they are; only trim the ends of the whole text.
            return value.replace("\r\n", "\n").strip()
        return value

    @field_validator("tags", mode="after")
    @classmethod
    def _lower_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.lower() for tag in value))

    @property
    def published(self) -> bool:
        return self.status == "published"


_GERMAN_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """A valid article id from a title (``"Reset your password!"`` -> ``"reset-your-password"``),
    at most ``max_length`` long. German letters are spelt out (``"Drucker einrichten für Gäste"`` ->
    ``"drucker-einrichten-fuer-gaeste"``) and other accents dropped, so no word loses its letters."""
    spelt = unicodedata.normalize("NFKD", text.lower().translate(_GERMAN_LETTERS))
    ascii_text = spelt.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    # Cut, then strip again: a cut may end on a hyphen, which the id pattern refuses.
    return slug[:max_length].rstrip("-") or "article"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


class LoadError(BaseModel):
    """One problem in one file. ``field`` is a dotted path (``steps.0.instruction``) or None."""

    model_config = ConfigDict(frozen=True)

    path: Path
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else str(self.path)
        return f"{where}: {self.message}"


class LoadResult(BaseModel):
    """Articles that loaded (sorted by id) and errors for those that did not."""

    model_config = ConfigDict(frozen=True)

    articles: list[Article]
    errors: list[LoadError]

    @property
    def ok(self) -> bool:
        return not self.errors


class ArticleFileError(ValueError):
    """Raised by ``load_article``: carries every ``LoadError`` found in the file."""

    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


def _errors_from_validation(path: Path, exc: ValidationError) -> list[LoadError]:
    errors: list[LoadError] = []
    for item in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or None
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        errors.append(LoadError(path=path, field=loc, message=message))
    return errors


def parse_article(text: str, path: Path | str = "<text>") -> Article:
    """Parse one article from Markdown with YAML front matter.

    A missing ``id`` is taken from the file name; an ``id`` that differs from the file name
    is an error (export writes ``<id>.md``, so the two always agree).
    """
    path = Path(path)
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        # The front matter starts on the file's first line ('---'), so mark.line (0-based,
        # counted from that line's end) is the file's 1-based line number.
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ArticleFileError(
            [LoadError(path=path, field=None, message=f"front matter is not valid YAML{where}: {problem}")]
        ) from exc
    metadata = dict(post.metadata)
    if not metadata:
        if text.lstrip().startswith("---"):
            message = "front matter is empty or not a mapping of 'field: value' lines"
        else:
            message = "no YAML front matter (expected a block between '---' lines)"
        raise ArticleFileError([LoadError(path=path, field=None, message=message)])
    if "body" in metadata:
        raise ArticleFileError(
            [
                LoadError(
                    path=path,
                    field="body",
                    message="the body is the Markdown after the front matter, not a field",
                )
            ]
        )
    stem = path.stem if path.suffix == ".md" else None
    if "id" not in metadata and stem is not None:
        metadata["id"] = stem
    try:
        article = Article.model_validate({**metadata, "body": post.content})
    except ValidationError as exc:
        raise ArticleFileError(_errors_from_validation(path, exc)) from exc
    if stem is not None and article.id != stem:
        raise ArticleFileError(
            [
                LoadError(
                    path=path,
                    field="id",
                    message=f"id {article.id!r} does not match the file name {path.name!r}",
                )
            ]
        )
    return article


def load_article(path: Path | str) -> Article:
    """Load one article file; raises ``ArticleFileError`` (with ``.errors``) when it is broken."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArticleFileError([LoadError(path=path, field=None, message=f"cannot read: {exc}")]) from exc
    return parse_article(text, path)


def load_articles(directory: Path | str) -> LoadResult:
    """Load every ``*.md`` file of ``directory`` (not recursive). Never raises for a bad file."""
    directory = Path(directory)
    if not directory.is_dir():
        return LoadResult(
            articles=[], errors=[LoadError(path=directory, field=None, message="not a directory")]
        )
    articles: dict[str, Article] = {}
    errors: list[LoadError] = []
    for path in sorted(directory.glob("*.md")):
        if not path.is_file():
            continue
        try:
            article = load_article(path)
        except ArticleFileError as exc:
            errors.extend(exc.errors)
            continue
        if article.id in articles:  # cannot happen with <id>.md names, kept for safety
            errors.append(LoadError(path=path, field="id", message=f"duplicate id {article.id!r}"))
            continue
        articles[article.id] = article
    return LoadResult(articles=[articles[key] for key in sorted(articles)], errors=errors)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Front matter as people write it: lists indented under their key, one line per value,
    block style for multi-line text, flow style for tags."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


class _FlowList(list[str]):
    pass


def _represent_flow_list(dumper: yaml.SafeDumper, value: _FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_FlowList, _represent_flow_list)


def _front_matter(article: Article) -> dict[str, Any]:
    data = article.model_dump(mode="json", exclude={"body"})
    meta: dict[str, Any] = {}
    for key in _FIELD_ORDER:
        value = data.get(key)
        if key in ("tags", "applies_to"):
            meta[key] = _FlowList(value or [])
            continue
        if (
            value is None
            or value == []
            or (key == "category" and value == "")
            or (key == "language" and value == "en")
        ):
            continue
        if key == "steps":
            value = [{k: v for k, v in step.items() if v is not None} for step in value]
        meta[key] = value
    return meta


def dump_article(article: Article) -> str:
    """The article as Markdown with YAML front matter; ``parse_article`` reads it back equal."""
    handler = YAMLHandler()
    meta = handler.export(
        _front_matter(article), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000
    )
    delimiter = handler.START_DELIMITER
    return (
        f"{delimiter}\n{meta}\n{delimiter}\n{article.body}\n"
        if article.body
        else f"{delimiter}\n{meta}\n{delimiter}\n"
    )


def export_articles(articles: Iterable[Article], directory: Path | str) -> list[Path]:
    """Write each article to ``directory/<id>.md`` (atomically per file); returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for article in articles:
        path = directory / f"{article.id}.md"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(dump_article(article), encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
