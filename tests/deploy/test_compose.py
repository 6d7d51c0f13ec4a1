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


def services_env(compose: dict[str, Any], name: str) -> dict[str, Any]:
    environment: dict[str, Any] = compose["services"][name].get("environment") or {}
    return environment


def test_the_services_of_the_topology_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "rabbitmq",
        "rasa",
        "action-server",
        "helpdesk-migrate",
        "helpdesk",
        "proxy",
    }
    rasa_build = compose["services"]["rasa"]["build"]
    dockerfile = (ROOT / rasa_build["dockerfile"]).read_text()
    assert dockerfile.startswith("FROM rasa/rasa:3.6.21-full\n")
    # The versions the bot is tested with (requirements/bot.txt), not the image's own.
    tested = dict(
        line.split("==") for line in (ROOT / "requirements/bot.txt").read_text().splitlines() if "==" in line
    )
    for package in ("jsonschema", "python-socketio", "python-engineio"):
        assert f'"{package}=={tested[package]}"' in dockerfile, package
    command = compose["services"]["rasa"]["command"]
    assert command[:3] == ["run", "--enable-api", "--auth-token"] and command[3] == "change-me-too"


def _published(port: Any) -> tuple[str | None, str]:
    """(host address or None for every interface, host port), from either form docker-compose writes."""
    if isinstance(port, dict):
        return port.get("host_ip"), str(port["published"])
    parts = str(port).split("/")[0].split(":")
    return (parts[0] if len(parts) == 3 else None), parts[-2]


def test_only_the_proxy_is_published_and_rasas_api_stays_inside(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {
        name: [_published(p) for p in service.get("ports", [])] for name, service in services.items()
    }
    # Rasa's whole HTTP API (trackers, bot messages, models) was published on every interface.
    assert published["rasa"] == []
    assert "--cors" not in services["rasa"]["command"]
    # Administration ports on the host's loopback only.
    assert published["helpdesk"] == [("127.0.0.1", "8000")]
    assert published["rabbitmq"] == [("127.0.0.1", "15672")]
    for name in ("postgres", "redis", "action-server", "helpdesk-migrate"):
        assert published[name] == [], name
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:2")
    assert sorted(port for _, port in published["proxy"]) == ["443", "80"]
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    assert any(
        str(v).startswith(f"{ROOT / 'deploy/Caddyfile'}:/etc/caddy/Caddyfile") for v in proxy["volumes"]
    )
    routes = [line.split() for line in caddyfile.splitlines() if line.strip().startswith("@")]
    rasa_paths = next(words[2:] for words in routes if words[0] == "@rasa_channels")
    # The widget and the messengers; never Rasa's API (/conversations, /model, /status) or REST channel.
    assert "/socket.io/*" in rasa_paths and "/webhooks/telegram/*" in rasa_paths
    assert not any(
        p.startswith(("/conversations", "/model", "/status", "/webhooks/rest")) for p in rasa_paths
    )
    assert "reverse_proxy rasa:5005" in caddyfile and "reverse_proxy helpdesk:8000" in caddyfile
    assert ["@metrics", "path", "/metrics"] in routes


def test_compose_runs_with_a_real_directory_and_mail_unless_told_it_is_a_demo(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["helpdesk"]["environment"]
    assert (env["HELPDESK_DEMO"], env["HELPDESK_DIRECTORY"], env["HELPDESK_MAIL"]) == (
        "false",
        "ldap",
        "smtp",
    )
    assert env["LDAP_URL"].startswith("ldaps://") and env["SMTP_HOST"] and env["SMTP_FROM"]


def test_everything_waits_for_what_it_needs_to_be_healthy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "rabbitmq", "rasa", "action-server", "helpdesk"):
        assert services[name]["healthcheck"]["test"], name
    for dependency in ("postgres", "redis", "rabbitmq"):
        assert services["rasa"]["depends_on"][dependency]["condition"] == "service_healthy", dependency
    # The service consumes Rasa's events from RabbitMQ: it starts once the broker is up.
    assert services["helpdesk"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    # Migrations run to completion before the service starts.
    assert services["helpdesk-migrate"]["command"] == ["helpdesk", "db", "upgrade"]
    assert (
        services["helpdesk"]["depends_on"]["helpdesk-migrate"]["condition"]
        == "service_completed_successfully"
    )


def test_secrets_come_from_the_env_file_and_databases_are_separate(compose: dict[str, Any]) -> None:
    env = compose["services"]["helpdesk"]["environment"]
    assert env["DATABASE_URL"] == "postgresql+psycopg://helpdesk:change-me-helpdesk@postgres:5432/helpdesk"
    # The daily report counts bot conversations in Rasa's tracker store (the broker is RabbitMQ).
    assert env["RASA_EVENTS_DB_URL"] == "postgresql+psycopg://helpdesk:change-me-helpdesk@postgres:5432/rasa"
    # Each application holds its own role's password, none the superuser's.
    assert services_env(compose, "rasa").get("RASA_DB_PASSWORD") == "change-me-rasa"
    for name in compose["services"]:
        if name != "postgres":
            environment = services_env(compose, name)
            assert "POSTGRES_PASSWORD" not in environment, name
            assert not any(":change-me@" in str(value) for value in environment.values()), name
    endpoints = yaml.safe_load((ROOT / "deploy/rasa/endpoints.yml").read_text())
    assert endpoints["tracker_store"]["db"] == "rasa"
    assert (endpoints["tracker_store"]["username"], endpoints["tracker_store"]["password"]) == (
        "rasa",
        "${RASA_DB_PASSWORD}",
    )
    # Rasa's redis lock store with a 50 ms look-again (bot/connectors, mounted at /app/connectors).
    assert endpoints["lock_store"]["type"] == "connectors.lock_store.RedisLockStore"
    volumes = compose["services"]["rasa"]["volumes"]
    assert any(v.endswith("/bot/connectors:/app/connectors:ro") for v in volumes), volumes
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def test_rasa_publishes_to_rabbitmq_and_the_service_consumes_that_queue(compose: dict[str, Any]) -> None:
    services = compose["services"]
    rabbitmq = services["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:3.12")
    assert any(
        str(volume).endswith(":/var/lib/rabbitmq:rw") or str(volume).endswith(":/var/lib/rabbitmq")
        for volume in rabbitmq["volumes"]
    )
    # Credentials from the env file, the same for RabbitMQ, Rasa and the service.
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_USER"] == "helpdesk"
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"] == "change-me-rabbit"
    assert services["rasa"]["environment"]["RABBITMQ_PASSWORD"] == "change-me-rabbit"
    env = services["helpdesk"]["environment"]
    assert env["HELPDESK_EVENT_BROKER"] == "rabbitmq"
    assert env["RABBITMQ_URL"] == "amqp://helpdesk:change-me-rabbit@rabbitmq:5672/%2F"

    endpoints = yaml.safe_load((ROOT / "deploy/rasa/endpoints.yml").read_text())
    broker = endpoints["event_broker"]
    assert broker["type"] == "pika" and broker["url"] == "rabbitmq" and broker["port"] == 5672
    assert (broker["username"], broker["password"]) == ("${RABBITMQ_USER}", "${RABBITMQ_PASSWORD}")
    # Rasa declares the queue the service consumes (and the default exchange, which the service assumes).
    assert env["RABBITMQ_QUEUE"] in broker["queues"]
    assert "exchange_name" not in broker and "RABBITMQ_EXCHANGE" not in env


def test_every_rasa_replica_loads_the_website_channel_and_shares_socket_rooms(
    compose: dict[str, Any],
) -> None:
    rasa = compose["services"]["rasa"]
    credentials = yaml.safe_load((ROOT / "bot/credentials.yml").read_text())
    assert "connectors.website.WebsiteInput" in credentials
    # The official image has no `connectors` package: it is mounted and put on the import path.
    assert any(str(v).startswith(f"{ROOT / 'bot/connectors'}:/app/connectors") for v in rasa["volumes"])
    assert rasa["environment"]["PYTHONPATH"] == "/app"
    # The action fallback needs the bot's actions in Rasa, and the shared text rules its image installs.
    volumes = [str(v) for v in rasa["volumes"]]
    assert any(v.startswith(f"{ROOT / 'bot/actions'}:/app/actions") for v in volumes)
    assert not any(path.is_symlink() for path in (ROOT / "bot").rglob("*")), "no links into the service"
    for dockerfile in (
        "deploy/rasa.Dockerfile",
        "deploy/action-server.Dockerfile",
        "deploy/helpdesk.Dockerfile",
    ):
        text = (ROOT / dockerfile).read_text()
        assert "COPY libs/helpdesk-text" in text and "pip install --no-cache-dir /tmp/helpdesk-text" in text
    assert rasa["environment"]["HELPDESK_URL"] == "http://helpdesk:8000"
    # Replicas share socket.io rooms through Redis (not the lock store's database).
    redis_url = rasa["environment"]["SOCKETIO_REDIS_URL"]
    lock_store = yaml.safe_load((ROOT / "deploy/rasa/endpoints.yml").read_text())["lock_store"]
    assert redis_url.startswith("redis://redis:6379/") and not redis_url.endswith(f"/{lock_store['db']}")


def test_rasa_refuses_a_placeholder_token_unless_it_is_a_demo(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    rasa = compose["services"]["rasa"]
    assert rasa["entrypoint"] == ["/app/deploy/start.sh"]
    assert any(
        str(v).startswith(f"{ROOT / 'deploy/rasa/start.sh'}:/app/deploy/start.sh") for v in rasa["volumes"]
    )
    # A stand-in `rasa` that says what it was asked to do.
    fake = tmp_path / "rasa"
    fake.write_text('#!/bin/sh\necho "rasa $*"\n')
    fake.chmod(0o755)

    def start(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "deploy/rasa/start.sh"), "run", "--enable-api"],
            env={"PATH": "/usr/bin:/bin", "RASA_COMMAND": str(fake), **env},
            capture_output=True,
            text=True,
            check=False,
        )

    for token in ("change-me-too", "", "short-but-not-a-placeholder"):
        refused = start(RASA_TOKEN=token)
        assert refused.returncode == 1 and "RASA_TOKEN" in refused.stderr, token
        assert "rasa run" not in refused.stdout
    assert start(RASA_TOKEN="change-me-too", HELPDESK_DEMO="true").stdout == "rasa run --enable-api\n"
    assert start(RASA_TOKEN="9f" * 32).stdout == "rasa run --enable-api\n"
