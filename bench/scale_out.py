"""Scale-out: what a second Rasa instance and a second service worker add, on the same infrastructure.

Run:  .venv/bin/python bench/scale_out.py [--instances 1,2] [--concurrency 20] [--seconds 60]
                                          [--count 2000] [--clients 16] [--quick] [--out FILE]

Each topology is started as tests/harness/cluster.py starts it for the scale-out test: N Rasa instances
(PostgreSQL tracker store, Redis lock store, RabbitMQ event broker, socket.io rooms shared through
Redis), one action server, and N service processes (one uvicorn worker each) on one PostgreSQL
database consuming the RabbitMQ queue, each pushing agent messages through its own Rasa instance.
N = 1 is the baseline, measured in the same run as N = 2, one after the other, alone on the machine.

Measured per topology:

* bot messages/s: `--concurrency` REST customers, closed loop, no think time, client i on Rasa instance
  i mod N; each turn a new conversation. Two flows (texts from bench/bot_latency.py): a greeting
  (Rasa + the custom action_session_start) and a knowledge-base answer (Rasa + the action server +
  the service's search). Turns/s over `--seconds`, latency p50/p95/p99, failures.
* handoff writes/s: bench/service_throughput.py's phases (create by the bot, claim and reply by
  `--clients` L2 agents), client i on service worker i mod N; the replies go through the outbox to the
  real Rasa instances; `outbox` records how long after the phase the last reply was handed to Rasa.
* the machine's CPU use during each phase (from /proc/stat), each process's memory, start-up time.

Both topologies share the machine's 2 cores with the clients, so the figures show what a second
instance adds when the cores are already busy (the sizing in docs/deploy.md reads them that way);
on more cores each instance brings its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bot_latency import FLOW_NAMES, TURNS  # noqa: E402
from bench.common import (  # noqa: E402
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
from bench.service_throughput import (  # noqa: E402
    SECRET,
    claim_jobs,
    creation_jobs,
    outbox_drain,
    phase,
    prepare,
    reply_jobs,
)
from tests.harness.cluster import Cluster  # noqa: E402
from tests.harness.stack import trained_model  # noqa: E402

BOT_FLOWS = ("baseline", "kb")


class CpuBusy:
    """The share of the machine's CPU time spent busy between start() and stop(), from /proc/stat."""

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    def __enter__(self) -> CpuBusy:
        self.start = self._read()
        self.busy: float | None = None
        return self

    def __exit__(self, *_exc: object) -> None:
        total, idle = self._read()
        spent = total - self.start[0]
        self.busy = round(1 - (idle - self.start[1]) / spent, 3) if spent else None


async def bot_phase(rasa_urls: list[str], flow: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """`concurrency` customers, each on instance i mod N, each turn a new conversation, for `seconds`."""
    texts_for = TURNS[flow]
    samples: list[float] = []
    failures: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = [httpx.AsyncClient(base_url=url, timeout=120, limits=limits) for url in rasa_urls]

    async def customer(index: int) -> None:
        http = clients[index % len(clients)]
        n = index
        while time.monotonic() < deadline:
            sender = f"scale-{uuid.uuid4().hex}"
            texts = texts_for(n)
            n += concurrency
            try:
                for text in texts:
                    started = time.perf_counter()
                    response = await http.post(
                        "/webhooks/rest/webhook", json={"sender": sender, "message": text}
                    )
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    samples.append(elapsed)
            except httpx.HTTPError as error:  # a failed turn is counted, not fatal
                key = type(error).__name__
                failures[key] = failures.get(key, 0) + 1

    started = time.perf_counter()
    try:
        with CpuBusy() as cpu:
            await asyncio.gather(*(customer(i) for i in range(concurrency)))
    finally:
        for client in clients:
            await client.aclose()
    wall = time.perf_counter() - started
    return {
        **summary(samples, raw=False),
        "failed": failures,
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(len(samples) / wall, 2) if wall else None,
        "cpu_busy": cpu.busy,
        "load_average_1m": load_average()[0],
    }


def handoff_phases(cluster: Cluster, args: argparse.Namespace) -> dict[str, Any]:
    bot_token, agent_tokens = prepare(cluster.database_url, args.clients)
    bases = cluster.helpdesk_urls
    out: dict[str, Any] = {}

    def measured(name: str, jobs: list[list[Any]]) -> list[Any]:
        with CpuBusy() as cpu:
            outcome = asyncio.run(phase(bases, jobs, args.seconds, "aiohttp"))
        outcome.pop("_latencies")
        results: list[Any] = outcome.pop("_results")
        out[name] = {**outcome, "cpu_busy": cpu.busy, "load_average_1m": load_average()[0]}
        print(f"  handoffs {name:8s} {outcome['throughput_per_s']}/s p95 {outcome['p95_ms']} ms "
              f"failed {outcome['failed']} cpu {cpu.busy}", flush=True)  # fmt: skip
        return results

    created = measured("create", creation_jobs(bot_token, args.count, args.clients))
    ids = [h["id"] for h in created]
    claimed = {h["id"] for h in measured("claim", claim_jobs(ids, agent_tokens))}
    measured("message", reply_jobs(ids, claimed, agent_tokens))
    out["message"]["outbox"] = outbox_drain(cluster.database_url, out["message"]["requests"], 300)
    requests = sum(p["requests"] for p in out.values())
    seconds = sum(p["seconds"] for p in out.values())
    out["all"] = {
        "requests": requests,
        "failed": sum(sum(p["failed"].values()) for p in out.values()),
        "seconds": round(seconds, 2),
        "throughput_per_s": round(requests / seconds, 1) if seconds else None,
    }
    return out


def run_topology(instances: int, args: argparse.Namespace, model: Path, scratch: Path) -> dict[str, Any]:
    print(f"--- {instances} Rasa instance(s), {instances} service worker(s)", flush=True)
    cluster = Cluster(
        data_dir=scratch / f"cluster-{instances}",
        model=model,
        instances=instances,
        secret_key=SECRET,
        # One bot token makes every knowledge-base search and handoff; nothing here is abuse.
        extra_env={"HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE": "0"},
    )
    started = time.monotonic()
    cluster.start()
    try:
        ready = round(time.monotonic() - started, 1)
        kb_ready = round(wait_kb(cluster.helpdesk_urls[0], cluster.tokens["bot"]), 1)
        print(f"  ready in {ready} s (knowledge base {kb_ready} s later)", flush=True)
        for flow in BOT_FLOWS:  # warm-up: every instance loads its model's lazy parts
            asyncio.run(bot_phase(cluster.rasa_urls, flow, len(cluster.rasa_urls) * 2, 3))
        bot: dict[str, Any] = {}
        for flow in BOT_FLOWS:
            bot[flow] = asyncio.run(bot_phase(cluster.rasa_urls, flow, args.concurrency, args.seconds))
            r = bot[flow]
            print(f"  bot {flow:8s} {r['messages_per_second']}/s p50 {r.get('p50_ms')} p95 "
                  f"{r.get('p95_ms')} ms failed {r['failed']} cpu {r['cpu_busy']}", flush=True)  # fmt: skip
        handoffs = handoff_phases(cluster, args)
        memory = stack_memory(cluster.processes)
    finally:
        cluster.stop()
    return {
        "instances": instances,
        "rasa_instances": instances,
        "service_workers": instances,
        "startup_seconds": ready,
        "knowledge_base_ready_seconds": kb_ready,
        "bot": bot,
        "handoffs": handoffs,
        "memory": memory,
    }


def speedups(topologies: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of the largest topology divided by the baseline's (one instance)."""
    base = next((t for t in topologies if t["instances"] == 1), None)
    top = max(topologies, key=lambda t: t["instances"])
    if base is None or top is base:
        return {}
    ratio = {f"bot_{f}": top["bot"][f]["messages_per_second"] / base["bot"][f]["messages_per_second"]
             for f in BOT_FLOWS if base["bot"][f]["messages_per_second"]}  # fmt: skip
    for name in ("create", "claim", "message", "all"):
        if base["handoffs"][name]["throughput_per_s"]:
            ratio[f"handoffs_{name}"] = (
                top["handoffs"][name]["throughput_per_s"] / base["handoffs"][name]["throughput_per_s"]
            )
    return {"instances": top["instances"], "vs": 1, "ratio": {k: round(v, 2) for k, v in ratio.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", default="1,2", help="topologies to run, comma-separated")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent REST customers")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--count", type=int, default=3000, help="handoffs created (at most)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent agents/bot clients")
    parser.add_argument("--quick", action="store_true", help="small sizes (BENCH_QUICK=1)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    if quick:
        args.seconds, args.count, args.concurrency = min(args.seconds, 15), min(args.count, 400), 10
    out = args.out or default_out("scale_out.json", quick)
    load_at_start = load_average()
    model = trained_model(data_dir() / "models")
    topologies = []
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        for instances in sorted(int(n) for n in args.instances.split(",")):
            topologies.append(run_topology(instances, args, model, Path(tmp)))
    write_json(
        out,
        {
            "benchmark": "scale_out",
            "date": now_iso(),
            "machine": machine_info(load_at_start),
            "quick": quick,
            "settings": {
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "count": args.count,
                "clients": args.clients,
                "flows": {flow: FLOW_NAMES[flow] for flow in BOT_FLOWS},
            },
            "topologies": topologies,
            "speedup": speedups(topologies),
        },
    )


if __name__ == "__main__":
    main()
