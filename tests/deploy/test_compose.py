"""docker-compose.yml is valid and wired as documented (checked by docker-compose itself, no engine)."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs Debian's docker-compose package"
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    env_file.write_text((ROOT / ".env.example").read_text())
    done = subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_the_services_of_the_topology_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "rasa",
        "action-server",
        "helpdesk-migrate",
        "helpdesk",
    }
    assert compose["services"]["rasa"]["image"] == "rasa/rasa:3.6.21-full"
    command = compose["services"]["rasa"]["command"]
    assert command[:3] == ["run", "--enable-api", "--auth-token"] and command[3] == "change-me-too"


def test_everything_waits_for_what_it_needs_to_be_healthy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "rasa", "action-server", "helpdesk"):
        assert services[name]["healthcheck"]["test"], name
    assert services["rasa"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["rasa"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # Migrations run to completion before the service starts.
    assert services["helpdesk-migrate"]["command"] == ["helpdesk", "db", "upgrade"]
    assert (
        services["helpdesk"]["depends_on"]["helpdesk-migrate"]["condition"]
        == "service_completed_successfully"
    )


def test_secrets_come_from_the_env_file_and_databases_are_separate(compose: dict[str, Any]) -> None:
    env = compose["services"]["helpdesk"]["environment"]
    assert env["DATABASE_URL"].endswith("@postgres:5432/helpdesk") and "change-me" in env["DATABASE_URL"]
    assert env["RASA_EVENTS_DB_URL"].endswith("/rasa_events")
    endpoints = yaml.safe_load((ROOT / "deploy/rasa/endpoints.yml").read_text())
    assert endpoints["tracker_store"]["db"] == "rasa" and endpoints["event_broker"]["db"] == "rasa_events"
    assert endpoints["lock_store"]["type"] == "redis"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
