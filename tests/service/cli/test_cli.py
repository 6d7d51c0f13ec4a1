"""The `helpdesk` console script: users and tokens, demo seeding."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from handoff_api.cli.app import app
from handoff_api.core.config import Settings, get_settings
from handoff_api.main import create_app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _client(data_dir: Path) -> TestClient:
    empty_corpus = data_dir / "no-articles"
    empty_corpus.mkdir(exist_ok=True)
    settings = Settings(helpdesk_data_dir=data_dir, helpdesk_kb_seed_dir=empty_corpus)
    return TestClient(create_app(settings, background=False))


def test_users_create_prints_a_working_token_once(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["users", "create", "--name", "dana", "--role", "l2"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("hd_")
    assert token not in (cli_env / "helpdesk.db").read_bytes().decode("latin-1")  # only its hash is stored
    with _client(cli_env) as client:
        assert (
            client.get("/api/v1/queues/l2", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    again = CliRunner().invoke(app, ["users", "create", "--name", "dana", "--role", "l3"])
    assert again.exit_code == 1 and "exists" in again.output


def test_users_create_rejects_an_unknown_role(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["users", "create", "--name", "x", "--role", "boss"])
    assert result.exit_code == 2 and "role must be one of" in result.output


def test_demo_seed_is_idempotent_and_recovers_a_lost_token_file(cli_env: Path) -> None:
    env_file = cli_env / "demo.env"
    assert CliRunner().invoke(app, ["demo", "seed", "--env-file", str(env_file)]).exit_code == 0
    first = env_file.read_text()
    assert "HELPDESK_ALICE_TOKEN=hd_" in first and "RASA_TOKEN=" in first
    assert CliRunner().invoke(app, ["demo", "seed", "--env-file", str(env_file)]).exit_code == 0
    assert env_file.read_text() == first
    env_file.unlink()
    assert CliRunner().invoke(app, ["demo", "seed", "--env-file", str(env_file)]).exit_code == 0
    tokens = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    with _client(cli_env) as client:
        queue = client.get(
            "/api/v1/queues/l2", headers={"Authorization": f"Bearer {tokens['HELPDESK_ALICE_TOKEN']}"}
        )
        assert queue.status_code == 200
        old_alice = dict(line.split("=", 1) for line in first.splitlines())["HELPDESK_ALICE_TOKEN"]
        assert (
            client.get("/api/v1/queues/l2", headers={"Authorization": f"Bearer {old_alice}"}).status_code
            == 401
        )


def test_kb_export_then_import_round_trips_losslessly(cli_env: Path) -> None:
    from handoff_api.kb.index import STARTER_CORPUS
    from knowledge_base.articles import load_articles

    first = CliRunner().invoke(app, ["kb", "import", str(STARTER_CORPUS)])
    count = len(load_articles(STARTER_CORPUS).articles)
    assert first.exit_code == 0 and f"{count}/{count}" in first.output, first.output
    assert f"{count} created" in first.output and "/api/v1/kb/index" in first.output
    exported = cli_env / "exported"
    assert CliRunner().invoke(app, ["kb", "export", str(exported)]).exit_code == 0
    original = {
        a.id: a.model_dump(exclude={"updated_at", "updated_by"})
        for a in load_articles(STARTER_CORPUS).articles
    }
    again = {
        a.id: a.model_dump(exclude={"updated_at", "updated_by"}) for a in load_articles(exported).articles
    }
    assert again == original and len(again) >= 40
    second = CliRunner().invoke(app, ["kb", "import", str(exported)])
    assert second.exit_code == 0 and "0 created, 0 updated" in second.output


def test_kb_import_reports_a_broken_file_and_keeps_the_rest(cli_env: Path) -> None:
    corpus = cli_env / "corpus"
    corpus.mkdir()
    (corpus / "good-one.md").write_text("---\ntitle: Good\nstatus: published\n---\nBody.\n")
    (corpus / "bad-one.md").write_text("---\ntitle: Bad\nstatus: live\n---\nBody.\n")
    result = CliRunner().invoke(app, ["kb", "import", str(corpus)])
    assert result.exit_code == 1
    assert "bad-one.md" in result.output and "status" in result.output
    assert "1 created" in result.output


def test_serve_refuses_placeholder_secrets_the_demo_directory_and_the_dev_mailbox(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELPDESK_DEMO", raising=False)
    monkeypatch.setenv("HELPDESK_SECRET_KEY", "a-long-random-string")  # what .env.example shows
    monkeypatch.setenv("RASA_TOKEN", "change-me-too")
    refused = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert refused.exit_code == 1
    for setting in ("HELPDESK_SECRET_KEY", "RASA_TOKEN", "HELPDESK_DIRECTORY=ldap", "HELPDESK_MAIL=smtp"):
        assert setting in refused.output, (setting, refused.output)
    assert not (cli_env / "helpdesk.db").exists(), "refused before touching the database"

    # Real settings: nothing to say.
    real = Settings(
        helpdesk_data_dir=cli_env,
        helpdesk_secret_key="0f" * 32,
        rasa_token="9a" * 32,
        helpdesk_directory="ldap",
        helpdesk_mail="smtp",
    )
    assert real.unsafe_outside_demo() == []
    short = real.model_copy(update={"helpdesk_secret_key": "short-but-not-a-placeholder"})
    assert ["HELPDESK_SECRET_KEY" in problem for problem in short.unsafe_outside_demo()] == [True]
    # Unset, a random key is generated in the data dir: that is safe.
    assert real.model_copy(update={"helpdesk_secret_key": None}).unsafe_outside_demo() == []
