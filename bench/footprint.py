"""Footprint of the stack: training time, start-up time and idle memory, ours vs the stock Rasa bot.

Run:  .venv/bin/python bench/footprint.py [--repeats 3] [--train both|stock|none] [--quick]

* Training: `rasa train` of the shipped bot (bot/) and of the stock bot (bench/stock_bot), each with
  a cold cache (an empty RASA_CACHE_DIRECTORY) into a temporary folder: wall time and the CPU time
  of the training processes (which other work on the machine inflates less).
* Start-up, each process alone on the machine (process start -> ready), `--repeats` times:
  the service (`helpdesk serve`; ready = /healthz answers; also the first knowledge-base answer,
  which waits for the index of the starter articles) on a new data folder, and restarted on the same
  folder (the article vectors are stored by then); the action server (ready = /health); Rasa with our
  model and with the stock model (ready = /status names the model).
* Memory: RSS (and PSS, which counts shared pages once) of each process with its children, from
  /proc, once ready and idle. (bench/bot_latency.py and bench/handoff_latency.py record the memory
  of the whole stack idle and after their runs.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    STOCK_BOT_DIR,
    BenchStack,
    StockRasa,
    data_dir,
    default_out,
    load_average,
    machine_info,
    memory_mib,
    now_iso,
    quick_mode,
    ready,
    stock_model,
    train,
    wait_kb,
    write_json,
)
from tests.harness.stack import BOT_DIR, trained_model  # noqa: E402

IDLE_SETTLE_SECONDS = 2.0


def time_training(which: str) -> dict[str, Any]:
    bots = {"ours": BOT_DIR, "stock": STOCK_BOT_DIR}
    wanted = list(bots) if which == "both" else [which] if which in bots else []
    out: dict[str, Any] = {}
    for name in wanted:
        with tempfile.TemporaryDirectory(prefix=f"train-{name}-") as tmp:
            print(f"training {name} with a cold cache ...", flush=True)
            wall, cpu = train(bots[name], Path(tmp) / "models", Path(tmp) / "rasa-cache")
            out[name] = {
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                "load_average_end": load_average(),
            }
            print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {load_average()[0]}", flush=True)
    return out


def start_alone(name: str, model: Path, tmp: Path) -> dict[str, Any]:
    """One process of the stack started alone: start -> ready, and its idle memory."""
    stack = BenchStack(data_dir=tmp, model=model, only=(name,))
    stack.start()
    result: dict[str, Any] = {"ready_seconds": stack.ready_seconds[name]}
    try:
        if name == "helpdesk":
            result["knowledge_base_ready_seconds"] = round(
                stack.ready_seconds[name] + wait_kb(stack.helpdesk_url, stack.tokens["bot"]), 2
            )
        time.sleep(IDLE_SETTLE_SECONDS)
        popen = stack.processes[name].popen
        assert popen is not None
        result["memory_idle"] = memory_mib(popen.pid)
        if name == "helpdesk":
            # Restarted on the same folder: migrations done, article vectors stored.
            process = stack.processes[name]
            process.stop()
            process.start()
            started = time.monotonic()
            while not ready(f"{stack.helpdesk_url}/healthz"):
                if time.monotonic() - started > 300:
                    raise TimeoutError("the service did not restart")
                time.sleep(0.1)
            result["restart_ready_seconds"] = round(time.monotonic() - started, 2)
            result["restart_knowledge_base_ready_seconds"] = round(
                result["restart_ready_seconds"] + wait_kb(stack.helpdesk_url, stack.tokens["bot"]), 2
            )
    finally:
        stack.stop()
    return result


def start_stock(model: Path, tmp: Path) -> dict[str, Any]:
    rasa = StockRasa(data_dir=tmp, model=model)
    rasa.start()
    try:
        time.sleep(IDLE_SETTLE_SECONDS)
        assert rasa.process is not None and rasa.process.popen is not None
        return {"ready_seconds": rasa.ready_seconds, "memory_idle": memory_mib(rasa.process.popen.pid)}
    finally:
        rasa.stop()


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the repeats, and every run."""
    keys = [k for k in runs[0] if k != "memory_idle"]
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["rss_mib"] = round(statistics.median(r["memory_idle"]["rss_mib"] for r in runs), 1)
    pss = [r["memory_idle"]["pss_mib"] for r in runs if r["memory_idle"]["pss_mib"]]
    out["pss_mib"] = round(statistics.median(pss), 1) if pss else None
    out["runs"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one start of each (also BENCH_QUICK=1)")
    parser.add_argument("--repeats", type=int, default=None, help="starts of each process (default 3)")
    parser.add_argument(
        "--train", choices=["both", "stock", "none"], default="both", help="which bots to train cold"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    repeats = args.repeats or (1 if quick else 3)
    out = args.out or default_out("footprint.json", quick)

    load_at_start = load_average()
    ours = trained_model(data_dir() / "models")
    stock = stock_model()
    training = time_training(args.train)

    starts: dict[str, list[dict[str, Any]]] = {"helpdesk": [], "actions": [], "rasa": [], "stock_rasa": []}
    for i in range(repeats):
        for name in starts:
            with tempfile.TemporaryDirectory(prefix=f"footprint-{name}-") as tmp:
                run = (
                    start_stock(stock, Path(tmp))
                    if name == "stock_rasa"
                    else start_alone(name, ours, Path(tmp))
                )
            starts[name].append(run)
            print(f"start {i + 1}/{repeats} {name}: {run}", flush=True)

    report = {
        "benchmark": "training time, start-up time and idle memory (bench/footprint.py)",
        "date": now_iso(),
        "machine": machine_info(load_at_start),
        "quick": quick,
        "settings": {"repeats": repeats, "train": args.train, "model": ours.name, "stock_model": stock.name},
        "training": training,
        "startup_alone": {name: aggregate(runs) for name, runs in starts.items()},
        "labels": {
            "helpdesk": "helpdesk service",
            "actions": "action server",
            "rasa": "Rasa, our bot",
            "stock_rasa": "Rasa, stock bot",
        },
    }
    write_json(out, report)


if __name__ == "__main__":
    main()
