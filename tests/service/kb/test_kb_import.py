"""Bulk changes to the knowledge base: the bot's searches never wait for the new text to be embedded."""

import itertools
import time
from typing import Any

from fastapi.testclient import TestClient

from knowledge_base.articles import Article
from knowledge_base.synthetic import near_miss_articles
from tests.service.conftest import Tokens

IMPORTED = 200
QUESTIONS = [
    "I forgot my password",
    "how do I connect to the vpn from home",
    "guest wifi for a visitor",
    "my password expired",
    "vpn keeps disconnecting",
    "visitor needs internet access",
]
FILLERS = ["please", "today", "urgent", "again", "now", "quickly", "help", "thanks", "hi", "asap"]


def _importable(article: Article) -> dict[str, Any]:
    fields = article.model_dump(mode="json", exclude={"updated_at", "updated_by", "translation_of"})
    return {**fields, "status": "published"}


def _index(client: TestClient, tokens: Tokens) -> dict[str, Any]:
    response = client.get("/api/v1/kb/index", headers=tokens.auth("editor"))
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def test_searches_are_answered_while_a_bulk_import_is_embedded(client: TestClient, tokens: Tokens) -> None:
    bot, editor = tokens.auth("bot"), tokens.auth("editor")
    assert client.get("/api/v1/kb/search", params={"q": QUESTIONS[0]}, headers=bot).json()["results"]
    before = _index(client, tokens)
    assert before["up_to_date"] and before["pending"] == 0

    articles = near_miss_articles(IMPORTED)
    imported = client.post(
        "/api/v1/kb/articles/import", json={"articles": [_importable(a) for a in articles]}, headers=editor
    )
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (IMPORTED, 0, 0)
    assert result["ids"] == [a.id for a in articles] and result["revision"] > before["latest_revision"]

    # Distinct questions (nothing answered from a cache) while the import is embedded.
    questions = (
        f"{QUESTIONS[n % len(QUESTIONS)]} {FILLERS[n // len(QUESTIONS) % len(FILLERS)]} {n // 60}"
        for n in itertools.count()
    )
    answered_while_indexing, partly_searchable = 0, False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        was = _index(client, tokens)
        found = client.get("/api/v1/kb/search", params={"q": next(questions)}, headers=bot)
        assert found.status_code == 200 and found.json()["results"], found.text
        status = _index(client, tokens)
        if status["up_to_date"]:
            break
        if was["indexing"] and status["indexing"] and status["pending"] > 0:
            # Asked and answered while the import was being embedded.
            answered_while_indexing += 1
        partly_searchable |= before["articles"] < status["articles"] < before["articles"] + IMPORTED
        assert status["pending"] <= IMPORTED
        time.sleep(0.05)
    else:
        raise AssertionError("the import was not indexed within 10 minutes")
    assert answered_while_indexing >= 5, answered_while_indexing
    assert partly_searchable, "batches become searchable one after the other, not all at the end"

    status = _index(client, tokens)
    assert status["articles"] == before["articles"] + IMPORTED and status["pending"] == 0
    assert status["indexed_revision"] >= result["revision"]
    last = articles[-1]
    top = client.get("/api/v1/kb/search", params={"q": last.title, "k": 3}, headers=bot).json()["results"]
    assert last.id in [hit["article_id"] for hit in top]


def test_an_import_is_all_or_nothing_and_names_the_bad_article(client: TestClient, tokens: Tokens) -> None:
    editor = tokens.auth("editor")
    good = {"title": "Book a parking space", "body": "Use the parking app.", "status": "published"}
    missing_title = client.post(
        "/api/v1/kb/articles/import", json={"articles": [good, {"body": "no title"}]}, headers=editor
    )
    assert missing_title.status_code == 422
    assert missing_title.json()["detail"][0]["loc"] == ["body", "articles", 1, "title"]
    twice = client.post(
        "/api/v1/kb/articles/import",
        json={"articles": [{**good, "id": "parking"}, {**good, "id": "parking"}]},
        headers=editor,
    )
    assert twice.status_code == 422 and "articles.1.id" in twice.json()["detail"]
    listed = client.get("/api/v1/kb/articles", params={"q": "parking"}, headers=editor).json()
    assert listed == [], "nothing of a refused import is stored"

    for role in ("bot", "l2", "lead"):
        refused = client.post(
            "/api/v1/kb/articles/import", json={"articles": [good]}, headers=tokens.auth(role)
        )
        assert refused.status_code == 403

    first = client.post(
        "/api/v1/kb/articles/import", json={"articles": [{**good, "id": "parking"}]}, headers=editor
    )
    assert first.json()["created"] == 1
    again = client.post(
        "/api/v1/kb/articles/import",
        json={"articles": [{**good, "id": "parking"}, {**good, "id": "parking-2", "title": "Park"}]},
        headers=editor,
    )
    assert (again.json()["created"], again.json()["unchanged"]) == (1, 1)
    changed = client.post(
        "/api/v1/kb/articles/import",
        json={"articles": [{**good, "id": "parking", "body": "Use the new parking app."}]},
        headers=editor,
    )
    assert changed.json()["updated"] == 1
    assert client.get("/api/v1/kb/articles/parking", headers=editor).json()["version"] == 2
