"""Every route of the app x every role: who gets what, as designed.

`EXPECTED` below is the whole matrix. A route the app has but the table lacks (or the other way round)
fails the test with the exact line to add; so does a cell that differs from what the app answers.

How each request is made (`REQUESTS`): `{handoff_id}`, `{conversation_id}` and `{number}` name a fresh
handoff in the L2 queue, created for each (route, role); "claimed" routes are first claimed by the caller
(which only succeeds for l2 and lead). `{article_id}` / `{revision_id}` name a fresh draft article.
`GET /api/v1/events` is a never-ending stream, so it is probed with an invalid `Last-Event-ID`: 422 means
the caller passed authentication and the role check. A draft from a handoff needs a resolved one, so the
fresh (waiting) handoff gives 409 to every role allowed to ask.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.service.conftest import HandoffFactory, Tokens

ROLES = ("anon", "bot", "l2", "l3", "l4", "lead", "editor")

# fmt: off
EXPECTED = """
method route                                                              anon bot  l2   l3   l4   lead editor
GET    /openapi.json                                                      200  200  200  200  200  200  200
GET    /docs                                                              200  200  200  200  200  200  200
GET    /docs/oauth2-redirect                                              200  200  200  200  200  200  200
GET    /redoc                                                             200  200  200  200  200  200  200
GET    /healthz                                                           200  200  200  200  200  200  200
GET    /metrics                                                           401  401  401  401  401  401  401
POST   /api/v1/handoffs                                                   401  201  403  403  403  403  403
GET    /api/v1/handoffs/{handoff_id}                                      401  403  200  403  403  200  403
POST   /api/v1/handoffs/{handoff_id}/claim                                401  403  200  403  403  200  403
POST   /api/v1/handoffs/{handoff_id}/messages                             401  403  201  403  403  201  403
POST   /api/v1/handoffs/{handoff_id}/notes                                401  403  201  403  403  201  403
POST   /api/v1/handoffs/{handoff_id}/escalate                             401  403  200  403  403  200  403
POST   /api/v1/handoffs/{handoff_id}/resolve                              401  403  200  403  403  200  403
POST   /api/v1/handoffs/{handoff_id}/transfer                             401  403  200  403  403  200  403
POST   /api/v1/handoffs/{handoff_id}/release                              401  403  200  403  403  200  403
PUT    /api/v1/agents/me/presence                                         401  403  200  200  200  200  403
GET    /api/v1/agents                                                     401  403  200  200  200  200  403
GET    /api/v1/queues/{tier}                                              401  403  200  403  403  200  403
POST   /api/v1/queues/{tier}/next                                         401  403  200  403  403  200  403
GET    /api/v1/conversations/{conversation_id}/handoff                    401  200  200  403  403  200  403
GET    /api/v1/events                                                     401  403  422  422  422  422  403
GET    /api/v1/kb/search                                                  401  200  200  200  200  200  200
GET    /api/v1/kb/articles                                                401  403  200  200  200  200  200
POST   /api/v1/kb/articles                                                401  403  403  403  403  403  201
POST   /api/v1/kb/articles/import                                         401  403  403  403  403  403  200
GET    /api/v1/kb/index                                                   401  200  200  200  200  200  200
GET    /api/v1/kb/articles/{article_id}                                   401  200  200  200  200  200  200
PUT    /api/v1/kb/articles/{article_id}                                   401  403  403  403  403  403  200
DELETE /api/v1/kb/articles/{article_id}                                   401  403  403  403  403  403  204
GET    /api/v1/kb/articles/{article_id}/revisions                         401  403  403  403  403  403  200
GET    /api/v1/kb/articles/{article_id}/pair                              401  403  403  403  403  200  200
POST   /api/v1/kb/articles/{article_id}/revisions/{revision_id}/restore   401  403  403  403  403  403  200
GET    /api/v1/kb/gaps                                                    401  403  403  403  403  200  200
POST   /api/v1/kb/gaps/draft                                              401  403  403  403  403  403  201
POST   /api/v1/kb/drafts/from-handoff/{handoff_id}                        401  403  409  403  403  409  403
GET    /widget.js                                                         200  200  200  200  200  200  200
GET    /web/{asset_path:path}                                             200  200  200  200  200  200  200
GET    /console                                                           200  200  200  200  200  200  200
GET    /editor                                                            200  200  200  200  200  200  200
GET    /demo                                                              200  200  200  200  200  200  200
GET    /favicon.ico                                                       200  200  200  200  200  200  200
GET    /kb/{article_id}                                                   404  404  404  404  404  404  404
POST   /api/v1/identity/verifications                                     401  201  403  403  403  403  403
POST   /api/v1/identity/verifications/{verification_id}/check             401  404  403  403  403  403  403
POST   /api/v1/identity/verifications/{verification_id}/unlock            401  404  403  403  403  403  403
POST   /api/v1/identity/verifications/{verification_id}/reset-link        401  404  403  403  403  403  403
POST   /api/v1/ratings                                                    401  201  403  403  403  403  403
GET    /api/v1/ratings                                                    401  403  403  403  403  200  403
GET    /api/v1/tickets                                                    401  200  403  403  403  403  403
GET    /api/v1/tickets/{number}                                           401  200  403  403  403  403  403
POST   /api/v1/tickets/{number}/follow-up                                 401  201  403  403  403  403  403
GET    /api/v1/dev/mailbox                                                404  404  404  404  404  404  404
GET    /api/v1/widget/replies                                             200  200  200  200  200  200  200
GET    /dev/mailbox                                                       404  404  404  404  404  404  404
GET    /api/v1/reports/daily                                              401  403  403  403  403  200  403
GET    /api/v1/audit                                                      401  403  403  403  403  200  403
"""
# fmt: on


@dataclass
class Req:
    """How to call a route: query, JSON body, headers, and what to prepare."""

    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    claimed: bool = False  # the caller claims the fresh handoff first


REQUESTS: dict[tuple[str, str], Req] = {
    ("POST", "/api/v1/handoffs"): Req(body="HANDOFF"),
    ("POST", "/api/v1/handoffs/{handoff_id}/messages"): Req(body={"text": "hello"}, claimed=True),
    ("POST", "/api/v1/handoffs/{handoff_id}/notes"): Req(body={"text": "private"}),
    ("POST", "/api/v1/handoffs/{handoff_id}/escalate"): Req(body={"tier": "l3", "note": "n"}, claimed=True),
    ("POST", "/api/v1/handoffs/{handoff_id}/resolve"): Req(
        body={"resolution": "fixed", "return_to_bot": False}, claimed=True
    ),
    ("POST", "/api/v1/handoffs/{handoff_id}/transfer"): Req(body={"agent": "agent-l2_other"}, claimed=True),
    ("POST", "/api/v1/handoffs/{handoff_id}/release"): Req(claimed=True),
    ("PUT", "/api/v1/agents/me/presence"): Req(body={"presence": "online"}),
    ("GET", "/api/v1/events"): Req(headers={"Last-Event-ID": "-1"}),
    ("GET", "/api/v1/kb/search"): Req(query={"q": "vpn", "k": "2"}),
    ("POST", "/api/v1/kb/articles"): Req(body={"title": "A title", "body": "Some body text."}),
    ("POST", "/api/v1/kb/articles/import"): Req(body={"articles": [{"title": "Imported", "body": "Text."}]}),
    ("PUT", "/api/v1/kb/articles/{article_id}"): Req(body={"version": 1, "title": "New title"}),
    ("POST", "/api/v1/kb/gaps/draft"): Req(body={"questions": ["how do I print?"]}),
    ("POST", "/api/v1/identity/verifications"): Req(
        body={"username_or_email": "jdoe", "conversation_id": "perm-conv"}
    ),
    ("POST", "/api/v1/identity/verifications/{verification_id}/check"): Req(body={"code": "123456"}),
    ("POST", "/api/v1/ratings"): Req(body={"conversation_id": "perm-conv", "rating": 5}),
    ("GET", "/api/v1/tickets"): Req(query={"conversation_id": "CONVERSATION"}),
    ("GET", "/api/v1/tickets/{number}"): Req(query={"conversation_id": "CONVERSATION"}),
    ("POST", "/api/v1/tickets/{number}/follow-up"): Req(
        body={"conversation_id": "CONVERSATION", "email": "jane.doe@example.com"}
    ),
    ("GET", "/api/v1/dev/mailbox"): Req(query={"to": "jane.doe@example.com"}),
    # The widget's own conversation id is its key (no token): any caller, an empty answer for a stranger.
    ("GET", "/api/v1/widget/replies"): Req(query={"conversation_id": "0123456789abcdef0123456789abcdef"}),
}


def _expected() -> dict[tuple[str, str], dict[str, int]]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()[1:]]
    table: dict[tuple[str, str], dict[str, int]] = {}
    for method, path, *cells in lines:
        assert len(cells) == len(ROLES), f"{method} {path}: {len(cells)} cells, want {len(ROLES)}"
        assert (method, path) not in table, f"{method} {path} appears twice in EXPECTED"
        table[(method, path)] = dict(zip(ROLES, map(int, cells), strict=True))
    return table


def _routes(client: TestClient) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        for method in getattr(context, "methods", None) or ():
            if method != "HEAD":
                found.add((method, context.path))
    return found


def _row(method: str, path: str, cells: dict[str, int] | None = None) -> str:
    values = "  ".join(str((cells or {}).get(role, "???")).ljust(3) for role in ROLES)
    return f"{method.ljust(6)} {path.ljust(66)} {values}"


class Fixtures:
    def __init__(self, client: TestClient, tokens: Tokens, factory: HandoffFactory) -> None:
        self.client, self.tokens, self.factory = client, tokens, factory
        self.counter = itertools.count(1)

    def auth(self, role: str) -> dict[str, str]:
        return {} if role == "anon" else self.tokens.auth(role)

    def handoff(self) -> dict[str, Any]:
        return self.factory.create(f"perm-{next(self.counter)}")

    def article(self) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/kb/articles",
            json={"title": f"Perm {next(self.counter)}", "body": "Body."},
            headers=self.tokens.auth("editor"),
        )
        assert response.status_code == 201, response.text
        article: dict[str, Any] = response.json()
        revisions = self.client.get(
            f"/api/v1/kb/articles/{article['id']}/revisions", headers=self.tokens.auth("editor")
        )
        article["revision_id"] = revisions.json()[-1]["id"]
        return article

    def call(self, method: str, path: str, role: str) -> int:
        spec = REQUESTS.get((method, path), Req())
        values: dict[str, Any] = {
            "tier": "l2",
            "verification_id": "00000000-0000-0000-0000-000000000000",
            "asset_path:path": "console.mjs",
        }
        conversation = f"perm-none-{next(self.counter)}"
        if any(p in path for p in ("{handoff_id}", "{conversation_id}", "{number}")) or "CONVERSATION" in str(
            spec.query
        ) + str(spec.body):
            handoff = self.handoff()
            conversation = str(handoff["conversation_id"])
            values |= {
                "handoff_id": handoff["id"],
                "conversation_id": conversation,
                "number": handoff["number"],
            }
            if spec.claimed and role != "anon":
                self.client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=self.auth(role))
        if "/queues/{tier}/next" in path:
            self.handoff()
        if "{article_id}" in path:
            article = self.article()
            values |= {"article_id": article["id"], "revision_id": article["revision_id"]}
        if "/kb/articles/{" in path and method == "GET" and path.endswith("{article_id}"):
            values["article_id"] = "password-reset"  # a published one: the bot reads published articles
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", str(value))
        body = spec.body
        if body == "HANDOFF":
            body = self.factory.body(f"perm-new-{next(self.counter)}")
        if isinstance(body, dict):
            body = {k: (conversation if v == "CONVERSATION" else v) for k, v in body.items()}
        query = {k: (conversation if v == "CONVERSATION" else v) for k, v in spec.query.items()}
        response = self.client.request(
            method, url, params=query, json=body, headers=self.auth(role) | spec.headers
        )
        return response.status_code


Probe = Callable[[str, str, str], int]


def test_every_route_and_role_is_answered_as_designed(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    expected = _expected()
    routes = _routes(client)
    missing = sorted(routes - expected.keys(), key=lambda r: r[1])
    gone = sorted(expected.keys() - routes, key=lambda r: r[1])
    problems = [
        f"route {m} {p} has no line in EXPECTED (tests/service/test_permission_matrix.py); add, with the "
        f"status each role should get:\n    {_row(m, p)}"
        for m, p in missing
    ] + [f"EXPECTED has {m} {p}, which the app no longer serves: remove its line" for m, p in gone]

    fixtures = Fixtures(client, tokens, handoff_factory)
    # In the table's order: the search runs before articles are added, so its index stays small.
    for (method, path), cells in expected.items():
        if (method, path) not in routes:
            continue
        actual = {role: fixtures.call(method, path, role) for role in ROLES}
        wrong = [
            f"{role}: expected {cells[role]}, got {actual[role]}"
            for role in ROLES
            if actual[role] != cells[role]
        ]
        if wrong:
            problems.append(
                f"{method} {path}: " + "; ".join(wrong) + f"\n    actual row: {_row(method, path, actual)}"
            )
    assert not problems, "permission matrix:\n" + "\n".join(problems)
