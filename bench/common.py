"""What the benchmarks share: the machine's description, percentiles, process memory, the stock bot.

Every bench writes one JSON file with `date`, `machine` (CPU model, cores, a Python speed reference, RAM,
load averages at the start and the end of the run) and its raw numbers; `bench/report/` turns them into
REPORT.md and the plots. Quick mode (`--quick` or BENCH_QUICK=1) runs small sizes and, unless an output is
named, writes under $HELPDESK_DATA_DIR/bench/results-quick/ so that it never overwrites the committed figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
STOCK_BOT_DIR = BENCH_DIR / "stock_bot"
RESULTS_DIR = BENCH_DIR / "results"

from tests.harness.stack import RASA, Process, Stack, base_env, free_port, wait_until_ready  # noqa: E402


def data_dir() -> Path:
    return Path(os.environ.get("HELPDESK_DATA_DIR") or ROOT / "var").resolve()


def bench_data_dir() -> Path:
    path = data_dir() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode(flag: bool = False) -> bool:
    return flag or os.environ.get("BENCH_QUICK", "").strip().lower() not in ("", "0", "false", "no")


def results_dir(quick: bool) -> Path:
    """BENCH_RESULTS if set; else bench/results, or a scratch folder in quick mode."""
    if os.environ.get("BENCH_RESULTS"):
        return Path(os.environ["BENCH_RESULTS"]).resolve()
    return data_dir() / "bench" / "results-quick" if quick else RESULTS_DIR


def default_out(name: str, quick: bool) -> Path:
    return results_dir(quick) / name


# --- the machine ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def python_reference_ms() -> float:
    """How fast one core runs Python here: the best of five runs of a fixed pure-Python loop, in ms.

    Machines sold under one CPU name ("AMD EPYC") differ up to threefold per core; figures taken on two
    machines compare only through this (a run on a machine twice as slow reads about half the writes/s).
    """

    def work() -> int:
        total = 0
        table: dict[int, int] = {}
        for i in range(200_000):
            total += i % 7
            table[i & 1023] = total
        return total

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


def machine_info(load_at_start: list[float] | None = None) -> dict[str, Any]:
    """The machine, with the 1/5/15-minute load averages at the start of the run and now (its end)."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "python_reference_ms": python_reference_ms(),
        "ram_gib": _ram_gib(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": load_at_start if load_at_start is not None else load_average(),
        "load_average_end": load_average(),
    }


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", flush=True)


# --- statistics -----------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank on sorted samples (what the earlier benches report)."""
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(seconds: list[float], raw: bool = True) -> dict[str, Any]:
    """p50/p95/p99/mean/max in ms of samples in seconds, and the samples themselves (ms)."""
    if not seconds:
        return {"n": 0}
    ordered = sorted(seconds)
    out: dict[str, Any] = {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }
    if raw:
        out["samples_ms"] = [round(s * 1000, 1) for s in seconds]
    return out


# --- process memory -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def _status_kib(pid: int, key: str, name: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_mib(pid: int) -> dict[str, Any]:
    """RSS of a process and all its descendants (from /proc), and PSS, which counts shared pages once."""
    pids = process_tree(pid)
    rss = sum(_status_kib(p, "VmRSS:") for p in pids)
    pss = sum(_status_kib(p, "Pss:", "smaps_rollup") for p in pids)
    return {"rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1) or None, "processes": len(pids)}


def stack_memory(processes: dict[str, Process]) -> dict[str, dict[str, Any]]:
    return {name: memory_mib(p.popen.pid) for name, p in processes.items() if p.popen is not None}


# --- the real stack, timed ------------------------------------------------------------------------


@dataclass
class BenchStack(Stack):
    """tests/harness/stack.py's Stack with extra environment and each process's start -> ready time."""

    extra_env: dict[str, str] = field(default_factory=dict)
    ready_seconds: dict[str, float] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra_env)
        return env

    def wait_ready(self, timeout: float = 480, names: tuple[str, ...] | None = None) -> None:
        # The processes were started a moment ago, one after the other, by Stack.start.
        started = time.monotonic()

        def record(name: str) -> None:
            self.ready_seconds[name] = round(time.monotonic() - started, 2)

        wait_until_ready(
            self.processes, self.health_checks(names), timeout, on_ready=record, poll_seconds=0.1
        )


def ready(url: str, needs_model: bool = False) -> bool:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and (not needs_model or bool(response.json().get("model_file")))


def wait_kb(helpdesk_url: str, token: str, timeout: float = 600) -> float:
    """Seconds until the knowledge base answers (the service indexes the starter articles after start).

    A search waits for the index; while the start-up indexing holds SQLite's write lock it may answer
    503 with Retry-After: ask again.
    """
    started = time.monotonic()
    while True:
        try:
            response = httpx.get(
                f"{helpdesk_url}/api/v1/kb/search",
                params={"q": "vpn"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=max(1.0, timeout - (time.monotonic() - started)),
            )
        except httpx.TimeoutException:
            response = None
        if response is not None and response.status_code == 200:
            return time.monotonic() - started
        if response is not None and response.status_code not in (429, 503):
            response.raise_for_status()
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the knowledge base did not answer within {timeout} s")
        time.sleep(0.2)


# --- the stock bot (bench/stock_bot) --------------------------------------------------------------


def _fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.yml")):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train(bot_dir: Path, out: Path, cache: Path) -> tuple[float, float]:
    """`rasa train` of a project; returns (wall seconds, CPU seconds of the training processes)."""
    env = base_env(out)
    env["RASA_CACHE_DIRECTORY"] = str(cache)
    before = os.times()
    started = time.monotonic()
    subprocess.run(
        [str(RASA), "train", "--out", str(out)],
        cwd=bot_dir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def stock_model() -> Path:
    """The stock bot's model under $HELPDESK_DATA_DIR/bench/stock-models, trained when its files changed."""
    models = bench_data_dir() / "stock-models"
    stamp = models / ".fingerprint"
    fingerprint = _fingerprint(STOCK_BOT_DIR)
    existing = sorted(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if existing and stamp.exists() and stamp.read_text() == fingerprint:
        return existing[-1]
    shutil.rmtree(models, ignore_errors=True)
    models.mkdir(parents=True)
    print("training the stock bot (bench/stock_bot) ...", flush=True)
    wall, _cpu = train(STOCK_BOT_DIR, models, bench_data_dir() / "stock-rasa-cache")
    print(f"stock bot trained in {wall:.0f} s", flush=True)
    stamp.write_text(fingerprint)
    return sorted(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]


@dataclass
class StockRasa:
    """The stock bot, started like ours: `rasa run` with the HTTP API, socket.io and REST channels."""

    data_dir: Path
    model: Path
    token: str = "bench-stock-token"
    port: int = field(default_factory=free_port)
    process: Process | None = None
    ready_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 480) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        models = self.data_dir / "models"
        models.mkdir(exist_ok=True)
        shutil.copy(self.model, models / self.model.name)
        env = base_env(self.data_dir)
        env.update(
            RASA_TRACKER_DB=str(self.data_dir / "rasa_tracker.db"),
            RASA_EVENTS_DB=str(self.data_dir / "rasa_events.db"),
            SANIC_HOST="127.0.0.1",
        )
        command = [str(RASA), "run", "-i", "127.0.0.1", "--enable-api", "--auth-token", self.token]
        command += ["--port", str(self.port), "--model", str(models)]
        command += ["--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
        self.process = Process("stock-rasa", command, STOCK_BOT_DIR, env, self.data_dir / "stock-rasa.log")
        self.process.start()
        started = time.monotonic()
        while not ready(f"{self.url}/status?token={self.token}", needs_model=True):
            popen = self.process.popen
            if popen is not None and popen.poll() is not None:
                raise RuntimeError(f"stock rasa exited with {popen.returncode}:\n{self.process.tail()}")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"stock rasa not ready after {timeout} s:\n{self.process.tail()}")
            time.sleep(0.1)
        self.ready_seconds = round(time.monotonic() - started, 2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
