"""schemathesis's stateful tests: call chains that follow the OpenAPI links of `/openapi.json`.

A created handoff's id feeds claim, reply, note, escalate, transfer, release, resolve and the ticket;
an article's id feeds read, update, revisions and delete (handoff_api/api/links.py). Every step of
every chain: no 5xx, and the answer matches the schema. Each call goes out with the token of the
role that may make it (the bot creates handoffs and reads tickets, the editor works on the knowledge
base, the lead does the rest), so that chains get past authorization and reach the state the links
lead to.

Each chain runs against a desk of its own (a new SQLite database and app): Hypothesis requires the
same calls to get the same answers, and a chain that meets the handoffs and articles of the chains
before it would not. The stateless fuzz (test_schema_fuzz.py) covers PostgreSQL.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import response_schema_conformance

from handoff_api.api import links
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.main import create_app
from handoff_api.users import service as users
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import migrated_settings

CHAINS = 60
CHAINED_PATHS = r"^/api/v1/(handoffs|queues|tickets|conversations|kb/articles)"
STEPS = 8


def _role(method: str, path: str) -> str:
    if (method, path) in {("POST", "/api/v1/handoffs"), ("POST", "/api/v1/ratings")}:
        return "bot"
    if path.startswith("/api/v1/tickets"):
        return "bot"
    if path.startswith("/api/v1/kb/"):
        return "editor"
    return "lead"


@contextmanager
def _desk(folder: Path, seed: Path, embedder: MiniLMEmbedder) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A new desk: its own migrated SQLite database, a bot, a lead and an editor, and the app on it."""
    folder.mkdir()
    settings = migrated_settings(f"sqlite:///{folder / 'helpdesk.db'}", folder, seed)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        tokens = {
            role: users.create(session, settings.secret_key(), f"chain-{role}", role)[1]
            for role in ("bot", "lead", "editor")
        }
    engine.dispose()
    with TestClient(create_app(settings, background=False, embedder=embedder)) as client:
        yield client, tokens


def test_linked_call_chains_never_fail_and_match_the_schema(
    tmp_path: Path, kb_seed_dir: Path, embedder: MiniLMEmbedder
) -> None:
    desks = iter(range(CHAINS * 4))
    with _desk(tmp_path / "schema", kb_seed_dir, embedder) as (client, _tokens):
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    # Valid requests only: invalid ones end a chain at its first step (the stateless fuzz sends those).
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    # The linked workflows; the rest of the API (reports, ratings, identity ...) only dilutes the chains.
    schema = schema.include(path_regex=CHAINED_PATHS)
    followed: Counter[str] = Counter()
    statuses: Counter[str] = Counter()

    class Chain(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.stack = ExitStack()
            folder = tmp_path / f"desk-{next(desks)}"
            self.client, self.tokens = self.stack.enter_context(_desk(folder, kb_seed_dir, embedder))

        def teardown(self) -> None:
            self.stack.close()

        def call(self, case: Any, **kwargs: Any) -> Response:
            method = case.operation.method.upper()
            token = self.tokens[_role(method, case.operation.path)]
            request = case.as_transport_kwargs(
                base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}
            )
            request.pop("cookies", None)
            if isinstance(request.get("data"), str | bytes):  # raw bodies: httpx wants them as content
                request["content"] = request.pop("data")
            response = self.client.request(**request)
            # A 2xx on an operation that needs an id from an earlier answer: a link was followed.
            if 200 <= response.status_code < 300 and case.path_parameters:
                followed[f"{method} {case.operation.path}"] += 1
            statuses[f"{method} {case.operation.path} {response.status_code}"] += 1
            return Response.from_any(response)

        def validate_response(self, response: Response, case: Any, **_kwargs: Any) -> None:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    Chain.run(
        settings=hypothesis_settings(
            max_examples=CHAINS,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            # No shrinking: a failing chain is reported as it ran.
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    # The chains went where the links lead: into the created handoffs and articles.
    assert followed["POST /api/v1/handoffs/{handoff_id}/claim"] > 0, statuses
    assert sum(n for op, n in followed.items() if "{handoff_id}" in op) >= 5, statuses
    assert sum(n for op, n in followed.items() if "{article_id}" in op) > 0, statuses


def test_every_link_names_an_operation_that_exists(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    named = [
        link["operationId"]
        for ops in spec["paths"].values()
        for op in ops.values()
        for answer in op.get("responses", {}).values()
        for link in answer.get("links", {}).values()
    ]
    expected = {*links.HANDOFF_STEPS.values(), *links.ARTICLE_STEPS.values()}
    assert expected <= set(named)
    assert set(named) <= operations, set(named) - operations
