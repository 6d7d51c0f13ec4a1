"""End-to-end handoff latencies on the real stack: bot -> agents, customer -> agent, agent -> customer.

Run:  .venv/bin/python bench/handoff_latency.py [--handoffs 30] [--quick] [--topologies single,production]

Runs on two topologies, one after the other, each started fresh with the trained model:

* single:     what `make run` starts (tests/harness/stack.py): SQLite for the service and Rasa's tracker
              store, Rasa's SQL event broker (the service polls its table every 0.1 s);
* production: what deploy/ runs (tests/harness/cluster.py, two Rasa instances, two service workers):
              PostgreSQL for the service and the tracker store, Redis for Rasa's lock store and
              socket.io rooms, Rasa's pika broker on RabbitMQ (pushed to the service's consumer).
              Handoff n's customer talks to Rasa n % 2 and the agent's reply goes through worker
              n % 2, as behind a load balancer (a reply on the worker that does not hold the outbox
              lease reaches the holder by PostgreSQL NOTIFY).

An L2 agent (`alice`) is online and listens to the server-sent events of `GET /api/v1/events`, as the
console does. Then, N times, one after the other, a new customer on Rasa's socket.io channel (the
widget's) asks for a person, and:

* bot decides -> agents see it: from the instant the service stored the handoff that the bot's
  `action_handoff` posted (`at` of the `handoff.created` event, the service's clock, the same
  machine's) to the moment the agent's event stream delivers it. Also reported: from the customer's
  message (so with NLU, the policies and the action) to the event, and to the bot's ticket message;
* customer writes -> agent sees it: from `user_uttered` to the `message.customer` event (Rasa's
  event broker, read by the service, then the event stream). Split in three hops by the clocks of
  the one machine: the customer's `user_uttered` -> Rasa's `user` event (its timestamp, the line's
  `at` in the transcript: Rasa took the message and ran NLU), -> the service stored the line (the
  event's `at`: Rasa saved the tracker, published to its broker, the service read it), -> the
  agent's event stream delivered it;
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
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.harness.cluster import Cluster  # noqa: E402
from tests.harness.customer import Customer  # noqa: E402
from tests.harness.stack import Process, trained_model  # noqa: E402

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
HOPS = {
    "customer_to_rasa": "customer writes -> Rasa logs it (NLU done)",
    "rasa_to_service": "Rasa logs it -> the service stored it (tracker saved, broker, consumer)",
    "service_to_agent": "the service stored it -> the agent's event stream delivers it",
}
TOPOLOGIES = {
    "single": "single machine, `make run`: SQLite, Rasa's SQL event broker (polled every 0.1 s)",
    "production": "deploy/ topology: two Rasa instances and two service workers, PostgreSQL, Redis lock "
    "store and socket.io rooms, RabbitMQ (Rasa's pika broker); customers and replies alternate instances",
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
    ) -> tuple[float, dict[str, Any]]:
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


@dataclass
class Desk:
    """Where one topology's bench talks: Rasa, the service, its users' tokens, its processes."""

    # Behind a load balancer customers and agents' requests land on any instance: handoff n's customer
    # talks to rasa_urls[n % len], its reply goes through helpdesk_urls[n % len].
    rasa_urls: tuple[str, ...]
    helpdesk_urls: tuple[str, ...]
    tokens: dict[str, str]
    processes: dict[str, Process]

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def helpdesk_url(self) -> str:
        return self.helpdesk_urls[0]

    def rasa_for(self, n: int) -> str:
        return self.rasa_urls[n % len(self.rasa_urls)]


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
    stack: Desk, agents: list[httpx.AsyncClient], events: EventStream, n: int, reads: float, step: list[str]
) -> dict[str, float]:
    """`step` ends with what the handoff was waiting for, for the report of one that failed."""
    out: dict[str, float] = {}
    agent = agents[0]
    customer = Customer(stack.rasa_for(n))
    await customer.connect()
    try:
        asked_wall = time.time()
        step.append("the handoff.created event and the bot's ticket message")
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

        step.append("the claim and its event")
        claim_wall = time.time()
        claimed = await agent.post(f"/api/v1/handoffs/{handoff_id}/claim")
        claimed.raise_for_status()
        claim_seen, _ = await events.wait_for("handoff.claimed", handoff_id)
        out["claim_to_agent"] = claim_seen - claim_wall

        await asyncio.sleep(reads)  # the agent reads what the bot learned
        text = f"Hi, this is Alice from L2 ({n}). What is going on?"
        step.append(f"the reply, sent to worker {n % len(agents)}, at the customer")
        replied = time.monotonic()
        sent = await agents[n % len(agents)].post(
            f"/api/v1/handoffs/{handoff_id}/messages", json={"text": text}
        )
        sent.raise_for_status()
        got_at, _ = await customer.wait_for(lambda t: t == text)
        out["agent_to_customer"] = got_at - replied

        wrote_wall = time.time()
        line = f"my laptop does not see the office wifi ({n})"
        step.append(f"the customer's line (Rasa {stack.rasa_for(n)}) in the event stream")
        await customer.say(line)
        arrived, stored = await events.wait_for("message.customer", handoff_id)
        out["customer_to_agent"] = arrived - wrote_wall
        out.update(await hops(agent, handoff_id, line, wrote_wall, event_time(stored), arrived))

        step.append("the resolution")
        resolved = await agent.post(
            f"/api/v1/handoffs/{handoff_id}/resolve", json={"resolution": "bench", "return_to_bot": False}
        )
        resolved.raise_for_status()
    finally:
        await customer.close()
    out["socketio_bot_turn"] = await socket_bot_turn(stack.rasa_url)
    return out


async def hops(
    agent: httpx.AsyncClient, handoff_id: int, line: str, wrote: float, stored: float, arrived: float
) -> dict[str, float]:
    """The customer -> agent path in three hops; the line's `at` in the transcript is Rasa's timestamp."""
    handoff = await agent.get(f"/api/v1/handoffs/{handoff_id}")
    handoff.raise_for_status()
    logged = next(
        event_time(t) for t in handoff.json()["transcript"] if t["role"] == "customer" and t["text"] == line
    )
    return {
        "customer_to_rasa": logged - wrote,
        "rasa_to_service": stored - logged,
        "service_to_agent": arrived - stored,
    }


async def measure(
    stack: Desk, handoffs: int, warmup: int, reads: float
) -> tuple[dict[str, list[float]], int]:
    samples: dict[str, list[float]] = {k: [] for k in (*PATHS, *HOPS, *CONTEXT, *BASELINES)}
    failed = 0
    auth = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    agents = [httpx.AsyncClient(base_url=url, headers=auth, timeout=30) for url in stack.helpdesk_urls]
    agent = agents[0]
    # Online, as the console makes its agent: the bot then pauses at the handoff (with nobody online it
    # first offers an e-mail follow-up and waits for the answer).
    online = await agent.put("/api/v1/agents/me/presence", json={"presence": "online", "capacity": 50})
    online.raise_for_status()
    events = EventStream(stack.helpdesk_url, stack.tokens["alice"])
    await events.start()
    try:
        for n in range(warmup + handoffs):
            step: list[str] = ["the customer's connection"]
            try:
                result = await one_handoff(stack, agents, events, n, reads, step)
            except (TimeoutError, RuntimeError, httpx.HTTPError) as error:
                failed += 1
                print(f"handoff {n} failed waiting for {step[-1]}: {error!r}", flush=True)
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
        for client in agents:
            await client.aclose()
    return samples, failed


@contextlib.contextmanager
def started(topology: str, model: Path, scratch: Path) -> Iterator[tuple[Desk, dict[str, float]]]:
    """One topology's processes, started and ready; stopped (and their databases dropped) afterwards."""
    lifted = {"HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE": "0"}  # one bot token makes every handoff
    began = time.monotonic()
    if topology == "single":
        stack = BenchStack(data_dir=scratch / topology, model=model, extra_env=lifted)
        try:
            stack.start()
            desk = Desk((stack.rasa_url,), (stack.helpdesk_url,), stack.tokens, stack.processes)
            ready = dict(stack.ready_seconds)
            print(f"{topology}: ready in {time.monotonic() - began:.1f} s {ready}", flush=True)
            yield desk, ready
        finally:
            stack.stop()
        return
    cluster = Cluster(data_dir=scratch / topology, model=model, instances=2, extra_env=lifted)
    try:
        cluster.start()
        desk = Desk(tuple(cluster.rasa_urls), tuple(cluster.helpdesk_urls), cluster.tokens, cluster.processes)
        ready = {"together": round(time.monotonic() - began, 2)}
        print(f"{topology}: ready in {ready['together']} s", flush=True)
        yield desk, ready
    finally:
        cluster.stop()


def run_topology(
    topology: str, model: Path, scratch: Path, handoffs: int, warmup: int, reads: float
) -> dict[str, Any]:
    with started(topology, model, scratch) as (desk, ready):
        wait_kb(desk.helpdesk_url, desk.tokens["bot"])
        time.sleep(2)
        idle = stack_memory(desk.processes)
        samples, failed = asyncio.run(measure(desk, handoffs, warmup, reads))
        after = stack_memory(desk.processes)
    paths = {key: {"label": label, **summary(samples[key])} for key, label in PATHS.items()}
    return {
        "label": TOPOLOGIES[topology],
        "target_met": {key: bool(p.get("n")) and p["p95_ms"] <= TARGET_MS for key, p in paths.items()},
        "failed_handoffs": failed,
        "paths": paths,
        "customer_to_agent_hops": {
            key: {"label": label, **summary(samples[key])} for key, label in HOPS.items()
        },
        "context": {key: {"label": label, **summary(samples[key])} for key, label in CONTEXT.items()},
        "baselines": {key: {"label": label, **summary(samples[key])} for key, label in BASELINES.items()},
        "startup_seconds_together": ready,
        "memory": {"idle": idle, "after_run": after},
    }


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
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES), help="single,production")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    handoffs = args.handoffs or (5 if quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    out = args.out or default_out("handoff_latency.json", quick)
    topologies = [t for t in args.topologies.split(",") if t]
    unknown = set(topologies) - set(TOPOLOGIES)
    if unknown or not topologies:
        parser.error(f"--topologies: choose from {', '.join(TOPOLOGIES)} (got {args.topologies!r})")

    load_at_start = load_average()
    model = trained_model(data_dir() / "models")
    results = {}
    with tempfile.TemporaryDirectory(prefix="handoff-latency-") as tmp:
        for topology in topologies:
            results[topology] = run_topology(topology, model, Path(tmp), handoffs, warmup, args.agent_reads)

    first = results[topologies[0]]
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
            "topologies": topologies,
        },
        "target": {"p95_ms": TARGET_MS, "text": f"each p95 <= {TARGET_MS} ms"},
        # The first topology's figures at the top level too (the single machine's, as before).
        **first,
        "topologies": results,
    }
    write_json(out, report)
    for topology, result in results.items():
        print(f"--- {topology}: {result['label']}")
        for group in ("paths", "customer_to_agent_hops", "context", "baselines"):
            for key, value in result[group].items():
                if value.get("n"):
                    print(
                        f"{key:32s} p50 {value['p50_ms']:7.1f} p95 {value['p95_ms']:7.1f} ms (n={value['n']})"
                    )


if __name__ == "__main__":
    main()
