"""Rasa's own PikaEventBroker (in .venv-bot) -> RabbitMQ -> the service with HELPDESK_EVENT_BROKER=rabbitmq.

The service runs as `helpdesk serve --workers 2`: both workers subscribe, RabbitMQ lets one consume. Needs
RabbitMQ on 127.0.0.1:5672 (HELPDESK_TEST_RABBITMQ_URL); skipped without it, except when CI=true.
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from yarl import URL

from handoff_api.rasa.amqp_broker import declare
from tests.harness.stack import HELPDESK, ROOT, Process, base_env, free_port

pytestmark = pytest.mark.e2e

RABBITMQ_URL = os.environ.get("HELPDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
RASA_PYTHON = ROOT / ".venv-bot" / "bin" / "python"
PUBLISHER = Path(__file__).with_name("rasa_pika_publisher.py")


class Names:
    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:12]
        self.queue = f"helpdesk_e2e_{suffix}"
        self.other_queue = f"helpdesk_e2e_{suffix}_rasa_first"
        self.exchange = f"helpdesk-e2e-{suffix}"


@pytest.fixture
async def rabbit() -> AsyncIterator[tuple[aio_pika.abc.AbstractConnection, Names]]:
    try:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"RabbitMQ is not reachable ({type(exc).__name__}); it is required when CI=true")
    names = Names()
    try:
        yield connection, names
    finally:
        cleanup = await connection.channel()
        for queue in (names.queue, names.other_queue):
            await cleanup.queue_delete(queue)
        await cleanup.exchange_delete(names.exchange)
        await connection.close()


def _rasa(*args: str) -> str:
    url = URL(RABBITMQ_URL)
    done = subprocess.run(
        [
            str(RASA_PYTHON),
            str(PUBLISHER),
            args[0],
            url.host or "127.0.0.1",
            str(url.port or 5672),
            url.user or "guest",
            url.password or "guest",
            *args[1:],
        ],
        env={**base_env(ROOT / "var"), "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def service(tmp_path: Path, rabbit: tuple[Any, Names]) -> Iterator[tuple[str, dict[str, str]]]:
    _channel, names = rabbit
    port = free_port()
    env = base_env(tmp_path)
    env.update(
        HELPDESK_PORT=str(port),
        HELPDESK_KB_WARM_START="false",
        HELPDESK_DEMO="true",
        HELPDESK_EVENT_BROKER="rabbitmq",
        RABBITMQ_URL=RABBITMQ_URL,
        RABBITMQ_QUEUE=names.queue,
        RABBITMQ_EXCHANGE=names.exchange,
    )
    tokens = {}
    for name, role in (("bot", "bot"), ("lead", "lead")):
        done = subprocess.run(
            [str(HELPDESK), "users", "create", "--name", name, "--role", role],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        tokens[name] = done.stdout.strip().splitlines()[-1]
    process = Process(
        "helpdesk", [str(HELPDESK), "serve", "--workers", "2"], ROOT, env, tmp_path / "helpdesk.log"
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.popen is not None and process.popen.poll() is None, process.tail()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the service did not start:\n{process.tail()}"
            time.sleep(0.5)
        yield url, tokens
    finally:
        process.stop()
        print(process.tail(), file=sys.stderr)


async def _consumers(connection: aio_pika.abc.AbstractConnection, queue: str) -> int | None:
    """How many consumers the queue has; None while it does not exist."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None
    count = declared.declaration_result.consumer_count
    await channel.close()
    return count


async def test_what_rasas_pika_broker_publishes_reaches_the_handoff_transcript(
    rabbit: tuple[aio_pika.abc.AbstractConnection, Names], service: tuple[str, dict[str, str]]
) -> None:
    connection, names = rabbit
    url, tokens = service
    conversation = f"e2e-pika-{uuid.uuid4().hex[:8]}"
    # The service declared the queue first (Rasa's declaration must match it) and one worker consumes.
    deadline = time.monotonic() + 120
    while (count := await _consumers(connection, names.queue)) != 1:
        assert time.monotonic() < deadline, f"consumers on the queue: {count}"
        await asyncio.sleep(0.2)

    said_at = datetime.now(UTC) - timedelta(seconds=30)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        created = await http.post(
            "/api/v1/handoffs",
            headers={"Authorization": f"Bearer {tokens['bot']}"},
            json={
                "conversation_id": conversation,
                "channel": "socketio",
                "reason": "customer_request",
                "transcript": [
                    {"role": "customer", "text": "I want a human", "at": said_at.isoformat()},
                ],
            },
        )
        assert created.status_code == 201, created.text
        handoff_id = created.json()["id"]

        await asyncio.to_thread(_rasa, "publish", names.queue, names.exchange, conversation)

        expected = [
            ("customer", "I want a human"),
            ("customer", "is anyone there?"),
            ("customer", "my password is [REDACTED PASSWORD] and it expired"),
            ("customer", "thanks"),
        ]
        deadline = time.monotonic() + 60
        while True:
            detail = (
                await http.get(
                    f"/api/v1/handoffs/{handoff_id}", headers={"Authorization": f"Bearer {tokens['lead']}"}
                )
            ).json()
            lines = [(line["role"], line["text"]) for line in detail["transcript"]]
            if len(lines) >= len(expected) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert lines == expected  # in order, once; the agent's echo is not a customer line
    # Everything was acknowledged, and still only one of the two workers consumes.
    assert await _consumers(connection, names.queue) == 1
    channel = await connection.channel()
    declared = await channel.declare_queue(names.queue, passive=True)
    assert declared.declaration_result.message_count == 0


async def test_the_service_declares_what_rasa_declared_first(
    rabbit: tuple[aio_pika.abc.AbstractConnection, Names],
) -> None:
    connection, names = rabbit
    await asyncio.to_thread(_rasa, "declare", names.other_queue, names.exchange)
    channel = await connection.channel()
    # Any difference (durability, arguments) would close the channel with PRECONDITION_FAILED here.
    queue = await declare(channel, names.other_queue, names.exchange)
    assert queue.name == names.other_queue
