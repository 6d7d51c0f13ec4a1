"""`GET /api/v1/kb/search?language=`: the customer's language first, the other one as a fallback that
the response names, each hit with its article's language; without the parameter, as before."""

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from handoff_api.kb.index import STARTER_CORPUS
from tests.service.conftest import Tokens

# English articles, some with their German translation (wifi-guest has none here).
SEEDED = (
    "password-reset",
    "password-reset-de",
    "printer-troubleshooting",
    "printer-troubleshooting-de",
    "vpn-windows",
    "vpn-windows-de",
    "wifi-guest",
)

LABEL_PRINTER = {
    "title": "Set up the Zebra ZD421 label printer",
    "body": "## Loading labels\n\nOpen the lid of the ZD421, put the roll on the holder and close the lid.",
    "summary": "Install the Zebra ZD421 driver from the Company Portal, load the labels, print a test label.",
    "status": "published",
}


@pytest.fixture
def kb_seed_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed-articles"
    seed.mkdir()
    for article_id in SEEDED:
        shutil.copy(STARTER_CORPUS / f"{article_id}.md", seed / f"{article_id}.md")
    return seed


def _search(client: TestClient, tokens: Tokens, **params: object) -> dict[str, object]:
    response = client.get("/api/v1/kb/search", params=params, headers=tokens.auth("bot"))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_german_question_gets_the_german_article(client: TestClient, tokens: Tokens) -> None:
    found = _search(client, tokens, q="Die Druckerwarteschlange hängt, nichts wird gedruckt", language="de")
    assert found["language"] == "de" and found["fallback"] is False and found["abstain"] is False
    top = found["results"][0]  # type: ignore[index]
    assert top["article_id"] == "printer-troubleshooting-de" and top["language"] == "de"
    assert top["url"].endswith("/kb/printer-troubleshooting-de")
    assert all(hit["language"] == "de" for hit in found["results"])  # type: ignore[attr-defined]


def test_an_english_question_in_english_gets_english_articles(client: TestClient, tokens: Tokens) -> None:
    found = _search(client, tokens, q="I forgot my password, how do I reset it?", language="en")
    assert found["language"] == "en" and found["fallback"] is False
    assert [hit["language"] for hit in found["results"]] == ["en"] * len(found["results"])  # type: ignore[attr-defined]
    assert found["results"][0]["article_id"] == "password-reset"  # type: ignore[index]


def test_only_an_english_answer_comes_back_with_fallback(client: TestClient, tokens: Tokens) -> None:
    created = client.post("/api/v1/kb/articles", json=LABEL_PRINTER, headers=tokens.auth("editor"))
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    question = "Etikettendrucker Zebra ZD421 einrichten"
    deadline = time.monotonic() + 5
    while True:
        found = _search(client, tokens, q=question, language="de")
        if found["results"] and found["results"][0]["article_id"] == article_id:  # type: ignore[index]
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    assert found["fallback"] is True and found["language"] == "en" and found["abstain"] is False
    assert found["results"][0]["language"] == "en"  # type: ignore[index]


def test_without_a_language_everything_is_ranked_together_as_before(
    client: TestClient, tokens: Tokens
) -> None:
    found = _search(client, tokens, q="VPN unter Windows verbinden")
    assert found["language"] is None and found["fallback"] is False
    languages = {hit["language"] for hit in found["results"]}  # type: ignore[attr-defined]
    assert languages == {"en", "de"}  # German and English articles in one ranking


@pytest.mark.parametrize("language", ["fr", "DE", "german", ""])
def test_another_language_is_refused_with_a_clear_message(
    client: TestClient, tokens: Tokens, language: str
) -> None:
    response = client.get(
        "/api/v1/kb/search",
        params={"q": "Passwort vergessen", "language": language},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["query", "language"]
    assert "'en'" in problem["msg"] and "'de'" in problem["msg"]


def test_the_editor_gets_a_translation_beside_its_original_and_knows_when_it_is_older(
    client: TestClient, tokens: Tokens
) -> None:
    editor = tokens.auth("editor")
    original = client.post(
        "/api/v1/kb/articles",
        json={"title": "Book a desk", "body": "Open the desk app and pick a desk.", "status": "published"},
        headers=editor,
    ).json()
    german = client.post(
        "/api/v1/kb/articles",
        json={
            "title": "Einen Schreibtisch buchen",
            "body": "Öffnen Sie die Desk-App und wählen Sie einen Platz.",
            "status": "published",
            "language": "de",
            "translation_of": original["id"],
        },
        headers=editor,
    ).json()
    pair = client.get(f"/api/v1/kb/articles/{german['id']}/pair", headers=editor).json()
    assert pair["article"]["id"] == german["id"] and pair["stale"] is False
    assert (pair["original"]["id"], pair["original"]["language"]) == (original["id"], "en")

    changed = client.put(
        f"/api/v1/kb/articles/{original['id']}",
        json={"version": original["version"], "body": "Open the new desk app and pick a desk."},
        headers=editor,
    )
    assert changed.status_code == 200
    pair = client.get(f"/api/v1/kb/articles/{german['id']}/pair", headers=editor).json()
    assert pair["stale"] is True and pair["original"]["body"] == "Open the new desk app and pick a desk."
    from_original = client.get(f"/api/v1/kb/articles/{original['id']}/pair", headers=editor).json()
    assert from_original["original"] is None
    assert [(t["id"], t["language"], t["stale"]) for t in from_original["translations"]] == [
        (german["id"], "de", True)
    ]
    # Translated again: no longer older than its original.
    retranslated = client.put(
        f"/api/v1/kb/articles/{german['id']}",
        json={
            "version": german["version"],
            "body": "Öffnen Sie die neue Desk-App und wählen Sie einen Platz.",
        },
        headers=editor,
    )
    assert retranslated.status_code == 200
    assert client.get(f"/api/v1/kb/articles/{german['id']}/pair", headers=editor).json()["stale"] is False
    assert (
        client.get(f"/api/v1/kb/articles/{german['id']}/pair", headers=tokens.auth("bot")).status_code == 403
    )
