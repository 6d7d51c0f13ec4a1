"""Bad input and abuse through the API, on SQLite and PostgreSQL.

What is accepted reads back exactly as sent; what is refused gets 413 (over `max_request_bytes`) or
422 naming the field, never a 5xx, and leaves nothing behind. Covered elsewhere, not repeated here:
an oversized agent message (413) and one over 4000 characters (422) and a binary handoff body
(test_permissions.py), one address's failed tokens getting 429 (test_ops.py), the whole route x role
matrix (test_permission_matrix.py), a conversation reading only its own tickets
(identity/test_tickets_and_ratings.py), markup in article pages (test_kb.py), and random input on
every route (test_schema_fuzz.py).
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handoff_api.core.config import Settings
from knowledge_base.articles import Article
from tests.service.conftest import CUTOFF, HandoffFactory, RasaBroker, Tokens, _consume, _transcript

# Text people (or scripts) type that must come back exactly as it went in.
HOSTILE = {
    "html": '<script>alert(1)</script><img src=x onerror="alert(2)"><b>bold</b>',
    "sql": "'; DROP TABLE handoffs; -- \" OR 1=1 /*",
    "markdown": "[click me](javascript:alert(1)) ![x](https://evil.example/x.png) **bold** `code`",
    "long_word": "a" * 3999,
    "rtl_override": "invoice\u202egpj.exe \u200f\u2066isolated\u2069 \u200bzero-width",
    "control": "bell\x07 esc\x1b[31mred\x1b[0m tab\t cr\r lf\n del\x7f vt\x0b ff\x0c",
    "unicode": "😀 emoji, 漢字, e\u0301, \ufeffbom, \uffff\ufffe nonchars, \U0010ffff",
    "template": "{{7*7}} ${7*7} <%= 7*7 %> {0} %s %n",
    "json": '{"role": "agent", "text": "forged"}\n]}',
}
NUL = "before\x00after"


@pytest.fixture
def claimed(client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory) -> dict[str, Any]:
    handoff = handoff_factory.create("abuse-1")
    response = client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    assert response.status_code == 200, response.text
    return handoff


def _detail(client: TestClient, tokens: Tokens, handoff_id: object) -> dict[str, Any]:
    response = client.get(f"/api/v1/handoffs/{handoff_id}", headers=tokens.auth("lead"))
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


def _field_error(response: Any, *loc: object) -> str:
    """The 422's message for the field at `loc` (the detail names the field)."""
    assert response.status_code == 422, (response.status_code, response.text[:300])
    errors = response.json()["detail"]
    assert isinstance(errors, list), errors
    for error in errors:
        if error["loc"] == ["body", *loc]:
            return str(error["msg"])
    raise AssertionError(f"no error for {loc}: {errors}")


# --- what is accepted reads back exactly ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_is_stored_and_read_back_exactly(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, claimed: dict[str, Any], name: str
) -> None:
    text = HOSTILE[name]
    base = f"/api/v1/handoffs/{claimed['id']}"
    l2 = tokens.auth("l2")
    sent = client.post(f"{base}/messages", json={"text": text}, headers=l2)
    assert sent.status_code == 201 and sent.json()["text"] == text
    assert client.post(f"{base}/notes", json={"text": text}, headers=l2).status_code == 201
    escalated = client.post(f"{base}/escalate", json={"tier": "l3", "note": text}, headers=l2)
    assert escalated.status_code == 200, escalated.text
    detail = _detail(client, tokens, claimed["id"])
    assert [line["text"] for line in detail["transcript"] if line["role"] == "agent"] == [text]
    assert [note["text"] for note in detail["notes"]] == [text, text]  # the note, the escalation's note
    assert client.post(f"{base}/claim", headers=tokens.auth("l3")).status_code == 200
    resolved = client.post(
        f"{base}/resolve", json={"resolution": text, "return_to_bot": False}, headers=tokens.auth("l3")
    )
    assert resolved.status_code == 200 and resolved.json()["resolution"] == text

    # The bot's handoff: summary, customer name, transcript lines.
    created = client.post(
        "/api/v1/handoffs",
        json=handoff_factory.body(
            f"abuse-{name}",
            summary=text,
            category=text[:100],
            customer={"name": text[:200], "id": text[:200]},
            transcript=[{"role": "customer", "text": text}, {"role": "bot", "text": text}],
        ),
        headers=tokens.auth("bot"),
    )
    assert created.status_code == 201, created.text
    stored = _detail(client, tokens, created.json()["id"])
    assert stored["summary"] == text and stored["category"] == text[:100]
    assert stored["customer"]["name"] == text[:200] and stored["customer"]["id"] == text[:200]
    assert [line["text"] for line in stored["transcript"]] == [text, text]

    # A knowledge article: title, body, tags, steps; and its revision.
    article = client.post(
        "/api/v1/kb/articles",
        json={
            "title": text[:300],
            "body": text,
            "tags": [text[:100]],
            "summary": text[:2000],
            "steps": [{"instruction": text[:2000], "check": text[:2000]}],
        },
        headers=tokens.auth("editor"),
    )
    assert article.status_code == 201, article.text
    read = client.get(f"/api/v1/kb/articles/{article.json()['id']}", headers=tokens.auth("editor")).json()
    # Articles are kept in their canonical form (knowledge_base/articles.py: one-line titles, lower-case
    # tags, trimmed ends, LF line ends); nothing else about the text changes.
    canonical = Article(
        id="x",
        title=text[:300],
        body=text,
        tags=[text[:100]],
        summary=text[:2000],
        steps=[{"instruction": text[:2000], "check": text[:2000]}],
    )
    assert (read["title"], read["body"], read["tags"], read["summary"]) == (
        canonical.title,
        canonical.body,
        canonical.tags,
        canonical.summary,
    )
    assert read["steps"][0]["instruction"] == canonical.steps[0].instruction
    if text == " ".join(text.split()):  # already canonical: exactly as sent
        assert (read["title"], read["body"]) == (text[:300], text)


def test_a_hostile_search_is_answered(client: TestClient, tokens: Tokens) -> None:
    for text in [*HOSTILE.values(), NUL, "%", "_", "\\", "*", "' OR ''='"]:
        response = client.get("/api/v1/kb/search", params={"q": text[:1000]}, headers=tokens.auth("bot"))
        assert response.status_code == 200, (text[:40], response.text[:300])
        listing = client.get("/api/v1/kb/articles", params={"q": text[:200]}, headers=tokens.auth("editor"))
        assert listing.status_code in (200, 422), (text[:40], listing.text[:300])


# --- what is refused is 422 naming the field, and nothing is stored ---------------------------------


def test_nul_characters_are_refused_with_the_field_named(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, claimed: dict[str, Any]
) -> None:
    """PostgreSQL cannot store NUL in text; SQLite could. Refused on both, with the field named."""
    base = f"/api/v1/handoffs/{claimed['id']}"
    l2 = tokens.auth("l2")
    before = _detail(client, tokens, claimed["id"])
    for path, body, loc in [
        ("messages", {"text": NUL}, ("text",)),
        ("notes", {"text": NUL}, ("text",)),
        ("escalate", {"tier": "l3", "note": NUL}, ("note",)),
        ("resolve", {"resolution": NUL}, ("resolution",)),
    ]:
        assert "NUL" in _field_error(client.post(f"{base}/{path}", json=body, headers=l2), *loc)
    after = _detail(client, tokens, claimed["id"])
    assert (after["transcript"], after["notes"], after["status"], after["tier"]) == (
        before["transcript"],
        before["notes"],
        "assigned",
        "l2",
    )

    bot = tokens.auth("bot")
    for overrides, loc in [
        ({"transcript": [{"role": "customer", "text": NUL}]}, ("transcript", 0, "text")),
        ({"summary": NUL}, ("summary",)),
        ({"customer": {"name": NUL}}, ("customer", "name")),
        ({"channel": NUL}, ("channel",)),
        ({"conversation_id": NUL}, ("conversation_id",)),
    ]:
        body = {**handoff_factory.body("abuse-nul"), **overrides}
        assert _field_error(client.post("/api/v1/handoffs", json=body, headers=bot), *loc)
    assert client.get("/api/v1/tickets", params={"conversation_id": "abuse-nul"}, headers=bot).json() == {
        "tickets": []
    }

    editor = tokens.auth("editor")
    for body, loc in [
        ({"title": NUL, "body": "b"}, ("title",)),
        ({"title": "t", "body": NUL}, ("body",)),
        ({"title": "t", "body": "b", "tags": [NUL]}, ("tags", 0)),
        ({"title": "t", "body": "b", "steps": [{"instruction": NUL}]}, ("steps", 0, "instruction")),
    ]:
        assert "NUL" in _field_error(client.post("/api/v1/kb/articles", json=body, headers=editor), *loc)
    rating = client.post(
        "/api/v1/ratings", json={"conversation_id": "c", "rating": 4, "comment": NUL}, headers=bot
    )
    assert "NUL" in _field_error(rating, "comment")


def test_invalid_utf8_and_lone_surrogates_are_422(
    client: TestClient, tokens: Tokens, claimed: dict[str, Any]
) -> None:
    base = f"/api/v1/handoffs/{claimed['id']}"
    headers = {**tokens.auth("l2"), "Content-Type": "application/json"}
    for raw in (b'{"text": "\xff\xfe\xfd"}', b'{"text": "\xc3("}', b"\x00\x00\x00{"):
        for path in ("messages", "notes"):
            response = client.post(f"{base}/{path}", content=raw, headers=headers)
            assert response.status_code == 422, response.text
    # JSON may spell a lone surrogate (\ud800); no UTF-8 holds it: refused, the field named.
    for path in ("messages", "notes"):
        response = client.post(f"{base}/{path}", content=b'{"text": "x\\ud800y"}', headers=headers)
        assert "unicode" in _field_error(response, "text")
    editor = {**tokens.auth("editor"), "Content-Type": "application/json"}
    response = client.post(
        "/api/v1/kb/articles", content=b'{"title": "t", "body": "\\udfff"}', headers=editor
    )
    assert _field_error(response, "body")
    assert _detail(client, tokens, claimed["id"])["transcript"][-1]["role"] != "agent"


@pytest.mark.parametrize(
    "value",
    [None, 42, 4.2, True, [], ["text"], {"text": "nested"}, ""],
    ids=["null", "int", "float", "bool", "empty_list", "list", "object", "empty"],
)
def test_wrong_json_types_name_the_field(
    client: TestClient, tokens: Tokens, claimed: dict[str, Any], value: object
) -> None:
    base = f"/api/v1/handoffs/{claimed['id']}"
    assert _field_error(
        client.post(f"{base}/messages", json={"text": value}, headers=tokens.auth("l2")), "text"
    )
    if value != "":  # an empty article body is allowed
        article = client.post(
            "/api/v1/kb/articles", json={"title": "t", "body": value}, headers=tokens.auth("editor")
        )
        assert _field_error(article, "body")


def test_bodies_that_are_not_objects_are_422(
    client: TestClient, tokens: Tokens, claimed: dict[str, Any]
) -> None:
    base = f"/api/v1/handoffs/{claimed['id']}"
    headers = {**tokens.auth("l2"), "Content-Type": "application/json"}
    for raw in (
        b"",
        b"[]",
        b'"text"',
        b"null",
        b"{",
        b'{"text": "a"} trailing',
        b'{"text": "a", "extra": 1}',
    ):
        response = client.post(f"{base}/messages", content=raw, headers=headers)
        assert response.status_code == 422, (raw, response.status_code, response.text)


# --- oversized ------------------------------------------------------------------------------------


def _chunks(total: int, prefix: bytes = b'{"text": "', suffix: bytes = b'"}') -> Iterator[bytes]:
    yield prefix
    for _ in range(total // 65536):
        yield b"a" * 65536
    yield suffix


def test_oversized_bodies_are_413_everywhere(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    claimed: dict[str, Any],
    settings: Settings,
) -> None:
    limit = settings.max_request_bytes
    base = f"/api/v1/handoffs/{claimed['id']}"
    big = "a" * (limit + 1)
    huge_transcript = [{"role": "customer", "text": "a" * 3000}] * (limit // 3000 + 1)
    for path, role, body in [
        (f"{base}/notes", "l2", {"text": big}),
        (f"{base}/resolve", "l2", {"resolution": big}),
        ("/api/v1/handoffs", "bot", handoff_factory.body("abuse-huge", transcript=huge_transcript)),
        ("/api/v1/kb/articles", "editor", {"title": "t", "body": big}),
    ]:
        response = client.post(path, json=body, headers=tokens.auth(role))
        assert response.status_code == 413, (path, response.status_code)
        assert str(limit) in response.json()["detail"]
    # Without a Content-Length (chunked), the body is counted as it arrives.
    streamed = client.post(
        f"{base}/messages",
        content=_chunks(limit + 65536),
        headers={**tokens.auth("l2"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    detail = _detail(client, tokens, claimed["id"])
    assert detail["notes"] == [] and detail["status"] == "assigned"
    assert all(line["role"] != "agent" for line in detail["transcript"])
    assert client.get(
        "/api/v1/tickets", params={"conversation_id": "abuse-huge"}, headers=tokens.auth("bot")
    ).json() == {"tickets": []}


def test_just_over_a_fields_limit_is_422_naming_it(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, claimed: dict[str, Any]
) -> None:
    base = f"/api/v1/handoffs/{claimed['id']}"
    l2 = tokens.auth("l2")
    assert _field_error(client.post(f"{base}/notes", json={"text": "a" * 4001}, headers=l2), "text")
    assert _field_error(
        client.post(f"{base}/escalate", json={"tier": "l3", "note": "a" * 4001}, headers=l2), "note"
    )
    bot = tokens.auth("bot")
    too_many = handoff_factory.body("abuse-many", transcript=[{"role": "customer", "text": "hi"}] * 501)
    assert _field_error(client.post("/api/v1/handoffs", json=too_many, headers=bot), "transcript")
    long_line = handoff_factory.body("abuse-line", transcript=[{"role": "customer", "text": "a" * 4001}])
    assert _field_error(client.post("/api/v1/handoffs", json=long_line, headers=bot), "transcript", 0, "text")
    editor = tokens.auth("editor")
    articles = client.get("/api/v1/kb/articles", headers=editor).json()
    for body, loc in [
        ({"title": "t" * 301, "body": "b"}, ("title",)),
        ({"title": "t", "body": "b" * 100_001}, ("body",)),
        ({"title": "t", "body": "b", "tags": ["x" * 101]}, ("tags", 0)),
        ({"title": "t", "body": "b", "tags": ["x"] * 51}, ("tags",)),
    ]:
        assert _field_error(client.post("/api/v1/kb/articles", json=body, headers=editor), *loc)
    assert client.get("/api/v1/kb/articles", headers=editor).json() == articles


# --- what customers type during a handoff (the broker) -----------------------------------------------


def test_a_customers_nul_surrogate_or_very_long_line_neither_stops_nor_breaks_the_transcript(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    """Found by this test: on PostgreSQL a NUL in one customer's line, and on both databases a lone
    surrogate, failed the broker's batch for good (nobody's messages reached a transcript any more);
    a line over 4000 characters made its handoff unreadable (500). A chat client can send all three."""
    handoff = handoff_factory.create("abuse-broker")
    long_line = "x" * 20_000
    rasa_broker.publish("abuse-broker", {"event": "user", "text": "bad\x00byte", "timestamp": CUTOFF + 1})
    rasa_broker.publish_raw(
        "abuse-broker",
        '{"event": "user", "text": "lone \\ud800 surrogate", "timestamp": %s}' % (CUTOFF + 2),
    )
    rasa_broker.publish("abuse-broker", {"event": "user", "text": long_line, "timestamp": CUTOFF + 3})
    for name, text in HOSTILE.items():
        rasa_broker.publish(
            "abuse-broker", {"event": "user", "text": f"{name}: {text}", "timestamp": CUTOFF + 4}
        )
    rasa_broker.publish("abuse-broker", {"event": "user", "text": "still here", "timestamp": CUTOFF + 5})
    assert _consume(settings) == 4 + len(HOSTILE)
    lines = _transcript(client, tokens, handoff["id"])[3:]  # after what the bot sent with the handoff
    assert lines == [
        ("customer", "bad\ufffdbyte"),
        ("customer", "lone \ufffd surrogate"),
        ("customer", long_line),
        *[("customer", f"{name}: {text}") for name, text in HOSTILE.items()],
        ("customer", "still here"),
    ]
    # The whole handoff still works for the agent.
    assert (
        client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2")).status_code == 200
    )
    assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 200
    assert json.dumps(_detail(client, tokens, handoff["id"]))  # serialisable as it is


# --- token guessing and tiers -------------------------------------------------------------------------


def test_token_guessing_from_one_address_does_not_lock_out_another(
    client: TestClient, tokens: Tokens, settings: Settings
) -> None:
    limit = settings.helpdesk_auth_failure_limit
    for attempt in range(limit):
        guess = client.get("/api/v1/queues/l2", headers={"Authorization": f"Bearer hd_guess{attempt}"})
        assert guess.status_code == 401
    blocked = client.get("/api/v1/handoffs/1", headers={"Authorization": "Bearer hd_another-guess"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "retry after" in blocked.json()["detail"]
    # The same app, another client address: its right token works, its wrong one is a plain 401.
    elsewhere = TestClient(client.app, client=("192.0.2.7", 40000))
    assert elsewhere.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 200
    wrong = elsewhere.get("/api/v1/queues/l2", headers={"Authorization": "Bearer hd_wrong"})
    assert wrong.status_code == 401
    # Odd Authorization headers count as failures too, never 500.
    for header in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer " + "x" * 5000, "Bearer \u00e9"):
        response = elsewhere.get("/api/v1/queues/l2", headers={"Authorization": header.encode()})
        assert response.status_code in (401, 429), (header[:20], response.status_code)


ACTIONS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "", None),
    ("POST", "/claim", None),
    ("POST", "/messages", {"text": "hello from the wrong tier"}),
    ("POST", "/notes", {"text": "a note from the wrong tier"}),
    ("POST", "/escalate", {"tier": "l4", "note": "n", "vendor_name": "v"}),
    ("POST", "/resolve", {"resolution": "done", "return_to_bot": True}),
    ("POST", "/transfer", {"agent": "agent-l2"}),
    ("POST", "/release", None),
]


@pytest.mark.parametrize(
    ("role", "tier"),
    [
        ("l2", "l3"),
        ("l2", "l4"),
        ("l3", "l2"),
        ("l3", "l4"),
        ("l4", "l2"),
        ("l4", "l3"),
        ("bot", "l3"),
        ("editor", "l3"),
    ],
)
def test_no_one_acts_on_another_tiers_handoff(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, role: str, tier: str
) -> None:
    handoff = handoff_factory.create(f"abuse-tier-{role}-{tier}", tier=tier)
    base = f"/api/v1/handoffs/{handoff['id']}"
    # Waiting, then held by someone of the tier (the lead stands in): neither opens it to another tier.
    for state in ("waiting", "assigned"):
        if state == "assigned":
            assert client.post(f"{base}/claim", headers=tokens.auth("lead")).status_code == 200
        before = _detail(client, tokens, handoff["id"])
        for method, path, body in ACTIONS:
            response = client.request(method, f"{base}{path}", json=body, headers=tokens.auth(role))
            assert response.status_code == 403, (role, tier, state, method, path, response.status_code)
            assert str(handoff["conversation_id"]) not in response.text  # nothing of it leaks
        after = _detail(client, tokens, handoff["id"])
        for key in ("status", "tier", "assignee", "transcript", "notes", "history"):
            assert after[key] == before[key], key
    queue = client.get(f"/api/v1/queues/{tier}", headers=tokens.auth(role))
    assert queue.status_code == 403
    taken = client.post(f"/api/v1/queues/{tier}/next", headers=tokens.auth(role))
    assert taken.status_code == 403


def test_nobody_without_a_token_reads_a_handoff_or_a_ticket(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("abuse-anon")
    for path in (
        f"/api/v1/handoffs/{handoff['id']}",
        "/api/v1/conversations/abuse-anon/handoff",
        f"/api/v1/tickets/{handoff['number']}?conversation_id=abuse-anon",
        "/api/v1/tickets?conversation_id=abuse-anon",
        "/api/v1/queues/l2",
    ):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "abuse-anon" not in response.text and str(handoff["number"]) not in response.text
    # The bot (the only holder of the customers' side) reads a ticket only for its own conversation,
    # and never the agents' view of a handoff by id.
    bot = tokens.auth("bot")
    assert client.get(f"/api/v1/handoffs/{handoff['id']}", headers=bot).status_code == 403
    for other in ("abuse-other", "abuse-anon ", "ABUSE-ANON", "abuse-%", "%", "abuse-anon\u200b"):
        response = client.get(
            f"/api/v1/tickets/{handoff['number']}", params={"conversation_id": other}, headers=bot
        )
        assert response.status_code == 404, other
        listing = client.get("/api/v1/tickets", params={"conversation_id": other}, headers=bot)
        assert listing.json() == {"tickets": []}, other
