"""Split an article into searchable sections.

* the lead section: title, summary, the body text before the first ``## `` heading, and the
  tags (indexed, not shown in snippets);
* one section per ``## `` heading of the body (``###`` and deeper stay inside their ``##``);
  a long section is cut at paragraph boundaries into parts of at most ``MAX_SECTION_WORDS``
  words, because the embedding model reads only the first 256 word pieces of a text;
* the steps (instruction and check of each), when the article has any.

Every indexed text starts with the article title so that a section read alone still says what
it is about.  ``Section.content_hash`` is sha256 of the embedding model name and the indexed
text: the key of the embedding cache (a changed title, text or model means a new embedding).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from knowledge_base.articles import Article

__all__ = [
    "MAX_SECTION_WORDS",
    "Section",
    "SectionKind",
    "content_hash",
    "make_snippet",
    "markdown_to_text",
    "split_sections",
]

SectionKind = Literal["lead", "body", "steps"]

# all-MiniLM-L6-v2 truncates at 256 word pieces (~180 English words); keep parts below that.
MAX_SECTION_WORDS = 160
SNIPPET_CHARS = 240

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_H2_RE = re.compile(r"^##\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class Section:
    """One searchable unit of an article."""

    article_id: str
    position: int  # 0-based order within the article
    kind: SectionKind
    heading: str  # the title (lead), the ``## `` heading text (body) or "Steps"
    text: str  # what is indexed and embedded (starts with the article title)
    content: str  # the section's own text without the title, for snippets
    content_hash: str

    @property
    def key(self) -> str:
        return f"{self.article_id}#{self.position}"


def content_hash(model_name: str, text: str) -> str:
    """Stable cache key of an embedding: sha256 of the model name and the text."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()


_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_REF_LINK_RE = re.compile(r"!?\[([^\]]*)\]\[[^\]]*\]")
_AUTOLINK_RE = re.compile(r"<(https?://[^>]+)>")
_HTML_RE = re.compile(r"</?[a-zA-Z][^>]*>")
_EMPH_RE = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_CODE_RE = re.compile(r"`([^`]*)`")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+")
_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE_RE = re.compile(r"^\s*>\s?")
_TABLE_RULE_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HRULE_RE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def markdown_to_text(markdown: str) -> str:
    """Plain text of Markdown: markup removed, one line per block line, blank lines kept."""
    lines: list[str] = []
    for raw in markdown.splitlines():
        if _FENCE_RE.match(raw) or _TABLE_RULE_RE.match(raw) or _HRULE_RE.match(raw):
            continue
        line = _HEADING_RE.sub("", raw)
        line = _QUOTE_RE.sub("", line)
        line = _LIST_RE.sub("", line)
        line = _LINK_RE.sub(r"\1", line)
        line = _REF_LINK_RE.sub(r"\1", line)
        line = _AUTOLINK_RE.sub(r"\1", line)
        line = _HTML_RE.sub("", line)
        line = _CODE_RE.sub(r"\1", line)
        line = _EMPH_RE.sub(r"\2", line)
        if "|" in line and line.strip().startswith("|"):
            line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        lines.append(line.strip())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def make_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of ``text`` on one line, cut at a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _split_h2(body: str) -> tuple[str, list[tuple[str, str]]]:
    """(text before the first ``## ``, [(heading, markdown), ...]); ignores ``##`` in code."""
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in body.splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _H2_RE.match(line)
        if match:
            sections.append((match.group(1).strip(), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            intro.append(line)
    return "\n".join(intro), [(heading, "\n".join(lines)) for heading, lines in sections]


def _chunks(text: str, max_words: int = MAX_SECTION_WORDS) -> list[str]:
    """Cut plain text at paragraph (then line) boundaries into parts of <= max_words words."""
    if len(text.split()) <= max_words:
        return [text] if text.strip() else []
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if len(paragraph.split()) <= max_words:
            units.append(paragraph)
            continue
        # a very long paragraph: by lines, then by words
        for line in paragraph.splitlines():
            words = line.split()
            for start in range(0, len(words), max_words):
                units.append(" ".join(words[start : start + max_words]))
    parts: list[str] = []
    current: list[str] = []
    count = 0
    for unit in units:
        n = len(unit.split())
        if n == 0:
            continue
        if current and count + n > max_words:
            parts.append("\n\n".join(current))
            current, count = [], 0
        current.append(unit)
        count += n
    if current:
        parts.append("\n\n".join(current))
    return parts


def split_sections(article: Article, model_name: str) -> list[Section]:
    """The article's sections in reading order, each with its embedding-cache hash."""
    title = article.title
    intro_md, body_sections = _split_h2(article.body)

    raw: list[tuple[SectionKind, str, str]] = []  # (kind, heading, content)
    lead = "\n\n".join(part for part in (article.summary, markdown_to_text(intro_md)) if part)
    tags = ("Tags: " + ", ".join(article.tags)) if article.tags else ""
    # the lead section is never cut: the title + summary is what answers directly
    raw.append(("lead", title, lead))

    for heading, markdown in body_sections:
        text = markdown_to_text(markdown)
        heading_text = markdown_to_text(heading)
        parts = _chunks(text) or ([""] if heading_text else [])
        for part in parts:
            raw.append(("body", heading_text, part))

    if article.steps:
        lines: list[str] = []
        for number, step in enumerate(article.steps, start=1):
            line = f"{number}. {markdown_to_text(step.instruction)}"
            if step.check:
                line += f" Check: {markdown_to_text(step.check)}"
            lines.append(line)
        for part in _chunks("\n".join(lines)):
            raw.append(("steps", "Steps", part))

    sections: list[Section] = []
    for position, (kind, heading, content) in enumerate(raw):
        if kind == "lead":
            text = "\n".join(part for part in (title, content, tags) if part)
        else:
            text = f"{title}: {heading}\n{content}" if content else f"{title}: {heading}"
        sections.append(
            Section(
                article_id=article.id,
                position=position,
                kind=kind,
                heading=heading,
                text=text,
                content=content,
                content_hash=content_hash(model_name, text),
            )
        )
    return sections
