"""Operations: request ids and JSON logs, /metrics, rate limits, the daily report, the audit log."""

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from handoff_api.api.middleware.rate_limit import RateLimitMiddleware, SlidingWindow
from handoff_api.cli.app import app as cli
from handoff_api.core.config import Settings, get_settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.main import create_app
from handoff_api.models import Handoff, KbQuery, Rating
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import METRICS_AUTH, HandoffFactory, Tokens


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    helpdesk = [line for line in text.splitlines() if line.startswith("helpdesk_")]
    raise AssertionError(f"{prefix!r} not in /metrics: {helpdesk}")


# --- request ids and logs -------------------------------------------------------------------------


def test_request_id_is_echoed_or_generated_and_logged_without_secrets(
    client: TestClient, tokens: Tokens, capsys: pytest.CaptureFixture[str]
) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/api/v1/queues/l2", headers=tokens.auth("l2"))
    assert len(made.headers["x-request-id"]) == 32
    junk = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert len(junk.headers["x-request-id"]) == 32  # not echoed: too long / unsafe
    assert client.post("/api/v1/handoffs", content=b"x" * 2_000_000).headers["x-request-id"]  # 413 too
    captured = capsys.readouterr()
    err = captured.out + captured.err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http.request"]
    assert any(line["request_id"] == "abc-123" and line["path"] == "/healthz" for line in access)
    assert any(line["request_id"] == made.headers["x-request-id"] for line in access)
    assert tokens.l2 not in err


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_need_the_metrics_token_and_are_off_without_one(
    client: TestClient, tokens: Tokens, settings: Settings, embedder: MiniLMEmbedder
) -> None:
    assert client.get("/metrics", headers=METRICS_AUTH).status_code == 200
    assert client.get("/metrics").status_code == 401
    # An agent's or the bot's token is not the metrics token.
    for role in ("lead", "bot"):
        assert client.get("/metrics", headers=tokens.auth(role)).status_code == 401
    unset = settings.model_copy(update={"helpdesk_metrics_token": None})
    with TestClient(create_app(unset, background=False, embedder=embedder)) as off:
        refused = off.get("/metrics")
        assert refused.status_code == 404 and "HELPDESK_METRICS_TOKEN" in refused.json()["detail"]
    demo = settings.model_copy(update={"helpdesk_metrics_token": None, "helpdesk_demo": True})
    with TestClient(create_app(demo, background=False, embedder=embedder)) as open_:
        assert open_.get("/metrics").status_code == 200


def test_metrics_show_queues_breaches_and_reasons(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff_factory.create("m-1", reason="low_confidence")
    handoff_factory.create("m-2", reason="kb_no_answer")
    late = handoff_factory.create("m-3", reason="kb_no_answer", tier="l3")
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        an_hour_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=30)
        session.execute(
            update(Handoff)
            .where(Handoff.id == late["id"])
            .values(
                created_at=an_hour_ago,
                first_response_due=an_hour_ago + timedelta(minutes=5),
                resolution_due=an_hour_ago + timedelta(hours=1),
            )
        )
    engine.dispose()
    text = client.get("/metrics", headers=METRICS_AUTH).text
    assert _metric(text, "helpdesk_metrics_db_up") == 1
    assert _metric(text, "helpdesk_queue_length", tier="l2") == 2
    assert _metric(text, "helpdesk_queue_length", tier="l3") == 1
    assert _metric(text, "helpdesk_queue_length", tier="l4") == 0
    assert _metric(text, "helpdesk_queue_oldest_wait_seconds", tier="l3") >= 30 * 3600 - 60
    assert _metric(text, "helpdesk_queue_oldest_wait_seconds", tier="l4") == 0
    assert _metric(text, "helpdesk_sla_breached_handoffs", tier="l3", state="open") == 1
    assert _metric(text, "helpdesk_sla_breached_handoffs", tier="l2", state="open") == 0
    assert client.get(f"/api/v1/handoffs/{late['id']}", headers=tokens.auth("lead")).json()["sla"]["breached"]
    assert _metric(text, "helpdesk_handoffs_created_total", reason="kb_no_answer") == 2
    assert _metric(text, "helpdesk_handoffs_created_total", reason="low_confidence") == 1
    assert "http_requests_total" in text or "http_request_duration" in text


def test_ids_too_large_for_the_database_are_422_not_500(client: TestClient, tokens: Tokens) -> None:
    # Found by the schema fuzzer: PostgreSQL integers end at 2**31-1, SQLite's at 2**63-1.
    for huge in (2**31, 2**63):
        response = client.post(f"/api/v1/handoffs/{huge}/claim", headers=tokens.auth("lead"))
        assert response.status_code in (404, 422), response.text
        rating = client.post(
            "/api/v1/ratings",
            json={"conversation_id": "c", "handoff_id": huge, "rating": 5},
            headers=tokens.auth("bot"),
        )
        assert rating.status_code == 422, rating.text


# --- rate limits ---------------------------------------------------------------------------------


def test_failed_tokens_from_one_address_get_429_with_retry_after(client: TestClient, tokens: Tokens) -> None:
    for attempt in range(10):
        wrong = client.get("/api/v1/queues/l2", headers={"Authorization": f"Bearer hd_guess{attempt}"})
        assert wrong.status_code == 401
    blocked = client.get("/api/v1/queues/l2", headers={"Authorization": "Bearer hd_guess-again"})
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 60
    # Even a right token from that address waits; requests without a token are not blocked.
    assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 429
    assert client.get("/healthz").status_code == 200
    # The metrics token is a bearer token too: from that address it waits as well; Prometheus scrapes
    # from its own address.
    assert client.get("/metrics", headers=METRICS_AUTH).status_code == 429
    prometheus = TestClient(client.app, client=("10.0.0.9", 9090))
    metrics = prometheus.get("/metrics", headers=METRICS_AUTH)
    assert _metric(metrics.text, "helpdesk_rate_limited_requests_total", kind="auth_failures") == 3


def test_per_token_limit(settings: Settings, tokens: Tokens, embedder: MiniLMEmbedder) -> None:
    limited = settings.model_copy(update={"helpdesk_token_rate_limit_per_minute": 5})
    with TestClient(create_app(limited, background=False, embedder=embedder)) as client:
        statuses = [client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429, 429]
        assert client.get("/api/v1/queues/l3", headers=tokens.auth("l3")).status_code == 200  # other token


def test_sliding_window_frees_up_after_the_window() -> None:
    now = [1000.0]
    window = SlidingWindow(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        window.hit("a")
    assert window.retry_after("a") == 60
    now[0] += 30
    assert window.retry_after("a") == 30
    now[0] += 30.5
    assert window.retry_after("a") is None
    assert RateLimitMiddleware  # imported for the type


# --- daily report --------------------------------------------------------------------------------


def _write_broker(path: Path, rows: list[tuple[str, str, float]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
        for sender, event, stamp in rows:
            data = json.dumps({"event": event, "timestamp": stamp, "text": "hi"})
            conn.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)", (sender, data))


def test_daily_report(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC).timestamp()
    # Four conversations talked to the bot today; two of them were handed over.
    _write_broker(
        settings.helpdesk_data_dir / "rasa_events.db",
        [
            ("c1", "user", noon),
            ("c2", "user", noon),
            ("c3", "user", noon),
            ("c4", "user", noon),
            ("c4", "bot", noon),
            ("old", "user", noon - 3 * 86400),
        ],
    )
    first = handoff_factory.create("c1")
    second = handoff_factory.create("c2")
    base = f"/api/v1/handoffs/{first['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
    assert client.post(f"{base}/messages", json={"text": "hi"}, headers=tokens.auth("l2")).status_code in (
        200,
        201,
    )
    assert (
        client.post(
            f"{base}/escalate", json={"tier": "l3", "note": "n"}, headers=tokens.auth("l2")
        ).status_code
        == 200
    )
    other = f"/api/v1/handoffs/{second['id']}"
    client.post(f"{other}/claim", headers=tokens.auth("l2"))
    resolved = client.post(
        f"{other}/resolve", json={"resolution": "done", "return_to_bot": True}, headers=tokens.auth("l2")
    )
    assert resolved.status_code == 200, resolved.text
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        session.add_all([Rating(conversation_id="c1", rating=5), Rating(conversation_id="c3", rating=2)])
        session.add(KbQuery(text="vpn?", abstained=True, asked_by="bot"))
    engine.dispose()

    assert client.get("/api/v1/reports/daily", headers=tokens.auth("l2")).status_code == 403
    response = client.get(
        f"/api/v1/reports/daily?from={today - timedelta(days=3)}&to={today}", headers=tokens.auth("lead")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["bot_conversations_source"] == "rasa_event_broker"
    assert [d["day"] for d in report["days"]][-1] == str(today) and len(report["days"]) == 4
    assert report["days"][0]["bot_conversations"] == 1 and report["days"][0]["contained"] == 1
    day = report["days"][-1]
    assert (day["conversations"], day["handed_over"], day["contained"]) == (4, 2, 2)
    assert day["containment_rate"] == 0.5
    assert day["escalations"]["entered_l2"] == 2 and day["escalations"]["l2_to_l3"] == 1
    assert day["escalations"]["l2_to_l3_rate"] == 0.5
    assert day["escalations"]["entered_l3"] == 1 and day["escalations"]["l3_to_l4_rate"] == 0
    assert day["first_human_response"]["count"] == 1 and day["first_human_response"]["mean_seconds"] >= 0
    assert day["time_to_resolve"]["count"] == 1
    assert day["satisfaction"] == {"ratings": 2, "average": 3.5}
    assert (day["kb_questions"], day["kb_unanswered"]) == (1, 1)

    bad = client.get(
        f"/api/v1/reports/daily?from={today}&to={today - timedelta(days=1)}", headers=tokens.auth("lead")
    )
    assert bad.status_code == 422 and "from" in bad.text
    too_long = client.get(
        f"/api/v1/reports/daily?from={today - timedelta(days=400)}", headers=tokens.auth("lead")
    )
    assert too_long.status_code == 422


def test_daily_report_without_the_broker_says_so(client: TestClient, tokens: Tokens) -> None:
    report = client.get("/api/v1/reports/daily", headers=tokens.auth("lead")).json()
    assert report["bot_conversations_source"] == "unavailable" and len(report["days"]) == 7
    assert report["days"][-1]["contained"] is None and report["days"][-1]["containment_rate"] is None


# --- audit log and user administration -----------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_users_list_revoke_rotate_are_audited(cli_env: Path) -> None:
    runner = CliRunner()
    lead_token = runner.invoke(cli, ["users", "create", "--name", "lena", "--role", "lead"]).stdout.strip()
    dana_token = runner.invoke(cli, ["users", "create", "--name", "dana", "--role", "l2"]).stdout.strip()
    listed = runner.invoke(cli, ["users", "list"])
    assert listed.exit_code == 0 and "dana" in listed.stdout and "hd_" not in listed.stdout
    seed = cli_env / "no-articles"
    seed.mkdir()
    settings = Settings(helpdesk_data_dir=cli_env, helpdesk_kb_seed_dir=seed)
    with TestClient(create_app(settings, background=False)) as client:
        dana = {"Authorization": f"Bearer {dana_token}"}
        assert client.get("/api/v1/queues/l2", headers=dana).status_code == 200
        assert runner.invoke(cli, ["users", "revoke", "--name", "dana"]).exit_code == 0
        assert client.get("/api/v1/queues/l2", headers=dana).status_code == 401
        rotated = runner.invoke(cli, ["users", "rotate", "--name", "dana"])
        assert rotated.exit_code == 0
        new_token = rotated.stdout.strip()
        assert new_token.startswith("hd_") and new_token != dana_token
        assert (
            client.get("/api/v1/queues/l2", headers={"Authorization": f"Bearer {new_token}"}).status_code
            == 200
        )
        assert runner.invoke(cli, ["users", "revoke", "--name", "nobody"]).exit_code == 1

        lead = {"Authorization": f"Bearer {lead_token}"}
        assert (
            client.get("/api/v1/audit", headers=dana | {"Authorization": f"Bearer {new_token}"}).status_code
            == 403
        )
        entries = client.get("/api/v1/audit", headers=lead).json()
        assert [(e["action"], e["target"]) for e in entries] == [
            ("user.rotate_token", "dana"),
            ("user.revoke", "dana"),
            ("user.create", "dana"),
            ("user.create", "lena"),
        ]
        assert all(e["actor"].startswith("cli:") for e in entries)
        only = client.get("/api/v1/audit?target=lena", headers=lead).json()
        assert len(only) == 1
        assert new_token not in json.dumps(entries) and dana_token not in json.dumps(entries)
