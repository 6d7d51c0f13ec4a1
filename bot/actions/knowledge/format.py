"""How an article reads in a chat: title, a short answer or the steps, and the link."""

from __future__ import annotations

import re

from actions.conversation.language import DEFAULT, text
from actions.service.knowledge import Article, Hit

MAX_ANSWER_CHARS = 600
MAX_STEPS_LISTED = 8


def short(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(".,;:") + "…"


def answer_text(hit: Hit, article: Article | None = None, language: str = DEFAULT) -> str:
    lines = [hit.title]
    summary = (article.summary if article else None) or hit.summary or hit.snippet
    if summary:
        lines.append(short(summary))
    if article and article.steps:
        lines.append(text(language, "steps"))
        lines += [
            f"{number}. {short(step['instruction'], 200)}"
            for number, step in enumerate(article.steps[:MAX_STEPS_LISTED], start=1)
        ]
    if hit.url:
        lines.append(text(language, "more", url=hit.url))
    return "\n".join(lines)


def step_text(article: Article, index: int, with_check: bool = True, language: str = DEFAULT) -> str:
    step = article.steps[index]
    said = text(language, "step", number=index + 1, total=len(article.steps), instruction=step["instruction"])
    if with_check and step.get("check"):
        said += "\n" + text(language, "step_check", check=step["check"])
    return said
