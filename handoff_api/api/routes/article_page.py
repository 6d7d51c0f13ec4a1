"""`/kb/{id}`: the published article as a page of its own, where the bot's links send customers.

One self-contained page: its style is inline (allowed by its hash in the Content-Security-Policy), nothing is
loaded from elsewhere and no script runs. Everything an editor wrote is escaped before any markup is added.
"""

import base64
import hashlib
import html
import re
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from handoff_api.core.errors import NotFound
from handoff_api.models import ArticleRow

router = APIRouter(include_in_schema=False)
# The page's own words, in the article's language (English when it has another).
WORDS = {
    "en": {
        "desk": "IT help desk",
        "back": "Back",
        "steps": "Steps",
        "check": "When it worked:",
        "updated": "Updated",
    },
    "de": {
        "desk": "IT-Service-Desk",
        "back": "Zurück",
        "steps": "Schritte",
        "check": "Wenn es geklappt hat:",
        "updated": "Aktualisiert am",
    },
}
STYLE = """
:root { color-scheme: light; font: 17px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #111827; background: #f3f4f6; }
* { box-sizing: border-box; }
body { margin: 0; }
.site { background: #1d4ed8; color: #fff; }
.site .bar { display: flex; align-items: center; gap: 16px; max-width: 46rem; margin: 0 auto;
  padding: 10px 32px; }
.site .desk { margin: 0; font-weight: 700; font-size: 18px; }
.back { display: inline-flex; align-items: center; min-height: 44px; padding: 0 14px; border-radius: 8px;
  background: #fff; color: #1d4ed8; font-weight: 600; text-decoration: none; }
.back:hover { background: #dbeafe; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
main { max-width: 46rem; margin: 24px auto; padding: 28px 32px; background: #fff; border-radius: 12px;
  box-shadow: 0 2px 12px rgb(0 0 0 / 0.06); overflow-wrap: anywhere; }
h1 { margin: 0 0 12px; font-size: 30px; line-height: 1.2; }
h2 { margin: 28px 0 8px; font-size: 22px; line-height: 1.25; }
h3, h4 { margin: 22px 0 6px; font-size: 18px; line-height: 1.3; }
p, ul, ol { margin: 0 0 12px; }
li { margin: 4px 0; }
.summary { padding: 12px 16px; border-left: 4px solid #1d4ed8; background: #eff6ff; font-size: 18px; }
.steps { padding-left: 1.6em; }
.steps li { margin: 10px 0; padding-left: 4px; }
.steps p { margin: 0; }
.steps .check { margin-top: 2px; color: #374151; font-size: 15px; }
.steps .check span { font-weight: 600; color: #065f46; }
code { padding: 1px 5px; border-radius: 4px; background: #f3f4f6; font: 0.9em ui-monospace, monospace; }
.updated { margin: 28px 0 0; color: #4b5563; font-size: 14px; }
@media (max-width: 600px) {
  :root { font-size: 16px; }
  main { margin: 0; padding: 20px 16px; border-radius: 0; box-shadow: none; }
  .site .bar { padding: 8px 16px; }
  h1 { font-size: 25px; }
}
@media print { .back { display: none; } .site { background: none; color: #000; } main { box-shadow: none; } }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
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


def _came_from(request: Request) -> str | None:
    """The page that linked here (the page with the chat, when the customer came from the widget), for
    the Back link: the article opens in a tab of its own, where the browser's Back has nowhere to go."""
    referrer = request.headers.get("referer", "")
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if parts.netloc == request.url.netloc and parts.path == request.url.path:
        return None  # this very page, reloaded
    return referrer


def _steps(steps: list[dict[str, str]], words: dict[str, str]) -> str:
    items = "".join(
        f"<li><p>{_inline(step.get('instruction', ''))}</p>"
        + (
            f"<p class='check'><span>{words['check']}</span> {_inline(step['check'])}</p>"
            if step.get("check")
            else ""
        )
        + "</li>"
        for step in steps
    )
    return (
        f"<section aria-labelledby='steps'><h2 id='steps'>{words['steps']}</h2>"
        f"<ol class='steps'>{items}</ol></section>"
    )


@router.get("/kb/{article_id}", response_class=HTMLResponse)
def article_page(article_id: str, request: Request) -> HTMLResponse:
    factory = request.app.state.read_sessions
    with factory() as session:
        assert isinstance(session, Session)
        row = session.get(ArticleRow, article_id)
        if row is None or row.status != "published":
            raise NotFound(f"article {article_id} does not exist")
        title = html.escape(row.title)
        back = _came_from(request)
        language = row.language if row.language in WORDS else "en"
        words = WORDS[language]
        page = (
            f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title} · {words['desk']}</title><link rel='icon' href='/web/favicon.svg'>"
            f"<style>{STYLE}</style></head><body>"
            "<header class='site'><div class='bar'>"
            + (
                f"<a class='back' href='{html.escape(back, quote=True)}'>"
                f"<span aria-hidden='true'>←&nbsp;</span>{words['back']}</a>"
                if back
                else ""
            )
            + f"<p class='desk'>{words['desk']}</p></div></header><main class='article'><h1>{title}</h1>"
            + (f"<p class='summary'>{_inline(row.summary)}</p>" if row.summary else "")
            + (_steps(row.steps, words) if row.steps else "")
            + markdown_to_html(row.body)
            + f"<p class='updated'>{words['updated']} {row.updated_at:%Y-%m-%d}</p></main></body></html>"
        )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
