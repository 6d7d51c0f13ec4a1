"""Throughput and latency of the helpdesk service's writes: create, claim, message; SQLite vs PostgreSQL.

Run:  .venv/bin/python bench/service_throughput.py [--count 2000] [--clients 16] [--workers CORES]
          [--backends sqlite,postgresql,postgresql-shared-socket,stack-floor] [--seconds 60] [--rounds 3]
          [--client wrk|aiohttp|httpx]
          [--rasa stand-in|absent] [--out FILE]

For each backend the bench makes a scratch database (a temporary SQLite file; a database
`helpdesk_bench_<random>` on PostgreSQL at 127.0.0.1:5432, user postgres, dropped afterwards), migrates
it, creates a bot and one L2 agent per client (capacity raised so that capacity never refuses a claim),
starts the service as production does (`helpdesk serve`) on a free loopback port with `--workers` (default:
one per core), and drives it with `--clients` concurrent HTTP/1.1 keep-alive clients, in three phases.
The baseline `postgresql-shared-socket` is the same on PostgreSQL, served instead by uvicorn's own workers
(`uvicorn --workers`), which share one listening socket: what `helpdesk serve` gains by giving each worker
a socket of its own (handoff_api/core/serving.py), measured in the same run. The baseline `stack-floor`
is the same PostgreSQL run against bench/stack_floor.py: the same requests on the same tables, served the
same way, by a FastAPI app that does only the row writes (no history, queue figures, outbox, checks,
metrics or logs): what the libraries cost, so that the rest is what the service's own work costs.

* create:  `POST /api/v1/handoffs` (bot token), each with a new conversation id and a 3-line transcript;
* claim:   `POST /api/v1/handoffs/{id}/claim`, each client claiming its own share of the handoffs;
* message: `POST /api/v1/handoffs/{id}/messages` by the holder (a transcript line + an outbox row, which
  the service's outbox deliverer then sends to Rasa).

Each phase is bounded by `--count` requests and `--seconds`. The backends run `--rounds` times (default
3), interleaved (round 1: every backend, round 2: every backend, ...), so that a host whose speed drifts
(shared machines here varied by 1.5x within minutes) slows them alike; for each backend the round with
its median overall writes/s is reported, with every round's figure beside it. Reported per phase:
requests done, non-2xx answers, throughput (handoff writes/s over the phase's wall time), latency
p50/p95/max as the client sees it, and where the CPU went: milliseconds of CPU per request in the
service's processes, in the PostgreSQL server (every process of it, exited backends included; nothing
else uses it while the bench runs; SQLite runs inside the service), in the
bench's own clients and in the stand-in Rasa (from /proc; Linux only). A record with phase `all` per
backend gives the overall handoff writes/s (every write of the three phases over their summed wall time).

Output (`--out`, default bench/results/service_throughput.json):
  {"benchmark", "date", "machine": {cpu_model, cores, python_reference_ms, ram_gib, system, python,
   load_average_start, load_average_end}, "settings", "target", "handoff_writes_per_s": {backend: n},
   "results": [{"backend", "phase", "requests", "failed", "seconds", "throughput_per_s", "p50_ms",
                "p95_ms", "max_ms", "cpu_ms_per_request": {"service", "database", "clients",
                "stand_in_rasa"}, "load_average_1m"}, ...]}
`phase` is create, claim, message or all; each record also has `round` (which round it is from) and
`rounds_per_s` (that phase's writes/s in every round); the message record also has `outbox`:
{"messages", "sent", "seconds_after_phase"}, how long the outbox deliverer took after the phase to hand
every reply to Rasa.
A Markdown table goes to stdout.

The service runs as configured in production except: the per-token rate limit is off (one bot token
does all creations), the knowledge base starts empty, and Rasa is a stand-in that accepts every
delivery (`--rasa absent`: nothing listens, so every agent message's delivery fails and is retried with
backoff, and the growing backlog is read again on every new message: the first measurements ran so).
Clients and server share the machine's cores: the clients' CPU is reported so that it can be told apart.
The default client is wrk (Debian's package, driven by bench/wrk_jobs.lua: every request of a phase once,
over `--clients` keep-alive connections; the next phase's ids are read from the database): measured here in
the same run, 0.19-0.24 ms of CPU per request against aiohttp's 0.49-0.58, CPU that the service would
otherwise have. `--client aiohttp` is what the results up to 2026-11-27 used (a third of httpx's CPU per
request), `--client httpx` what the first measurements used.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import Engine, create_engine, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import python_reference_ms  # noqa: E402
from handoff_api.core.db import make_engine, make_session_factory, transaction  # noqa: E402
from handoff_api.core.migrate import upgrade  # noqa: E402
from handoff_api.models import User  # noqa: E402
from handoff_api.users import service as users  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "HELPDESK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-key"
PHASES = ("create", "claim", "message")
TARGET_WRITES_PER_S = 500
SHARED_SOCKET = "postgresql-shared-socket"
STACK_FLOOR = "stack-floor"
BACKENDS = ("sqlite", "postgresql", SHARED_SOCKET, STACK_FLOOR)
Job = tuple[str, str, dict[str, str], Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the machine and CPU accounting (/proc) --------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info(load_at_start: list[float]) -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    ram = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python_reference_ms": python_reference_ms(),
        "ram_gib": ram,
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": load_at_start,
        "load_average_end": load_average(),
    }


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
    return raw.rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process (all its threads) that still exists."""
    out = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _parents() -> dict[int, int]:
    """Every process's parent."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                out[int(entry.name)] = int(fields[1])
    return out


def process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        parents.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def clients_cpu() -> float:
    """The bench's own CPU and its reaped children's: wrk (`--client wrk`) is a child that ends with its
    phase; the service and the stand-in Rasa are reaped only after the last phase."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """CPU used by the service's processes, the PostgreSQL server (`_postgres_server`), the bench's
    clients, and the stand-in Rasa."""

    def __init__(
        self,
        server: subprocess.Popen[bytes],
        database_cpu: Callable[[], dict[int, float]] | None,
        rasa: subprocess.Popen[bytes] | None,
    ):
        self.server = server
        self.database_cpu = database_cpu
        self.rasa = rasa
        self.enabled = Path("/proc/self/stat").exists()

    def snapshot(self) -> dict[str, Any]:
        if not self.enabled:
            return {}
        return {
            "service": cpu_seconds(process_tree(self.server.pid)),
            "database": self.database_cpu() if self.database_cpu else {},
            "clients": clients_cpu(),
            "stand_in_rasa": cpu_seconds([self.rasa.pid]) if self.rasa else {},
        }

    def per_request(self, before: dict[str, Any], after: dict[str, Any], requests: int) -> dict[str, Any]:
        if not self.enabled or not requests:
            return {}

        def server_seconds() -> float:
            return float(sum(after["database"].values()) - sum(before["database"].values()))

        def used(kind: str) -> float:
            # A process that appeared during the phase (a new pooled connection) counts from zero.
            return sum(v - before[kind].get(pid, 0.0) for pid, v in after[kind].items())

        out: dict[str, Any] = {
            "service": round(used("service") * 1000 / requests, 2),
            # All of the server's time, summed: an exited backend's moved to the postmaster's.
            "database": round(server_seconds() * 1000 / requests, 2) if self.database_cpu else None,
            "clients": round((after["clients"] - before["clients"]) * 1000 / requests, 2),
            "stand_in_rasa": round(used("stand_in_rasa") * 1000 / requests, 2) if self.rasa else None,
        }
        return out


# --- the service under test ------------------------------------------------------------------------


def prepare(url: str, clients: int) -> tuple[str, list[str]]:
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _bot, bot_token = users.create(session, SECRET, "bench-bot", "bot")
        agent_tokens = [users.create(session, SECRET, f"bench-l2-{i}", "l2")[1] for i in range(clients)]
        session.execute(update(User).values(capacity=1_000_000))
    engine.dispose()
    return bot_token, agent_tokens


def stand_in_rasa(port: int) -> None:
    """What the outbox deliverer talks to: Rasa's HTTP API answering every delivery with 200."""
    from aiohttp import web

    async def events(_request: web.Request) -> web.Response:
        return web.json_response({})

    async def tracker(_request: web.Request) -> web.Response:
        return web.json_response({"events": []})

    app = web.Application()
    app.router.add_post("/conversations/{conversation_id}/tracker/events", events)
    app.router.add_post("/conversations/{conversation_id}/trigger_intent", events)
    app.router.add_get("/conversations/{conversation_id}/tracker", tracker)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_rasa(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / "rasa.log").open("wb")
    command = [sys.executable, __file__, "--stand-in-rasa", str(port)]
    rasa = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/conversations/x/tracker", timeout=1)
            return rasa, url
        except httpx.HTTPError:
            time.sleep(0.1)
    rasa.kill()
    raise RuntimeError("the stand-in Rasa did not start")


def serve_command(port: int, workers: int, backend: str) -> list[str]:
    """What production runs (Procfile, docker-compose.yml): the CLI, which gives each worker its own
    socket. The baselines: uvicorn's own workers sharing one socket; the stack's floor (bench/stack_floor.py)
    served as the CLI serves (the database is migrated)."""
    if backend == SHARED_SOCKET:
        command = [sys.executable, "-m", "uvicorn", "handoff_api.asgi:app"]
        command += ["--no-access-log", "--proxy-headers"]
    elif backend == STACK_FLOOR:
        serve = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from handoff_api.cli.serving import serve; "
            f"serve('bench.stack_floor:app', host='127.0.0.1', port={port}, workers={workers}, "
            "access_log=False, log_level='warning')"
        )
        return [sys.executable, "-c", serve]
    else:
        command = [str(Path(sys.executable).parent / "helpdesk"), "serve"]
    return [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def start_server(
    url: str, data_dir: Path, workers: int, rasa_url: str, *, backend: str = "postgresql"
) -> tuple[subprocess.Popen[bytes], str]:
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
        # The demo directory and dev mailbox (nothing here signs anyone in or mails anything).
        "HELPDESK_DEMO": "true",
        "RASA_URL": rasa_url,
        "RASA_EVENTS_DB_URL": f"sqlite:///{data_dir / 'rasa_events.db'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = serve_command(port, workers, backend)
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


# --- the work: what each client sends, phase by phase ---------------------------------------------

TRANSCRIPT = [
    {"role": "customer", "text": "my laptop will not connect to the VPN", "at": "2026-11-26T10:00:00Z"},
    {"role": "bot", "text": "Have you tried restarting it?", "at": "2026-11-26T10:00:01Z"},
    {"role": "customer", "text": "yes, I want a human", "at": "2026-11-26T10:00:05Z"},
]


def creation_jobs(bot_token: str, count: int, clients: int) -> list[list[Job]]:
    """`count` handoffs, each for a new conversation, shared out over `clients` clients."""
    bot = {"Authorization": f"Bearer {bot_token}"}
    run_id = secrets.token_hex(4)
    creations: list[Job] = [
        (
            "POST",
            "/api/v1/handoffs",
            bot,
            {
                "conversation_id": f"bench-{run_id}-{i}",
                "channel": "socketio",
                "reason": "customer_request",
                "context": {"intent": "request_human", "confidence": 0.9, "slots": {}},
                "transcript": TRANSCRIPT,
            },
        )
        for i in range(count)
    ]
    return [creations[i::clients] for i in range(clients)]


def claim_jobs(ids: list[str], agent_tokens: list[str]) -> list[list[Job]]:
    """Client c, as agent c, claims every c-th handoff."""
    jobs: list[list[Job]] = [[] for _ in agent_tokens]
    for n, handoff_id in enumerate(ids):
        c = n % len(agent_tokens)
        auth = {"Authorization": f"Bearer {agent_tokens[c]}"}
        jobs[c].append(("POST", f"/api/v1/handoffs/{handoff_id}/claim", auth, None))
    return jobs


def reply_jobs(ids: list[str], claimed: set[str], agent_tokens: list[str]) -> list[list[Job]]:
    """One reply per claimed handoff, by the agent that claimed it (claim_jobs' sharing of `ids`)."""
    jobs: list[list[Job]] = [[] for _ in agent_tokens]
    for n, handoff_id in enumerate(ids):
        if handoff_id not in claimed:
            continue
        c = n % len(agent_tokens)
        auth = {"Authorization": f"Bearer {agent_tokens[c]}"}
        body = {"text": "Hi, this is L2. Could you tell me the error message you see?"}
        jobs[c].append(("POST", f"/api/v1/handoffs/{handoff_id}/messages", auth, body))
    return jobs


# --- the clients -----------------------------------------------------------------------------------


async def _run_httpx(base: str, work: list[Job], deadline: float, record: Callable[..., None]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for method, path, headers, body in work:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            response = await http.request(method, path, headers=headers, json=body)
            elapsed = time.perf_counter() - started
            record(elapsed, response.status_code, response.json() if response.status_code < 300 else None)


async def _run_aiohttp(base: str, work: list[Job], deadline: float, record: Callable[..., None]) -> None:
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        for method, path, headers, body in work:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            async with http.request(method, path, headers=headers, json=body) as response:
                payload = await response.read()
            elapsed = time.perf_counter() - started
            record(elapsed, response.status, json.loads(payload) if response.status < 300 else None)


async def phase(base: str | list[str], jobs: list[list[Job]], seconds: float, client: str) -> dict[str, Any]:
    """`jobs[i]` is client i's list of (method, path, headers, json); clients run concurrently.

    With several base URLs (service workers behind no balancer), client i talks to `base[i % len]`.
    """
    bases = [base] if isinstance(base, str) else base
    latencies: list[float] = []
    failures: dict[str, int] = {}
    results: list[Any] = []
    deadline = time.monotonic() + seconds

    def record(elapsed: float, status: int, payload: Any) -> None:
        latencies.append(elapsed)
        if status >= 300:
            failures[str(status)] = failures.get(str(status), 0) + 1
        else:
            results.append(payload)

    run = _run_aiohttp if client == "aiohttp" else _run_httpx
    started = time.perf_counter()
    await asyncio.gather(*(run(bases[i % len(bases)], work, deadline, record) for i, work in enumerate(jobs)))
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "failed": failures,
        "seconds": round(wall, 2),
        "throughput_per_s": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "_latencies": latencies,
        "_results": results,
    }


WRK_SCRIPT = ROOT / "bench" / "wrk_jobs.lua"
WRK_THREADS = 2


def wrk_phase(base: str, jobs: list[list[Job]], seconds: float, workdir: Path) -> dict[str, Any]:
    """`phase` with wrk (C, from Debian's packages) sending the requests: every job once, in the order
    `phase`'s clients would start them, over `len(jobs)` keep-alive connections (bench/wrk_jobs.lua). It
    answers no bodies: the caller reads what the phase wrote from the database."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `apt-get install wrk` (or run with --client aiohttp)")
    ordered = [job for row in itertools.zip_longest(*jobs) for job in row if job is not None]
    lines = []
    for method, path, headers, body in ordered:
        line = "\t".join(
            (method, path, headers["Authorization"], json.dumps(body) if body is not None else "")
        )
        lines.append(line + "\n")
    job_file = workdir / "wrk-jobs.tsv"
    job_file.write_text("".join(lines))
    threads = min(WRK_THREADS, len(jobs))
    command = ["wrk", f"-t{threads}", f"-c{len(jobs)}", f"-d{max(1, int(seconds))}s", "--timeout", "30s"]
    command += ["-s", str(WRK_SCRIPT), base, "--", str(job_file), str(threads)]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wrk.stderr is not None
    finished = 0
    for line in wrk.stderr:  # each thread says when its share is answered; wrk itself runs for all of -d
        finished += line.strip() == "WRK_THREAD_DONE"
        if finished == threads:
            wrk.send_signal(signal.SIGINT)
            break
    out, err = wrk.communicate(timeout=60)
    result = next((line for line in out.splitlines() if line.startswith("WRK_RESULT ")), None)
    if result is None:
        raise RuntimeError(f"wrk gave no result: {out[-500:]} {err[-500:]}")
    answer = json.loads(result.removeprefix("WRK_RESULT "))
    latencies = [us / 1e6 for us, times in answer["latency_us"] for _ in range(times)]
    wall = answer["duration_us"] / 1e6
    failures = {"non-2xx": answer["non_2xx"]} if answer["non_2xx"] else {}
    for kind in ("connect", "read", "write", "timeout"):
        if answer[kind]:
            failures[kind] = answer[kind]
    return {
        "requests": answer["requests"],
        "failed": failures,
        "seconds": round(wall, 2),
        "throughput_per_s": round(answer["requests"] / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "_latencies": latencies,
    }


def written_ids(url: str, claimed: bool) -> list[str]:
    """What a wrk phase wrote: the handoffs' ids (in creation order), or those claimed."""
    engine = create_engine(url)
    where = "WHERE status = 'assigned'" if claimed else ""
    try:
        with engine.connect() as conn:
            return [str(i) for i in conn.scalars(text(f"SELECT id FROM handoffs {where} ORDER BY id"))]
    finally:
        engine.dispose()


def outbox_drain(url: str, messages: int, timeout: float) -> dict[str, Any]:
    """How long after the message phase the outbox deliverer needed to hand every reply to (the stand-in)
    Rasa: it works in the background, one item after the other, so it may lag behind the replies."""
    engine = create_engine(url)
    started = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                sent = int(conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'sent'")) or 0)
            waited = time.monotonic() - started
            if sent >= messages or waited > timeout:
                return {"messages": messages, "sent": sent, "seconds_after_phase": round(waited, 2)}
            time.sleep(0.2)
    finally:
        engine.dispose()


def _postgres_server(admin: Engine) -> Callable[[], dict[int, float]]:
    """The CPU seconds of every process of the PostgreSQL server: the bench database's backends, the
    server's own (WAL writer, checkpointer, autovacuum) and, under the postmaster's pid, every backend that
    exited (the kernel adds a reaped child's time to its parent's cutime + cstime). A pooled connection
    closed during a phase, which the service's pool overflow does under uneven load, is counted too: only
    live backends were, before, so that the figure depended on how the load spread over the workers."""
    with admin.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    fields = _stat(backend)
    if fields is None:
        raise RuntimeError("PostgreSQL's processes are not visible in /proc: run the bench beside the server")
    postmaster = int(fields[1])

    def seconds() -> dict[int, float]:
        children = [pid for pid, parent in _parents().items() if parent == postmaster]
        out = cpu_seconds(children)
        own = _stat(postmaster)
        if own is not None:
            out[postmaster] = sum(int(own[i]) for i in (11, 12, 13, 14)) / _TICK
        return out

    return seconds


def run_backend(
    name: str,
    url: str,
    data_dir: Path,
    args: argparse.Namespace,
    database_cpu: Callable[[], dict[int, float]] | None,
) -> list[dict[str, Any]]:
    bot_token, agent_tokens = prepare(url, args.clients)
    # The stack's floor delivers nothing to Rasa (it writes no outbox).
    rasa, rasa_url = (
        start_rasa(data_dir)
        if args.rasa == "stand-in" and name != STACK_FLOOR
        else (None, f"http://127.0.0.1:{free_port()}")
    )
    server, base = start_server(url, data_dir, args.workers, rasa_url, backend=name)
    meter = CpuMeter(server, database_cpu, rasa)
    records: list[dict[str, Any]] = []
    all_latencies: list[float] = []

    def measured(phase_name: str, jobs: list[list[Job]]) -> list[Any]:
        before = meter.snapshot()
        if args.client == "wrk":
            outcome = wrk_phase(base, jobs, args.seconds, data_dir)
        else:
            outcome = asyncio.run(phase(base, jobs, args.seconds, args.client))
        after = meter.snapshot()
        all_latencies.extend(outcome.pop("_latencies"))
        results: list[Any] = outcome.pop("_results", [])
        records.append(
            {
                "backend": name,
                "phase": phase_name,
                **outcome,
                "cpu_ms_per_request": meter.per_request(before, after, outcome["requests"]),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
        return results

    try:
        created = measured("create", creation_jobs(bot_token, args.count, args.clients))
        ids = written_ids(url, claimed=False) if args.client == "wrk" else [h["id"] for h in created]
        claims = measured("claim", claim_jobs(ids, agent_tokens))
        claimed = set(written_ids(url, claimed=True)) if args.client == "wrk" else {h["id"] for h in claims}
        message_jobs = reply_jobs(ids, claimed, agent_tokens)
        measured("message", message_jobs)
        if rasa is not None:
            records[-1]["outbox"] = outbox_drain(url, records[-1]["requests"], args.seconds)
    finally:
        for process in (server, rasa):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    requests = sum(r["requests"] for r in records)
    seconds = sum(r["seconds"] for r in records)
    cpu: dict[str, Any] = {}
    for kind in ("service", "database", "clients", "stand_in_rasa"):
        values = [(r["cpu_ms_per_request"].get(kind), r["requests"]) for r in records]
        if all(v is not None for v, _ in values) and requests:
            cpu[kind] = round(sum(v * n for v, n in values) / requests, 2)  # type: ignore[operator]
        elif values and all(v is None for v, _ in values):
            cpu[kind] = None
    failed: dict[str, int] = {}
    for r in records:
        for status, n in r["failed"].items():
            failed[status] = failed.get(status, 0) + n
    records.append(
        {
            "backend": name,
            "phase": "all",
            "requests": requests,
            "failed": failed,
            "seconds": round(seconds, 2),
            "throughput_per_s": round(requests / seconds, 1) if seconds else None,
            "p50_ms": round(statistics.median(all_latencies) * 1000, 1) if all_latencies else None,
            "p95_ms": round(percentile(all_latencies, 0.95) * 1000, 1) if all_latencies else None,
            "max_ms": round(max(all_latencies) * 1000, 1) if all_latencies else None,
            "cpu_ms_per_request": cpu,
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    )
    return records


def measure_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One run of the three phases on a new scratch database."""
    with tempfile.TemporaryDirectory(prefix=f"helpdesk-bench-{backend}-") as tmp:
        data_dir = Path(tmp)
        if backend == "sqlite":
            return run_backend(backend, f"sqlite:///{data_dir / 'helpdesk.db'}", data_dir, args, None)
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"helpdesk_bench_{secrets.token_hex(6)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            return run_backend(backend, url, data_dir, args, _postgres_server(admin))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _overall_per_s(records: list[dict[str, Any]]) -> float:
    return next((r["throughput_per_s"] or 0.0 for r in records if r["phase"] == "all"), 0.0)


def median_rounds(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per backend, the records of its median round (by overall writes/s), each with every round's
    writes/s of its phase in `rounds_per_s`."""
    by_backend: dict[str, list[list[dict[str, Any]]]] = {}
    for records in rounds:
        by_backend.setdefault(records[0]["backend"], []).append(records)
    out: list[dict[str, Any]] = []
    for runs in by_backend.values():
        ranked = sorted(runs, key=_overall_per_s)
        median = ranked[(len(ranked) - 1) // 2]
        for record in median:
            record["rounds_per_s"] = [
                next((r["throughput_per_s"] for r in run if r["phase"] == record["phase"]), None)
                for run in runs
            ]
            out.append(record)
    return out


def main() -> None:
    if sys.argv[1:2] == ["--stand-in-rasa"]:
        stand_in_rasa(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="requests per phase (at most)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes (default: cores)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="time limit per phase")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs of every backend, interleaved; each backend's median round is reported",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"any of {', '.join(BACKENDS)}; {SHARED_SOCKET}: PostgreSQL, served by uvicorn's own workers "
        "sharing one socket (the baseline for `helpdesk serve`'s socket per worker); "
        f"{STACK_FLOOR}: PostgreSQL, the same writes by FastAPI + SQLAlchemy with nothing else "
        "(bench/stack_floor.py, the baseline for what the service's own work costs)",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "aiohttp", "httpx"),
        default="wrk",
        help="what sends the requests: wrk (C, Debian's package; the least CPU taken from the service on "
        "a shared machine) or a Python client library",
    )
    parser.add_argument(
        "--rasa",
        choices=("stand-in", "absent"),
        default="stand-in",
        help="stand-in: a stub of Rasa's HTTP API accepts every delivery of the outbox (as in production); "
        "absent: nothing listens, every delivery fails and is retried with backoff",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "service_throughput.json")
    args = parser.parse_args()

    backends = args.backends.split(",")
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}: choose from {', '.join(BACKENDS)}")
    load_before = load_average()
    # Round after round, every backend once per round: a machine whose speed drifts (a shared host) slows
    # them alike, and each backend's median round is what is reported.
    rounds: list[list[dict[str, Any]]] = []
    for number in range(1, args.rounds + 1):
        for backend in backends:
            rounds.append([{**r, "round": number} for r in measure_backend(backend, args)])
    results = median_rounds(rounds)

    overall = {r["backend"]: r["throughput_per_s"] for r in results if r["phase"] == "all"}
    report = {
        "benchmark": "helpdesk service handoff writes: create, claim, message (bench/service_throughput.py)",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(load_before),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "target": {
            "handoff_writes_per_s": TARGET_WRITES_PER_S,
            "backend": "postgresql",
            "met": (overall.get("postgresql") or 0) >= TARGET_WRITES_PER_S
            if "postgresql" in overall
            else None,
        },
        "handoff_writes_per_s": overall,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    backends = list(dict.fromkeys(r["backend"] for r in results))
    by_key = {(r["backend"], r["phase"]): r for r in results}
    print(
        f"load average {report['machine']['load_average_start']} -> {report['machine']['load_average_end']}"
    )
    print(f"| phase | {' | '.join(backends)} |")
    print(f"|---|{'---|' * len(backends)}")
    for phase_name in (*PHASES, "all"):
        cells = []
        for backend in backends:
            r = by_key.get((backend, phase_name))
            if r is None:
                cells.append("-")
                continue
            cpu = r["cpu_ms_per_request"]
            cell = f"{r['throughput_per_s']}/s, p50/p95 {r['p50_ms']}/{r['p95_ms']} ms"
            if cpu:
                shares = {"svc": "service", "db": "database", "cli": "clients", "rasa": "stand_in_rasa"}
                cell += ", CPU ms/req " + " ".join(
                    f"{short} {cpu[kind]}" for short, kind in shares.items() if cpu.get(kind) is not None
                )
            if r.get("outbox"):
                cell += f", outbox sent {r['outbox']['sent']}/{r['outbox']['messages']}"
                cell += f" {r['outbox']['seconds_after_phase']} s after"
            if r["failed"]:
                cell += f", failed {r['failed']}"
            if len(r.get("rounds_per_s") or []) > 1:
                cell += f", rounds {' / '.join(str(x) for x in r['rounds_per_s'])}/s"
            cells.append(cell)
        print(f"| {phase_name} | {' | '.join(cells)} |")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
