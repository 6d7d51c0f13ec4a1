"""The knowledge base as the bot sees it: search, and published articles by id."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)
MAX_QUERY_CHARS = 500
# Articles that describe what an engineer must do at once (a lost or stolen device is locked and wiped
# remotely): the customer is handed over urgently, never left with the article's "call the service desk".
NEEDS_AN_ENGINEER = frozenset({"lost-stolen-device", "lost-stolen-device-de"})


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    score: float
    snippet: str
    url: str
    summary: str | None
    has_steps: bool
    # The article's language: a German customer may get an English article when no German one answers.
    language: str = "en"

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Hit:
        return cls(
            article_id=str(body["article_id"]),
            title=str(body.get("title") or body["article_id"]),
            score=float(body.get("score") or 0.0),
            snippet=str(body.get("snippet") or ""),
            url=str(body.get("url") or ""),
            summary=body.get("summary") or None,
            has_steps=bool(body.get("has_steps")),
            language=str(body.get("language") or "en"),
        )


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    summary: str | None
    applies_to: list[str] = field(default_factory=list)
    steps: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


async def search(query: str, k: int = 5, language: str | None = None) -> tuple[list[Hit], bool]:
    """(results, abstain), in the conversation's `language` (the service falls back to the other one
    when nothing in it answers). The service unreachable counts as 'nothing to show'."""
    params: dict[str, str | int] = {"q": query[:MAX_QUERY_CHARS], "k": k}
    if language:
        params["language"] = language
    try:
        status, body = await HelpdeskClient.from_env().call("GET", "/api/v1/kb/search", params=params)
    except HelpdeskUnavailable as exc:
        logger.warning("knowledge base search failed: %s", exc)
        return [], True
    if status != 200:
        logger.warning("knowledge base search answered %s", status)
        return [], True
    hits = [Hit.from_api(item) for item in body.get("results") or [] if item.get("article_id")]
    return hits, bool(body.get("abstain", not hits))


async def article(article_id: str) -> Article | None:
    try:
        status, body = await HelpdeskClient.from_env().call(
            "GET", f"/api/v1/kb/articles/{quote(article_id, safe='')}"
        )
    except HelpdeskUnavailable as exc:
        logger.warning("article %s failed: %s", article_id, exc)
        return None
    if status != 200:
        return None
    steps = [
        {"instruction": str(step.get("instruction") or ""), "check": str(step.get("check") or "")}
        for step in body.get("steps") or []
        if isinstance(step, dict) and step.get("instruction")
    ]
    return Article(
        id=str(body.get("id") or article_id),
        title=str(body.get("title") or article_id),
        body=str(body.get("body") or ""),
        summary=body.get("summary") or None,
        applies_to=[str(item).lower() for item in body.get("applies_to") or []],
        steps=steps,
        url=str(body.get("url") or ""),
    )
