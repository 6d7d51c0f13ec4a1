"""End-to-end handoff latencies on the real stack: bot -> agents, customer -> agent, agent -> customer.

Run:  .venv/bin/python bench/handoff_latency.py [--handoffs 30] [--quick]

Starts the service, the action server and Rasa with the trained model (tests/e2e/stack.py). An L2
agent (`alice`) listens to the server-sent events of `GET /api/v1/events`, as the console does. Then,
N times, one after the other, a new customer on Rasa's socket.io channel (the widget's) asks for a
person, and:

* bot decides -> agents see it: from the instant the service stored the handoff that the bot's
  `action_handoff` posted (`at` of the `handoff.created` event, the service's clock, the same
  machine's) to the moment the agent's event stream delivers it. Also reported: from the customer's
  message (so with NLU, the policies and the action) to the event, and to the bot's ticket message;
* customer writes -> agent sees it: from `user_uttered` to the `message.customer` event (Rasa's
  event broker, read by the service, then the event stream);
* agent replies -> customer sees it: from `POST /handoffs/{id}/messages` to the customer's
  `bot_uttered` (the outbox delivers it through Rasa's tracker/events API and socket.io). The agent
  replies `--agent-reads` seconds (1) after claiming, as a person reads the handoff first: a reply
  that reaches Rasa while the bot's own turn still holds the conversation's lock waits for it, and
  Rasa looks at a held lock once a second (a run with no pause measured 1.1 s on that path).

Baselines measured in the same run: the agent's own claim -> the event stream shows it (the event
stream alone, no bot), and a bot turn over socket.io with an intent payload (`/greet`, no NLU, no
custom action: Rasa's own round trip). Also recorded: each process's memory idle and after the run.
Target: each p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    BenchStack,
    data_dir,
    default_out,
    load_average,
    machine_info,
    now_iso,
    quick_mode,
    stack_memory,
    summary,
    wait_kb,
    write_json,
)
from handoff_api.api.routes.events import POLL_SECONDS  # noqa: E402
from tests.e2e.customer import Customer  # noqa: E402
from tests.e2e.stack import trained_model  # noqa: E402

TARGET_MS = 300
PATHS = {
    "bot_decides_to_agent": "bot decides -> agents see it (SSE)",
    "customer_to_agent": "customer writes -> agent sees it (SSE)",
    "agent_to_customer": "agent replies -> customer sees it (socket.io)",
}
CONTEXT = {
    "customer_asks_to_agent": "customer asks for a person -> agents see the handoff (SSE)",
    "customer_asks_to_ticket_message": "customer asks for a person -> the bot's ticket message",
}
BASELINES = {
    "claim_to_agent": "baseline: agent claims -> the event stream shows it (service only)",
    "socketio_bot_turn": "baseline: a bot turn over socket.io, intent payload, no custom action",
}


class EventStream:
    """The agent's `GET /api/v1/events`: every event with the wall-clock time it arrived."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=None
        )
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with self.http.stream("GET", "/api/v1/events") as response:
            response.raise_for_status()
            self.connected.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    await self.queue.put((time.time(), json.loads(line[5:].strip())))

    async def start(self) -> None:
        self.task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), 30)
        # The stream starts after the latest event at connection time: let its first poll pass.
        await asyncio.sleep(0.5)

    async def wait_for(
        self, kind: str, handoff_id: int | None = None, timeout: float = 30
    ) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        while True:
            received_at, event = await asyncio.wait_for(
                self.queue.get(), max(0.05, deadline - time.monotonic())
            )
            if event["kind"] == kind and (handoff_id is None or event["handoff_id"] == handoff_id):
                return received_at, event

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task
        await self.http.aclose()


def event_time(event: dict[str, Any]) -> float:
    """The service's `at` (naive UTC, ISO) as a Unix time."""
    return datetime.fromisoformat(event["at"].rstrip("Z")).replace(tzinfo=UTC).timestamp()


async def socket_bot_turn(rasa_url: str) -> float:
    customer = Customer(rasa_url)
    await customer.connect()
    try:
        started = time.monotonic()
        await customer.say("/greet")
        received_at, _ = await customer.next_message()
        return received_at - started
    finally:
        await customer.close()


async def one_handoff(
    stack: BenchStack, agent: httpx.AsyncClient, events: EventStream, n: int, reads: float
) -> dict[str, float]:
    out: dict[str, float] = {}
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        asked_wall = time.time()
        asked = await customer.say("I want to talk to a human")
        (seen_wall, created), (told_at, told) = await asyncio.gather(
            events.wait_for("handoff.created"), customer.wait_for(lambda t: "HD-" in t)
        )
        if created["number"] not in told:
            raise RuntimeError(f"event {created['number']} is not the customer's ticket: {told!r}")
        handoff_id = created["handoff_id"]
        out["bot_decides_to_agent"] = seen_wall - event_time(created)
        out["customer_asks_to_agent"] = seen_wall - asked_wall
        out["customer_asks_to_ticket_message"] = told_at - asked

        claim_wall = time.time()
        claimed = await agent.post(f"/api/v1/handoffs/{handoff_id}/claim")
        claimed.raise_for_status()
        claim_seen, _ = await events.wait_for("handoff.claimed", handoff_id)
        out["claim_to_agent"] = claim_seen - claim_wall

        await asyncio.sleep(reads)  # the agent reads what the bot learned
        text = f"Hi, this is Alice from L2 ({n}). What is going on?"
        replied = time.monotonic()
        sent = await agent.post(f"/api/v1/handoffs/{handoff_id}/messages", json={"text": text})
        sent.raise_for_status()
        got_at, _ = await customer.wait_for(lambda t: t == text)
        out["agent_to_customer"] = got_at - replied

        wrote_wall = time.time()
        await customer.say(f"my laptop does not see the office wifi ({n})")
        arrived, _ = await events.wait_for("message.customer", handoff_id)
        out["customer_to_agent"] = arrived - wrote_wall

        resolved = await agent.post(
            f"/api/v1/handoffs/{handoff_id}/resolve", json={"resolution": "bench", "return_to_bot": False}
        )
        resolved.raise_for_status()
    finally:
        await customer.close()
    out["socketio_bot_turn"] = await socket_bot_turn(stack.rasa_url)
    return out


async def measure(
    stack: BenchStack, handoffs: int, warmup: int, reads: float
) -> tuple[dict[str, list[float]], int]:
    samples: dict[str, list[float]] = {k: [] for k in (*PATHS, *CONTEXT, *BASELINES)}
    failed = 0
    agent = httpx.AsyncClient(
        base_url=stack.helpdesk_url, headers={"Authorization": f"Bearer {stack.tokens['alice']}"}, timeout=30
    )
    events = EventStream(stack.helpdesk_url, stack.tokens["alice"])
    await events.start()
    try:
        for n in range(warmup + handoffs):
            try:
                result = await one_handoff(stack, agent, events, n, reads)
            except (TimeoutError, RuntimeError, httpx.HTTPError) as error:
                failed += 1
                print(f"handoff {n} failed: {error!r}", flush=True)
                # Drop what is left of that handoff's events.
                while not events.queue.empty():
                    events.queue.get_nowait()
                continue
            if n >= warmup:
                for key, seconds in result.items():
                    samples[key].append(seconds)
            print(
                f"handoff {n:3d}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.items()),
                flush=True,
            )
    finally:
        await events.close()
        await agent.aclose()
    return samples, failed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (also BENCH_QUICK=1)")
    parser.add_argument("--handoffs", type=int, default=None, help="timed handoffs (default 30, quick 5)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed handoffs first (default 2, quick 1)"
    )
    parser.add_argument(
        "--agent-reads", type=float, default=1.0, help="seconds between the claim and the reply (1)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    handoffs = args.handoffs or (5 if quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    out = args.out or default_out("handoff_latency.json", quick)

    load_at_start = load_average()
    model = trained_model(data_dir() / "models")
    with tempfile.TemporaryDirectory(prefix="handoff-latency-") as tmp:
        stack = BenchStack(
            data_dir=Path(tmp),
            model=model,
            extra_env={"HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE": "0"},
        )
        started = time.monotonic()
        stack.start()
        print(f"stack ready in {time.monotonic() - started:.1f} s {stack.ready_seconds}", flush=True)
        try:
            wait_kb(stack.helpdesk_url, stack.tokens["bot"])
            time.sleep(2)
            idle = stack_memory(stack.processes)
            samples, failed = asyncio.run(measure(stack, handoffs, warmup, args.agent_reads))
            after = stack_memory(stack.processes)
        finally:
            stack.stop()

    paths = {key: {"label": label, **summary(samples[key])} for key, label in PATHS.items()}
    report = {
        "benchmark": "end-to-end handoff latencies on the real stack (bench/handoff_latency.py)",
        "date": now_iso(),
        "machine": machine_info(load_at_start),
        "quick": quick,
        "settings": {
            "handoffs": handoffs,
            "warmup": warmup,
            "agent_tier": "l2",
            "sse_poll_seconds": POLL_SECONDS,
            "agent_reads_seconds": args.agent_reads,
        },
        "target": {"p95_ms": TARGET_MS, "text": f"each p95 <= {TARGET_MS} ms"},
        "target_met": {key: bool(p.get("n")) and p["p95_ms"] <= TARGET_MS for key, p in paths.items()},
        "failed_handoffs": failed,
        "paths": paths,
        "context": {key: {"label": label, **summary(samples[key])} for key, label in CONTEXT.items()},
        "baselines": {key: {"label": label, **summary(samples[key])} for key, label in BASELINES.items()},
        "startup_seconds_together": stack.ready_seconds,
        "memory": {"idle": idle, "after_run": after},
    }
    write_json(out, report)
    for key, value in {**report["paths"], **report["context"], **report["baselines"]}.items():
        if value.get("n"):
            print(f"{key:32s} p50 {value['p50_ms']:7.1f} p95 {value['p95_ms']:7.1f} ms (n={value['n']})")


if __name__ == "__main__":
    main()
