"""Throughput and latency of the helpdesk service's writes: create, claim, message; SQLite vs PostgreSQL.

Run:  .venv/bin/python bench/service_throughput.py [--count 2000] [--clients 16] [--workers 2]
                                                     [--backends sqlite,postgresql] [--seconds 60]

For each backend the bench makes a scratch database (a temporary SQLite file; a database
`helpdesk_bench_<random>` on PostgreSQL at 127.0.0.1:5432, user postgres, dropped afterwards), migrates
it, creates a bot and one L2 agent per client (capacity raised so that capacity never refuses a claim),
starts a real `uvicorn handoff_api.asgi:app` on a free loopback port with `--workers`, and drives it
with `--clients` concurrent httpx clients (HTTP/1.1 keep-alive), in three phases:

* create:  `POST /api/v1/handoffs` (bot token), each with a new conversation id and a 3-line transcript;
* claim:   `POST /api/v1/handoffs/{id}/claim`, each client claiming its own share of the handoffs;
* message: `POST /api/v1/handoffs/{id}/messages` by the holder (a transcript line + an outbox row).

Each phase is bounded by `--count` requests and `--seconds`. Reported per phase: requests done,
non-2xx answers, throughput (requests/s over the phase's wall time) and latency p50/p95/max as the
client sees it. Writes bench/results/service_throughput.json and prints a Markdown table.

The service runs as configured in production except: the per-token rate limit is off (one bot token
does all creations), the knowledge base starts empty, and Rasa is not running (the outbox deliverer
retries in the background, which is extra load). Clients and server share the same machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff_api.core.db import make_engine, make_session_factory, transaction  # noqa: E402
from handoff_api.core.migrate import upgrade  # noqa: E402
from handoff_api.models import User  # noqa: E402
from handoff_api.services import users  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "HELPDESK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def prepare(url: str, clients: int) -> tuple[str, list[str]]:
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _bot, bot_token = users.create(session, SECRET, "bench-bot", "bot")
        agent_tokens = [users.create(session, SECRET, f"bench-l2-{i}", "l2")[1] for i in range(clients)]
        session.execute(update(User).values(capacity=1_000_000))
    engine.dispose()
    return bot_token, agent_tokens


def start_server(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    seed = data_dir / "no-articles"
    seed.mkdir(exist_ok=True)
    env = os.environ | {
        "DATABASE_URL": url,
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_SECRET_KEY": SECRET,
        "HELPDESK_KB_SEED_DIR": str(seed),
        "HELPDESK_KB_WARM_START": "false",
        "HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE": "0",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_EVENTS_DB_URL": f"sqlite:///{data_dir / 'rasa_events.db'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "uvicorn", "handoff_api.asgi:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(command, cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("server did not start within 120 s")


async def phase(
    base: str, jobs: list[list[tuple[str, str, dict[str, str], Any]]], seconds: float
) -> dict[str, Any]:
    """`jobs[i]` is client i's list of (method, path, headers, json); clients run concurrently."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    results: list[Any] = []
    deadline = time.monotonic() + seconds

    async def client(work: list[tuple[str, str, dict[str, str], Any]]) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for method, path, headers, body in work:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = await http.request(method, path, headers=headers, json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    key = str(response.status_code)
                    failures[key] = failures.get(key, 0) + 1
                else:
                    results.append(response.json())

    started = time.perf_counter()
    await asyncio.gather(*(client(work) for work in jobs))
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "failed": failures,
        "seconds": round(wall, 2),
        "per_second": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "_results": results,
    }


def run_backend(name: str, url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    bot_token, agent_tokens = prepare(url, args.clients)
    server, base = start_server(url, data_dir, args.workers)
    try:
        bot = {"Authorization": f"Bearer {bot_token}"}
        transcript = [
            {
                "role": "customer",
                "text": "my laptop will not connect to the VPN",
                "at": "2026-11-26T10:00:00Z",
            },
            {"role": "bot", "text": "Have you tried restarting it?", "at": "2026-11-26T10:00:01Z"},
            {"role": "customer", "text": "yes, I want a human", "at": "2026-11-26T10:00:05Z"},
        ]
        run_id = secrets.token_hex(4)
        creations = [
            (
                "POST",
                "/api/v1/handoffs",
                bot,
                {
                    "conversation_id": f"bench-{run_id}-{i}",
                    "channel": "socketio",
                    "reason": "customer_request",
                    "context": {"intent": "request_human", "confidence": 0.9, "slots": {}},
                    "transcript": transcript,
                },
            )
            for i in range(args.count)
        ]
        create = asyncio.run(
            phase(base, [creations[i :: args.clients] for i in range(args.clients)], args.seconds)
        )
        ids = [h["id"] for h in create.pop("_results")]
        claim_jobs: list[list[tuple[str, str, dict[str, str], Any]]] = [[] for _ in range(args.clients)]
        for n, handoff_id in enumerate(ids):
            c = n % args.clients
            auth = {"Authorization": f"Bearer {agent_tokens[c]}"}
            claim_jobs[c].append(("POST", f"/api/v1/handoffs/{handoff_id}/claim", auth, None))
        claim = asyncio.run(phase(base, claim_jobs, args.seconds))
        claimed = {h["id"] for h in claim.pop("_results")}
        message_jobs: list[list[tuple[str, str, dict[str, str], Any]]] = [[] for _ in range(args.clients)]
        for n, handoff_id in enumerate(ids):
            c = n % args.clients
            if handoff_id in claimed:
                auth = {"Authorization": f"Bearer {agent_tokens[c]}"}
                body = {"text": "Hi, this is L2. Could you tell me the error message you see?"}
                message_jobs[c].append(("POST", f"/api/v1/handoffs/{handoff_id}/messages", auth, body))
        message = asyncio.run(phase(base, message_jobs, args.seconds))
        message.pop("_results")
        return {"backend": name, "create": create, "claim": claim, "message": message}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="requests per phase (at most)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per phase")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "service_throughput.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    results = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"helpdesk-bench-{backend}-") as tmp:
            data_dir = Path(tmp)
            if backend == "sqlite":
                results.append(run_backend(backend, f"sqlite:///{data_dir / 'helpdesk.db'}", data_dir, args))
                continue
            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            name = f"helpdesk_bench_{secrets.token_hex(6)}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
                results.append(run_backend(backend, url, data_dir, args))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
            # Other work on the machine skews the figures: 1/5/15-minute load averages around the run.
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"| phase | {' | '.join(r['backend'] for r in results)} |")
    print(f"|---|{'---|' * len(results)}")
    for phase_name in ("create", "claim", "message"):
        cells = [
            f"{r[phase_name]['per_second']}/s, p95 {r[phase_name]['p95_ms']} ms"
            + (f", failed {r[phase_name]['failed']}" if r[phase_name]["failed"] else "")
            for r in results
        ]
        print(f"| {phase_name} | {' | '.join(cells)} |")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
