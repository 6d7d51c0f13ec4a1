"""A scaled-out desk on loopback: two Rasa instances and two service workers sharing real infrastructure.

Rasa's tracker store is PostgreSQL, its lock store Redis, its event broker RabbitMQ; both Rasa
instances share socket.io rooms through Redis (bot/connectors/shared_rooms.py). The two helpdesk
workers are separate processes on PostgreSQL consuming the RabbitMQ queue, each pushing agent
messages through a different Rasa instance. Every name (databases, queue, exchange, Redis prefixes)
is unique per run and removed afterwards.
"""

import asyncio
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.harness.stack import BOT_DIR, HELPDESK, RASA, ROOT, Process, base_env, free_port, wait_until_ready

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379/0"

ENDPOINTS = """\
action_endpoint:
  url: http://127.0.0.1:{actions_port}/webhook
tracker_store:
  type: connectors.sql_stores.SQLTrackerStore
  dialect: postgresql
  url: 127.0.0.1
  port: 5432
  username: postgres
  password: ""
  db: {name}_rasa
  login_db: postgres
lock_store:
  type: connectors.lock_store.RedisLockStore
  url: 127.0.0.1
  port: 6379
  db: 0
  key_prefix: {name}
event_broker:
  type: pika
  url: 127.0.0.1
  port: 5672
  username: guest
  password: guest
  queues:
    - {name}
  exchange_name: {name}
"""


@dataclass
class Cluster:
    data_dir: Path
    model: Path
    instances: int = 2
    name: str = field(default_factory=lambda: f"scale{uuid.uuid4().hex[:10]}")
    rasa_token: str = "scale-rasa-token"
    secret_key: str = "scale-secret-key-not-a-real-one"
    actions_port: int = field(default_factory=free_port)
    rasa_ports: list[int] = field(default_factory=list)
    helpdesk_ports: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    # Settings for every process of the run (the bench lifts rate limits with it).
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rasa_ports = [free_port() for _ in range(self.instances)]
        self.helpdesk_ports = [free_port() for _ in range(self.instances)]

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def helpdesk_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.helpdesk_ports]

    @property
    def database_url(self) -> str:
        return make_url(POSTGRES_ADMIN_URL).set(database=f"{self.name}_helpdesk").render_as_string(False)

    def service_env(self, index: int = 0) -> dict[str, str]:
        env = base_env(self.data_dir / f"helpdesk-{index}")
        env.update(
            DATABASE_URL=self.database_url,
            HELPDESK_SECRET_KEY=self.secret_key,
            HELPDESK_PORT=str(self.helpdesk_ports[index]),
            HELPDESK_EVENT_BROKER="rabbitmq",
            RABBITMQ_URL=RABBITMQ_URL,
            RABBITMQ_QUEUE=self.name,
            RABBITMQ_EXCHANGE=self.name,
            # Each worker pushes agent messages through a different Rasa instance.
            RASA_URL=self.rasa_urls[index],
            RASA_TOKEN=self.rasa_token,
            # The demo directory and dev mailbox: `helpdesk serve` refuses them otherwise.
            HELPDESK_DEMO="true",
        )
        env.update(self.extra_env)
        return env

    def bot_env(self) -> dict[str, str]:
        env = base_env(self.data_dir)
        env.update(
            HELPDESK_URL=self.helpdesk_urls[0],
            HELPDESK_BOT_TOKEN=self.tokens.get("bot", ""),
            SANIC_HOST="127.0.0.1",
            SOCKETIO_REDIS_URL=REDIS_URL,
            SOCKETIO_REDIS_CHANNEL=self.name,
            # The REST channel (the benchmarks' customers) is open in demo mode only.
            HELPDESK_DEMO="true",
        )
        env.update(self.extra_env)
        return env

    def _admin(self, *statements: str) -> None:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            admin.dispose()

    def _helpdesk(self, *args: str) -> str:
        done = subprocess.run(
            [str(HELPDESK), *args], env=self.service_env(), capture_output=True, text=True, check=True
        )
        return done.stdout

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        models = self.data_dir / "models"
        models.mkdir(exist_ok=True)
        shutil.copy(self.model, models / self.model.name)
        self._admin(f'CREATE DATABASE "{self.name}_helpdesk"', f'CREATE DATABASE "{self.name}_rasa"')
        self._helpdesk("db", "upgrade")
        for user, role in [("bot", "bot"), ("alice", "l2"), ("bob", "l2"), ("lead", "lead")]:
            self.tokens[user] = self._helpdesk("users", "create", "--name", user, "--role", role).split()[-1]
        endpoints = self.data_dir / "endpoints.yml"
        endpoints.write_text(ENDPOINTS.format(actions_port=self.actions_port, name=self.name))
        for index in range(self.instances):
            (self.data_dir / f"helpdesk-{index}").mkdir(exist_ok=True)
            self.processes[f"helpdesk-{index}"] = Process(
                f"helpdesk-{index}",
                [str(HELPDESK), "serve"],
                ROOT,
                self.service_env(index),
                self.data_dir / f"helpdesk-{index}.log",
            )
        self.processes["actions"] = Process(
            "actions",
            [str(RASA), "run", "actions", "--port", str(self.actions_port), "--actions", "actions"],
            BOT_DIR,
            self.bot_env(),
            self.data_dir / "actions.log",
        )
        for index, port in enumerate(self.rasa_ports):
            self.processes[f"rasa-{index}"] = Process(
                f"rasa-{index}",
                [
                    str(RASA),
                    "run",
                    "-i",
                    "127.0.0.1",
                    "--enable-api",
                    "--auth-token",
                    self.rasa_token,
                    "--port",
                    str(port),
                    "--model",
                    str(models),
                    "--endpoints",
                    str(endpoints),
                    "--credentials",
                    "credentials.yml",
                ],
                BOT_DIR,
                self.bot_env(),
                self.data_dir / f"rasa-{index}.log",
            )
        for process in self.processes.values():
            process.start()
        self.wait_ready()

    def _checks(self) -> dict[str, str]:
        checks = {"actions": f"http://127.0.0.1:{self.actions_port}/health"}
        for index in range(self.instances):
            checks[f"helpdesk-{index}"] = f"{self.helpdesk_urls[index]}/healthz"
            checks[f"rasa-{index}"] = f"{self.rasa_urls[index]}/status?token={self.rasa_token}"
        return checks

    def wait_ready(self, timeout: float = 600) -> None:
        wait_until_ready(self.processes, self._checks(), timeout)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self._admin(
            f'DROP DATABASE IF EXISTS "{self.name}_helpdesk" WITH (FORCE)',
            f'DROP DATABASE IF EXISTS "{self.name}_rasa" WITH (FORCE)',
        )
        # Redis keeps nothing of the run: Rasa deletes its locks, pub/sub channels hold no data.
        asyncio.run(self._delete_queue())

    async def _delete_queue(self) -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.name)
            await channel.exchange_delete(self.name)
