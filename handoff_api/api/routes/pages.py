"""The web pages: the embeddable chat widget, the agent console, the knowledge editor and a demo host page.

Plain HTML, CSS and JavaScript modules from `handoff_api/web/`; nothing is built and nothing is fetched
from elsewhere at run time.
"""

import html
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from handoff_api.core.errors import NotFound

router = APIRouter(include_in_schema=False)
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The pages talk only to this service; no inline script or style, so injected markup cannot run.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
NO_CACHE = "no-cache"


def _asset(path: Path, *, shared: bool) -> FileResponse:
    headers = {"Cache-Control": NO_CACHE, "X-Content-Type-Options": "nosniff"}
    if shared:
        # The widget is embedded on other sites, which load its modules cross-origin.
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return FileResponse(
        path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=headers
    )


def _page(name: str, csp: str = PAGE_CSP) -> FileResponse:
    return FileResponse(
        WEB_DIR / name,
        media_type=MEDIA_TYPES[".html"],
        headers={
            "Cache-Control": NO_CACHE,
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@router.get("/widget.js")
def widget_script() -> FileResponse:
    return _asset(WEB_DIR / "widget.js", shared=True)


@router.get("/web/{asset_path:path}")
def web_asset(asset_path: str) -> FileResponse:
    target = (WEB_DIR / asset_path).resolve()
    # Pages (.html) are served only by their own routes, with their security headers.
    servable = target.suffix in MEDIA_TYPES and target.suffix != ".html"
    if not target.is_relative_to(WEB_DIR) or not target.is_file() or not servable:
        raise NotFound(f"no such file: {asset_path}")
    return _asset(target, shared=True)


@router.get("/console")
def console_page() -> FileResponse:
    return _page("console.html")


@router.get("/editor")
def editor_page() -> FileResponse:
    return _page("editor.html")


def _origins(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {ws}://{parts.netloc}"


@router.get("/demo")
def demo_page(request: Request) -> Response:
    """A sample host page with the widget, talking to the Rasa server this service is configured with."""
    rasa_url = str(request.app.state.settings.rasa_url).rstrip("/")
    body = (WEB_DIR / "demo.html").read_text().replace("{{rasa_url}}", html.escape(rasa_url, quote=True))
    csp = PAGE_CSP.replace("connect-src 'self'", f"connect-src 'self' {_origins(rasa_url)}".rstrip())
    return HTMLResponse(body, headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": csp})


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/web/favicon.svg")
