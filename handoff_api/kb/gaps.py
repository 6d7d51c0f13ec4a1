"""Knowledge gaps: questions the bot could not answer, grouped by meaning; handoffs no article helped."""

from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_api.models import Handoff, KbQuery, utcnow
from knowledge_base.embeddings import Embedder

# Two questions belong to one gap when their embeddings are this close (cosine).
SAME_GAP_COSINE = 0.6


def unanswered_groups(
    session: Session, embedder: Embedder, days: int = 30, limit: int = 500
) -> list[dict[str, Any]]:
    since = utcnow() - timedelta(days=days)
    rows = list(
        session.scalars(
            select(KbQuery)
            .where(KbQuery.abstained.is_(True), KbQuery.at >= since)
            .order_by(KbQuery.at.desc())
            .limit(limit)
        )
    )
    if not rows:
        return []
    vectors = np.vstack([embedder.embed_query(row.text) for row in rows])
    groups: list[dict[str, Any]] = []
    centres: list[np.ndarray] = []
    for row, vector in zip(rows, vectors, strict=True):
        similarities = [float(centre @ vector) for centre in centres]
        best = int(np.argmax(similarities)) if similarities else -1
        if best >= 0 and similarities[best] >= SAME_GAP_COSINE:
            group = groups[best]
            if row.text not in group["questions"]:
                group["questions"].append(row.text)
            group["count"] += 1
        else:
            centres.append(vector)
            groups.append({"example": row.text, "count": 1, "questions": [row.text], "last_asked": row.at})
    return sorted(groups, key=lambda g: (-g["count"], g["example"]))


def _helped(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("verdict", "")).lower() in ("helped", "helpful", "yes")


def handoffs_without_help(session: Session, days: int = 30, limit: int = 200) -> list[Handoff]:
    since = utcnow() - timedelta(days=days)
    recent = session.scalars(
        select(Handoff)
        .where(Handoff.created_at >= since)
        .order_by(Handoff.created_at.desc())
        .limit(limit * 5)
    )
    found = []
    for handoff in recent:
        tried = handoff.context.get("kb_articles_tried") or []
        if handoff.reason == "kb_no_answer" or (tried and not any(_helped(entry) for entry in tried)):
            found.append(handoff)
    return found[:limit]


def draft_from_questions(questions: list[str]) -> dict[str, Any]:
    listed = "\n".join(f"- {q}" for q in questions)
    return {
        "title": questions[0][:300],
        "status": "draft",
        "body": f"## What customers asked\n\n{listed}\n\n## Answer\n\nWrite the answer here.",
    }


def draft_from_handoff(handoff: Handoff) -> dict[str, Any]:
    asked = [m.text for m in handoff.messages if m.role == "customer"][:5]
    listed = "\n".join(f"- {text}" for text in asked)
    return {
        "title": (handoff.summary or (asked[0] if asked else f"What solved {handoff.number}"))[:300],
        "status": "draft",
        "category": handoff.category or "",
        "body": (
            f"## What the customer asked\n\n{listed}\n\n## What solved it\n\n{handoff.resolution or ''}\n\n"
            f"<!-- drafted from {handoff.number} -->"
        ),
    }
