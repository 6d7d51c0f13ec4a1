"""`helpdesk privacy export | erase`: one customer's data out of the service and Rasa's events, audited."""

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import case, create_engine, text, update
from typer.testing import CliRunner

from handoff_api.cli.app import app
from handoff_api.core.config import Settings, get_settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.models import Handoff, KbQuery, utcnow
from handoff_api.privacy import service
from tests.service.conftest import CUTOFF, HandoffFactory, RasaBroker, Tokens, _consume

JANE = {"id": "jdoe", "name": "Jane Doe", "email": "jane.doe@example.com", "verified": True}


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(settings.helpdesk_data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("HELPDESK_SECRET_KEY", settings.secret_key())
    monkeypatch.setenv("RASA_EVENTS_DB_URL", settings.events_db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_a_customer_is_exported_then_erased_everywhere(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
    cli: CliRunner,
) -> None:
    handoff = handoff_factory.create("conv-jane", customer=JANE, summary="Jane's VPN drops at home")
    other = handoff_factory.create("conv-other", summary="someone else's printer")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/notes", json={"text": "Jane's laptop is JD-042"}, headers=tokens.auth("l2"))
    rasa_broker.publish(
        "conv-jane", {"event": "user", "text": "my home router is a FritzBox", "timestamp": CUTOFF + 1}
    )
    rasa_broker.publish("conv-other", {"event": "user", "text": "still jammed", "timestamp": CUTOFF + 1})
    _consume(settings)
    rated = client.post(
        "/api/v1/ratings", json={"conversation_id": "conv-jane", "rating": 4}, headers=tokens.auth("bot")
    )
    assert rated.status_code == 201

    exported = cli.invoke(app, ["privacy", "export", "--email", "Jane.Doe@example.com"])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.stdout)
    assert data["conversations"] == ["conv-jane"]
    [jane] = data["handoffs"]
    assert jane["customer"]["email"] == "jane.doe@example.com"
    assert "my home router is a FritzBox" in [line["text"] for line in jane["transcript"]]
    assert [note["text"] for note in jane["notes"]] == ["Jane's laptop is JD-042"]
    assert [r["rating"] for r in data["ratings"]] == [4]

    dry = cli.invoke(app, ["privacy", "erase", "--email", "jane.doe@example.com"])
    assert dry.exit_code == 0 and "would erase 1 conversation(s): conv-jane" in dry.output
    erased = cli.invoke(app, ["privacy", "erase", "--email", "jane.doe@example.com", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "1 handoffs" in erased.output and "1 notes" in erased.output and "erased" in erased.output

    after = client.get(base, headers=tokens.auth("lead")).json()
    assert after["transcript"] == [] and after["notes"] == [] and after["summary"] == "[erased]"
    assert after["customer"]["email"] is None and after["status"] == "assigned", "the figures stay"
    untouched = client.get(f"/api/v1/handoffs/{other['id']}", headers=tokens.auth("lead")).json()
    assert untouched["summary"] == "someone else's printer" and untouched["transcript"]
    assert (
        client.get(
            "/api/v1/ratings", params={"conversation_id": "conv-jane"}, headers=tokens.auth("lead")
        ).json()
        == []
    )
    rasa = create_engine(settings.events_db_url)
    with rasa.connect() as conn:
        senders = [row[0] for row in conn.execute(text("SELECT sender_id FROM events"))]
    rasa.dispose()
    assert "conv-jane" not in senders and "conv-other" in senders
    audit = client.get(
        "/api/v1/audit", params={"action": "privacy.erase"}, headers=tokens.auth("lead")
    ).json()
    assert [(e["target"], e["detail"]["conversations"]) for e in audit] == [
        ("jane.doe@example.com", ["conv-jane"])
    ]
    again = json.loads(cli.invoke(app, ["privacy", "export", "--conversation", "conv-jane"]).stdout)
    assert "FritzBox" not in json.dumps(again) and "Jane" not in json.dumps(again)


def test_export_and_erase_need_someone_to_look_for(cli: CliRunner) -> None:
    for command in ("export", "erase"):
        refused = cli.invoke(app, ["privacy", command])
        assert refused.exit_code == 2 and "--conversation or --email" in refused.output


def test_retention_erases_what_is_older_than_its_period_and_keeps_the_rest(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    old = handoff_factory.create("conv-old", customer=JANE, summary="an old VPN problem")
    recent = handoff_factory.create("conv-recent", summary="a printer last week")
    still_open = handoff_factory.create("conv-open", summary="waiting since last year")
    for handoff in (old, recent):
        base = f"/api/v1/handoffs/{handoff['id']}"
        client.post(f"{base}/claim", headers=tokens.auth("l2"))
        client.post(
            f"{base}/resolve", json={"resolution": "done", "return_to_bot": False}, headers=tokens.auth("l2")
        )
    rasa_broker.publish("conv-old", {"event": "user", "text": "hello from last year"})
    rasa_broker.publish("conv-recent", {"event": "user", "text": "hello from last week"})
    engine = make_engine(settings.sqlalchemy_url)
    long_ago = utcnow() - timedelta(days=400)
    with make_session_factory(engine).begin() as session:
        session.execute(
            update(Handoff)
            .where(Handoff.id.in_([old["id"], still_open["id"]]))
            .values(resolved_at=case((Handoff.id == old["id"], long_ago), else_=None), created_at=long_ago)
        )
        session.add(
            KbQuery(text="reach me at jane.doe@example.com", abstained=True, asked_by="bot", at=long_ago)
        )
    factory = make_session_factory(engine)
    cutoff = utcnow() - timedelta(days=365)
    with factory.begin() as session:
        expired, counts = service.apply_retention(session, cutoff)
    rasa = make_engine(settings.events_db_url, write_transactions=False)
    removed = service.expire_in_rasa(rasa, expired, cutoff)
    assert expired == ["conv-old"] and counts["old_searches"] == 1 and removed == 1
    with factory.begin() as session:
        assert service.apply_retention(session, cutoff)[0] == [], "erased once"
    engine.dispose()
    with rasa.connect() as conn:
        senders = [row[0] for row in conn.execute(text("SELECT sender_id FROM events"))]
    rasa.dispose()
    assert senders == ["conv-recent"]

    def summary(handoff: dict[str, object]) -> str:
        return str(
            client.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("lead")).json()["summary"]
        )

    assert summary(old) == "[erased]"
    assert summary(recent) == "a printer last week"
    assert summary(still_open) == "waiting since last year", "an open handoff is never erased"
    assert Settings(helpdesk_data_dir=settings.helpdesk_data_dir).helpdesk_retention_days == 365
