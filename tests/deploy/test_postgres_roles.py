"""deploy/postgres/init.sh against the real PostgreSQL: each application's role can do what it needs and
nothing else. Names of its own per run (the server is shared); skipped only outside CI without PostgreSQL."""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres", "autocommit": True}


@pytest.fixture
def roles() -> Iterator[dict[str, str]]:
    try:
        psycopg.connect(**ADMIN, connect_timeout=3).close()  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable ({exc}); it is required when CI=true")
    if shutil.which("psql") is None:
        pytest.fail("psql is missing (the postgres image has it; here: apt install postgresql-client)")
    suffix = uuid.uuid4().hex[:8]
    names = {
        "HELPDESK_DB_USER": f"hd_{suffix}",
        "HELPDESK_DB_NAME": f"hd_{suffix}",
        "RASA_DB_USER": f"rasa_{suffix}",
        "RASA_DB_NAME": f"rasa_{suffix}",
        "RASA_EVENTS_DB_NAME": f"rasaev_{suffix}",
    }
    env = (
        os.environ
        | names
        | {
            "PGHOST": "127.0.0.1",
            "POSTGRES_USER": "postgres",
            "HELPDESK_DB_PASSWORD": "hd-password",
            "RASA_DB_PASSWORD": "rasa-password",
        }
    )
    try:
        subprocess.run(
            ["bash", str(ROOT / "deploy/postgres/init.sh")], env=env, check=True, capture_output=True
        )
        yield names
    finally:
        with psycopg.connect(**ADMIN) as admin:  # type: ignore[arg-type]
            for database in ("HELPDESK_DB_NAME", "RASA_DB_NAME", "RASA_EVENTS_DB_NAME"):
                admin.execute(f'DROP DATABASE IF EXISTS "{names[database]}" WITH (FORCE)')
            for role in ("HELPDESK_DB_USER", "RASA_DB_USER"):
                admin.execute(f'DROP ROLE IF EXISTS "{names[role]}"')


def _as(role: str, database: str) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=5432, user=role, dbname=database, autocommit=True)


def test_each_application_has_its_own_role_and_only_what_it_needs(roles: dict[str, str]) -> None:
    service, rasa = roles["HELPDESK_DB_USER"], roles["RASA_DB_USER"]
    # Rasa creates its tracker's table at its first start, in its own database.
    with _as(rasa, roles["RASA_DB_NAME"]) as conn:
        conn.execute(
            "CREATE TABLE events (id serial PRIMARY KEY, sender_id text, data text, timestamp float)"
        )
        conn.execute("INSERT INTO events (sender_id, data, timestamp) VALUES ('a', '{}', 1), ('b', '{}', 2)")
    # Rasa cannot reach the service's database.
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _as(rasa, roles["HELPDESK_DB_NAME"]).close()
    # The service owns its own database ...
    with _as(service, roles["HELPDESK_DB_NAME"]) as conn:
        conn.execute("CREATE TABLE handoffs (id serial PRIMARY KEY)")
    # ... reads Rasa's events (the daily report) and deletes them (erasure, retention), and no more.
    with _as(service, roles["RASA_DB_NAME"]) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (2,)
        assert conn.execute("DELETE FROM events WHERE sender_id = 'a'").rowcount == 1
        for forbidden in (
            "INSERT INTO events (sender_id, data) VALUES ('forged', '{}')",
            "UPDATE events SET data = '{}'",
            "DROP TABLE events",
            "CREATE TABLE mine (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
    # Rasa's SQL broker database, when chosen, is the same.
    with _as(rasa, roles["RASA_EVENTS_DB_NAME"]) as conn:
        conn.execute("CREATE TABLE events (id serial PRIMARY KEY, sender_id text, data text)")
    with _as(service, roles["RASA_EVENTS_DB_NAME"]) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
