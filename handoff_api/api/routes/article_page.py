"""`/kb/{id}`: the published article as a plain page, where the bot's links send customers."""

import html
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from handoff_api.core.errors import NotFound
from handoff_api.models import ArticleRow

router = APIRouter(include_in_schema=False)
PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def _inline(text: str) -> str:
    escaped = html.escape(text)
    for pattern, replacement in _INLINE:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def markdown_to_html(body: str) -> str:
    """Headings, lists, paragraphs, bold and code; everything else stays text (escaped first)."""
    out: list[str] = []
    list_tag: str | None = None
    for block in re.split(r"\n\s*\n", body.strip()):
        for line in block.splitlines():
            stripped = line.strip()
            item = re.match(r"^(?:[-*]|(\d+)\.)\s+(.*)$", stripped)
            if item:
                tag = "ol" if item.group(1) else "ul"
                if list_tag != tag:
                    if list_tag:
                        out.append(f"</{list_tag}>")
                    out.append(f"<{tag}>")
                    list_tag = tag
                out.append(f"<li>{_inline(item.group(2))}</li>")
                continue
            if list_tag:
                out.append(f"</{list_tag}>")
                list_tag = None
            heading = re.match(r"^(#{1,4})\s+(.*)$", stripped)
            if heading:
                level = min(len(heading.group(1)) + 1, 4)
                out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            elif stripped and not stripped.startswith("<!--"):
                out.append(f"<p>{_inline(stripped)}</p>")
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None
    return "\n".join(out)


@router.get("/kb/{article_id}", response_class=HTMLResponse)
def article_page(article_id: str, request: Request) -> HTMLResponse:
    factory = request.app.state.read_sessions
    with factory() as session:
        assert isinstance(session, Session)
        row = session.get(ArticleRow, article_id)
        if row is None or row.status != "published":
            raise NotFound(f"article {article_id} does not exist")
        steps = "".join(
            f"<li>{_inline(step.get('instruction', ''))}"
            + (f"<br><small>{_inline(step['check'])}</small>" if step.get("check") else "")
            + "</li>"
            for step in row.steps
        )
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(row.title)}</title><link rel='stylesheet' href='/web/app.css'></head>"
            f"<body><main class='article'><h1>{html.escape(row.title)}</h1>"
            + (f"<p class='summary'>{_inline(row.summary)}</p>" if row.summary else "")
            + (f"<h2>Steps</h2><ol>{steps}</ol>" if steps else "")
            + markdown_to_html(row.body)
            + f"<p><small>Updated {row.updated_at:%Y-%m-%d}</small></p></main></body></html>"
        )
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})
