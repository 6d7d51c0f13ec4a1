"""Turns the benchmarks' JSON files into a Markdown report, plots and the README's table of figures.

Run:  .venv/bin/python bench/report.py [--results bench/results] [--quick]

Reads whichever of these the results folder holds (a missing one is reported as not run):
kb_search.json, bot_latency.json, service_throughput.json, handoff_latency.json, footprint.json,
scale_out.json.
Writes into the same folder REPORT.md (every figure with its baseline, the targets and whether each
is met, the date, the machine and its load average during each run), README_TABLE.md (the headline
figures, to paste into the README) and the plots *.png (matplotlib, Agg backend: no display needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import machine_info, now_iso, quick_mode, results_dir  # noqa: E402
from bench.report_scale_out import section_scale_out  # noqa: E402

BOT_TARGET_MS = 150
BOT_TARGET_CONCURRENCY = 10
HANDOFF_TARGET_MS = 300
# The README's target for the service's writes (bench/service_throughput.py).
SERVICE_TARGET_PER_S = 500
FLOW_NAMES = {
    "baseline": "plain greeting (a response)",
    "kb": "knowledge-base answer",
    "device": "device setup",
    "ticket": "ticket status",
    "identity": "identity (account -> code)",
    "handoff": "handoff to a human",
}
PROCESS_NAMES = {
    "rasa": "Rasa, our bot",
    "actions": "action server",
    "helpdesk": "helpdesk service",
    "stock_rasa": "Rasa, stock bot",
}
NA = "\u2013"  # an en dash: no figure
COLORS = {
    "ours": "tab:blue",
    "stock": "tab:gray",
    "hybrid": "tab:blue",
    "bm25": "tab:orange",
    "dense": "tab:green",
}


# --- formatting -----------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None:
        return NA
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.3f}"


def seconds(value: float | None) -> str:
    return NA if value is None else f"{value:.1f} s"


def mib(value: float | None) -> str:
    return NA if value is None else f"{value:.0f}"


def met(ok: bool | None) -> str:
    return NA if ok is None else ("**met**" if ok else "**not met**")


def table(header: list[str], rows: Iterable[list[str]], align: str | None = None) -> list[str]:
    rows = list(rows)
    spec = align or "|".join(["---"] + ["---:"] * (len(header) - 1))
    return [f"| {' | '.join(header)} |", f"|{spec}|", *(f"| {' | '.join(r)} |" for r in rows)]


def load_text(machine: dict[str, Any]) -> str:
    """The 1-minute load average at the start and the end of a run, whatever the bench called it."""
    pairs = [
        ("load_average_start", "load_average_end"),
        ("load_average_at_start", "load_average_at_end"),
        ("load_average_before", "load_average_after"),
    ]
    for start_key, end_key in pairs:
        if start_key in machine or end_key in machine:
            start, end = machine.get(start_key), machine.get(end_key)
            first = lambda x: x[0] if isinstance(x, list) else x  # noqa: E731
            return f"{first(start) if start is not None else '?'} -> {first(end) if end is not None else '?'}"
    if "load_average_1m" in machine:
        return f"{machine['load_average_1m']} (at the end)"
    return "not recorded"


def machine_text(machine: dict[str, Any]) -> str:
    cpu = machine.get("cpu_model") or "CPU model not recorded"
    cores = machine.get("cores") or machine.get("cpus") or "?"
    ram = f"{machine['ram_gib']} GiB RAM" if machine.get("ram_gib") else "RAM not recorded"
    speed = machine.get("python_reference_ms")
    pace = f", Python reference loop {speed} ms" if speed else ""
    return f"{cpu}, {cores} cores, {ram}{pace}"


def date_of(data: dict[str, Any]) -> str:
    return str(data.get("date") or data.get("when") or data.get("started_at") or "not recorded")


# --- normalising the benches' files ---------------------------------------------------------------


def bot_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records; the earlier file (one level, ours only, `flows.{flow}.{rest,socketio}`) too."""
    if "records" in data:
        return [r for r in data["records"] if r.get("n")]
    out = []
    for flow, channels in data.get("flows", {}).items():
        for channel in ("rest", "socketio"):
            if isinstance(channels, dict) and channels.get(channel, {}).get("n"):
                out.append(
                    {"bot": "ours", "flow": flow, "channel": channel, "concurrency": 1, **channels[channel]}
                )
    return out


def service_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records (`backend`, `phase`, `throughput_per_s`, `p50_ms`, `p95_ms`), from either shape."""
    out = []
    for row in data.get("results", []):
        if "phase" in row:
            out.append(
                {
                    **row,
                    "throughput_per_s": row.get("throughput_per_s", row.get("per_second")),
                    "failed": row.get("failed") or {},
                }
            )
            continue
        for phase, figures in row.items():
            if isinstance(figures, dict) and "p95_ms" in figures:
                out.append(
                    {
                        "backend": row["backend"],
                        "phase": phase,
                        "throughput_per_s": figures.get("throughput_per_s", figures.get("per_second")),
                        "p50_ms": figures.get("p50_ms"),
                        "p95_ms": figures.get("p95_ms"),
                        "requests": figures.get("requests"),
                        "failed": figures.get("failed") or {},
                    }
                )
    return out


def kb_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for corpus in data.get("corpora", []):
        for mode, lat in corpus.get("latency", {}).items():
            cold = lat.get("cold", {})
            rows.append(
                {
                    "label": corpus["label"],
                    "sections": corpus["sections"],
                    "mode": mode,
                    "wall_p50": cold.get("wall", {}).get("p50_ms"),
                    "wall_p95": cold.get("wall", {}).get("p95_ms"),
                    "cpu_p50": cold.get("cpu", {}).get("p50_ms"),
                    "cpu_p95": cold.get("cpu", {}).get("p95_ms"),
                    "cached_p95": lat.get("vector_cached", {}).get("wall", {}).get("p95_ms"),
                    "repeated_p95": lat.get("repeated", {}).get("wall", {}).get("p95_ms"),
                }
            )
    return rows


def find(records: list[dict[str, Any]], **where: Any) -> dict[str, Any] | None:
    for r in records:
        if all(r.get(k) == v for k, v in where.items()):
            return r
    return None


# --- sections -------------------------------------------------------------------------------------


def bot_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """One row per flow, channel and level: ours beside the stock bot, and the target where it applies."""
    rows = []
    keys = sorted(
        {(r["flow"], r["channel"], r["concurrency"]) for r in records},
        key=lambda k: (list(FLOW_NAMES).index(k[0]) if k[0] in FLOW_NAMES else 99, k[1], k[2]),
    )
    for flow, channel, level in keys:
        ours = find(records, bot="ours", flow=flow, channel=channel, concurrency=level)
        stock = find(records, bot="stock", flow=flow, channel=channel, concurrency=level)
        trio = lambda r: f"{ms(r['p50_ms'])} / {ms(r['p95_ms'])} / {ms(r.get('p99_ms'))}" if r else NA  # noqa: E731
        ok = None
        if ours and level == BOT_TARGET_CONCURRENCY:
            ok = ours["p95_ms"] <= BOT_TARGET_MS and not ours.get("failed")
        failed = sum((ours.get("failed") or {}).values()) if ours else 0
        rows.append(
            [
                FLOW_NAMES.get(flow, flow),
                channel,
                str(level),
                trio(ours),
                trio(stock),
                str((ours or {}).get("turns_per_second") or NA),
                str(failed),
                met(ok),
            ]
        )
    return rows


def section_bot(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    records = bot_records(data)
    lines = ["## 1. Bot turn latency per flow vs concurrent conversations", ""]
    lines.append(
        "Baseline: a stock Rasa bot (`bench/stock_bot`: the same intents, NLU components and policies, "
        "responses only, no action server), started like ours and sent the same texts. "
        f"Target: p95 <= {BOT_TARGET_MS} ms at {BOT_TARGET_CONCURRENCY} concurrent conversations. "
        "REST: the webhook call; socket.io: `user_uttered` -> the turn's last `bot_uttered`. "
        "Every conversation is new, so a timed first message includes the session start (ours runs a "
        "custom `action_session_start` on the action server: even the greeting calls it). "
        "Latencies in ms (p50 / p95 / p99)."
    )
    lines.append("")
    settings = data.get("settings", {})
    if settings:
        lines.append(
            f"Closed loop: each of the C clients starts a new conversation as soon as its last one "
            f"ended (think time {settings.get('think_seconds', 0)} s), so C turns are in flight at once. "
            f"Timed turns per flow, channel and level: {settings.get('turns')} (at least one per client); "
            f"warm-up turns: {settings.get('warmup')}."
        )
        lines.append("")
    rows = bot_rows(records)
    header = ["flow", "channel", "concurrent", "ours", "stock Rasa", "ours turns/s", "failed", "target"]
    lines += table(header, rows, "---|---|---:|---:|---:|---:|---:|---")
    lines.append("")
    memory_lines = []
    for bot, info in data.get("bots", {}).items():
        start = info.get("startup_seconds_together")
        if start:
            names = {"rasa": "Rasa", "actions": "action server", "helpdesk": "service"}
            each = ", ".join(f"{names.get(k, k)} {v} s" for k, v in start.items())
            whose = "our bot's processes, started together" if bot == "ours" else f"the {bot} bot"
            memory_lines.append(f"- Start-up of {whose} (process start -> ready): {each}.")
    lines += memory_lines + ([""] if memory_lines else [])
    if plot_bot(records, out / "bot_latency.png"):
        lines += ["![bot turn p95 vs concurrent conversations](bot_latency.png)", ""]

    headline = []
    for channel in ("rest", "socketio"):
        ours = find(records, bot="ours", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            headline.append(
                [
                    f"bot turn, knowledge-base answer, {BOT_TARGET_CONCURRENCY} concurrent conversations, "
                    f"{'REST' if channel == 'rest' else 'socket.io'}: p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"p95 <= {BOT_TARGET_MS} ms: {met(ours['p95_ms'] <= BOT_TARGET_MS)}; "
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    for flow in ("baseline", "handoff"):
        ours = find(records, bot="ours", flow=flow, channel="socketio", concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow=flow, channel="socketio", concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            headline.append(
                [
                    f"bot turn, {FLOW_NAMES[flow]}, {BOT_TARGET_CONCURRENCY} concurrent, socket.io: "
                    "p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    levels = sorted({r["concurrency"] for r in records})
    kb = [find(records, bot="ours", flow="kb", channel="socketio", concurrency=c) for c in levels]
    if len(levels) > 1 and all(kb):
        headline.append(
            [
                "bot turn, knowledge-base answer, socket.io p95 at "
                + " / ".join(str(c) for c in levels)
                + " concurrent",
                " / ".join(ms(r["p95_ms"]) for r in kb if r) + " ms",
                "stock Rasa "
                + " / ".join(
                    ms(s["p95_ms"])
                    if (s := find(records, bot="stock", flow="kb", channel="socketio", concurrency=c))
                    else NA
                    for c in levels
                )
                + " ms",
            ]
        )
    return lines, headline


def plot_bot(records: list[dict[str, Any]], path: Path) -> bool:
    flows = [f for f in FLOW_NAMES if any(r["flow"] == f for r in records)]
    if not flows:
        return False
    cols = 3
    rows = (len(flows) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False, sharey=True)
    for ax, flow in zip(axes.flat, flows, strict=False):
        for bot in ("ours", "stock"):
            for channel, style in (("rest", "-"), ("socketio", "--")):
                series = sorted(
                    (r["concurrency"], r["p95_ms"])
                    for r in records
                    if r["bot"] == bot and r["flow"] == flow and r["channel"] == channel
                )
                if series:
                    xs, ys = zip(*series, strict=True)
                    ax.plot(xs, ys, style, marker="o", color=COLORS[bot], label=f"{bot}, {channel}")
        ax.axhline(
            BOT_TARGET_MS, color="tab:red", linewidth=0.8, linestyle=":", label=f"target {BOT_TARGET_MS} ms"
        )
        ax.set_title(FLOW_NAMES[flow])
        ax.set_xscale("log")
        ax.set_yscale("log")
        levels = sorted({r["concurrency"] for r in records})
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.minorticks_off()
        ax.set_xlabel("concurrent conversations")
        ax.set_ylabel("p95 turn latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(flows) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Bot turn p95: ours vs a stock Rasa bot (responses only)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def section_kb(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    rows = kb_rows(data)
    lines = ["## 2. Knowledge-base search latency vs corpus size: hybrid vs BM25 only vs dense only", ""]
    lines.append(
        "Baselines: BM25 only and dense only, on the same index and questions. New (cold) questions, "
        "k = 5, one torch thread; wall time includes waiting for a core on a busy machine, CPU time "
        "does not. Vector-cached: a seen question after an index change; repeated: the result cache. "
        "No target is set for search alone (it is part of the bot's knowledge-base turn). ms."
    )
    lines.append("")
    body = [
        [
            r["label"],
            str(r["sections"]),
            r["mode"],
            f"{ms(r['wall_p50'])} / {ms(r['wall_p95'])}",
            f"{ms(r['cpu_p50'])} / {ms(r['cpu_p95'])}",
            ms(r["cached_p95"]),
            ms(r["repeated_p95"]),
        ]
        for r in rows
    ]
    header = [
        "corpus",
        "sections",
        "mode",
        "wall p50 / p95",
        "CPU p50 / p95",
        "vector-cached p95",
        "repeated p95",
    ]
    lines += table(header, body, "---|---:|---|---:|---:|---:|---:")
    lines.append("")
    build = [
        [
            c["label"],
            str(c["sections"]),
            f"{c['build_from_store_seconds']:.2f}",
            f"{c['upsert_one_section_seconds']:.2f}",
            str(c.get("embed_ms_per_section") or NA),
            mib(c.get("rss_mib")),
        ]
        for c in data.get("corpora", [])
    ]
    header = ["corpus", "sections", "index build from stored vectors (s)", "upsert 1 section (s)",
              "embedding ms/section", "RSS MiB"]  # fmt: skip
    lines += table(header, build)
    lines.append("")
    if plot_kb(rows, out / "kb_search.png"):
        lines += ["![knowledge-base search p95 vs corpus size](kb_search.png)", ""]
    headline = []
    if rows:
        largest = max(r["sections"] for r in rows)
        at = {r["mode"]: r for r in rows if r["sections"] == largest}
        modes = [m for m in ("hybrid", "bm25", "dense") if m in at]
        headline.append(
            [
                f"knowledge-base search, new question, {largest:,} sections: p95 CPU ("
                + " / ".join(modes)
                + ")",
                " / ".join(ms(at[m]["cpu_p95"]) for m in modes) + " ms",
                "wall p95 " + " / ".join(ms(at[m]["wall_p95"]) for m in modes) + " ms",
            ]
        )
    return lines, headline


def plot_kb(rows: list[dict[str, Any]], path: Path) -> bool:
    if not rows:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (kind, title) in zip(axes, (("cpu", "CPU time"), ("wall", "wall time")), strict=True):
        for mode in ("hybrid", "bm25", "dense"):
            series = sorted(
                (r["sections"], r[f"{kind}_p95"], r[f"{kind}_p50"]) for r in rows if r["mode"] == mode
            )
            if not series:
                continue
            xs, p95, p50 = zip(*series, strict=True)
            ax.plot(xs, p95, "-", marker="o", color=COLORS[mode], label=f"{mode} p95")
            ax.plot(xs, p50, ":", marker=".", color=COLORS[mode], label=f"{mode} p50")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("corpus size (sections)")
        ax.set_ylabel("latency per new question (ms)")
        ax.set_title(f"search, {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def section_service(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    records = service_records(data)
    target_info = data.get("target") if isinstance(data.get("target"), dict) else {}
    target = target_info.get("handoff_writes_per_s", SERVICE_TARGET_PER_S)
    # The target is on all writes together when the bench reports them (phase `all`), else per phase.
    target_phases = {"all"} if any(r["phase"] == "all" for r in records) else {r["phase"] for r in records}
    target_backend = target_info.get("backend")
    lines = ["## 3. Helpdesk service throughput: SQLite vs PostgreSQL", ""]
    settings = data.get("settings", {})
    lines.append(
        "From `bench/service_throughput.py` (its settings: "
        + ", ".join(f"{k} {v}" for k, v in settings.items())
        + "). Baselines in the same run: the other backends; `postgresql-shared-socket` is the service "
        "served by uvicorn's own workers (one shared socket), `stack-floor` the same writes by FastAPI + "
        "SQLAlchemy doing only the rows (bench/stack_floor.py). Each backend's median of its rounds "
        "(every round in brackets). "
        + f"Target: {target} handoff writes/s"
        + (f" on {target_backend}" if target_backend else "")
        + (
            " (phase `all`: every write of the phases over their summed time)"
            if "all" in target_phases
            else ""
        )
        + "."
    )
    lines.append("")
    with_cpu = any(r.get("cpu_ms_per_request") for r in records)
    body = []
    for r in records:
        failed = r.get("failed")
        ok = None
        if r["phase"] in target_phases and (target_backend is None or r["backend"] == target_backend):
            ok = r["throughput_per_s"] is not None and r["throughput_per_s"] >= target
        rounds = r.get("rounds_per_s") or []
        row = [
            r["phase"],
            r["backend"],
            f"{r['throughput_per_s']}"
            + (f" ({' / '.join(str(x) for x in rounds)})" if len(rounds) > 1 else ""),
            ms(r.get("p50_ms")),
            ms(r.get("p95_ms")),
            str(sum(failed.values())) if isinstance(failed, dict) else str(failed or 0),
        ]
        if with_cpu:
            cpu = r.get("cpu_ms_per_request") or {}
            row.append(" / ".join(ms(cpu.get(k)) for k in ("service", "database", "clients")))
        body.append([*row, met(ok)])
    header = ["phase", "backend", "writes/s", "p50 ms", "p95 ms", "failed"]
    header += ["CPU ms/request: service / database / clients"] if with_cpu else []
    header += [f">= {target}/s"]
    lines += table(header, body, "---|---|" + "---:|" * (len(header) - 3) + "---")
    lines.append("")
    if plot_service(records, out / "service_throughput.png", target):
        lines += ["![service throughput and p95, SQLite vs PostgreSQL](service_throughput.png)", ""]
    headline = []
    phases = list(dict.fromkeys(r["phase"] for r in records))
    backends = list(dict.fromkeys(r["backend"] for r in records))
    phase = "all" if "all" in phases else phases[0] if phases else None
    if phase:
        cells = [find(records, phase=phase, backend=b) for b in backends]
        what = "all handoff writes" if phase == "all" else phase
        headline.append(
            [
                f"service throughput, {what}: " + " / ".join(backends),
                " / ".join(f"{c['throughput_per_s']}/s" for c in cells if c),
                "p95 " + " / ".join(f"{ms(c['p95_ms'])} ms" for c in cells if c) + f"; target {target}/s",
            ]
        )
    return lines, headline


def plot_service(records: list[dict[str, Any]], path: Path, target: float) -> bool:
    if not records:
        return False
    phases = list(dict.fromkeys(r["phase"] for r in records))
    backends = list(dict.fromkeys(r["backend"] for r in records))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(backends))
    for i, backend in enumerate(backends):
        xs = [p + i * width for p in range(len(phases))]
        cells = [find(records, phase=p, backend=backend) for p in phases]
        axes[0].bar(xs, [c["throughput_per_s"] or 0 if c else 0 for c in cells], width, label=backend)
        axes[1].bar(xs, [c["p95_ms"] or 0 if c else 0 for c in cells], width, label=backend)
    axes[0].axhline(target, color="tab:red", linestyle=":", label=f"target {target}/s")
    for ax, label in zip(axes, ("requests/s", "p95 (ms)"), strict=True):
        ax.set_xticks([p + width * (len(backends) - 1) / 2 for p in range(len(phases))], phases)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("throughput")
    axes[1].set_title("latency p95")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def section_bot_paced(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The same turns with customers who read and type: turns meet only by chance."""
    records = bot_records(data)
    think = data.get("settings", {}).get("think_seconds", 0)
    lines = ["## 1.1 Bot turn latency with paced customers", ""]
    lines.append(
        f"From `bench/bot_latency.py --think {think}`: each of the C customers starts at random within "
        f"{think} s and waits {0.5 * think:g}-{1.5 * think:g} s (at random) between conversations, as "
        "people read and type, where section 1 sends the next turn the moment the last one ended. "
        "Same bots, texts and timing; ms (p50 / p95 / p99). "
        f"Target: p95 <= {BOT_TARGET_MS} ms at {BOT_TARGET_CONCURRENCY} concurrent conversations."
    )
    lines.append("")
    rows = bot_rows(records)
    headline = []
    for channel in ("rest", "socketio"):
        ours = find(records, bot="ours", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            ok = ours["p95_ms"] <= BOT_TARGET_MS and not ours.get("failed")
            headline.append(
                [
                    f"bot turn, knowledge-base answer, {BOT_TARGET_CONCURRENCY} conversations paced "
                    f"({think:g} s apart on average), "
                    f"{'REST' if channel == 'rest' else 'socket.io'}: p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"p95 <= {BOT_TARGET_MS} ms: {met(ok)}; "
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    header = ["flow", "channel", "concurrent", "ours", "stock Rasa", "ours turns/s", "failed", "target"]
    lines += table(header, rows, "---|---|---:|---:|---:|---:|---:|---")
    lines.append("")
    return lines, headline


def handoff_topologies(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each topology's results; a file from before topologies were measured holds the single machine's."""
    return data.get("topologies") or {"single": data}


def section_handoff(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    lines = ["## 4. End-to-end handoff latencies (real stack)", ""]
    settings = data.get("settings", {})
    runs = handoff_topologies(data)
    failed = ", ".join(f"{name} {run.get('failed_handoffs', 0)}" for name, run in runs.items())
    lines.append(
        f"{settings.get('handoffs', '?')} handoffs one after the other (after {settings.get('warmup', 0)} "
        f"untimed), each a new socket.io customer; an L2 agent online, on `GET /api/v1/events` (SSE: woken "
        f"by its own worker's commits, else polling every {settings.get('sse_poll_seconds', '?')} s), "
        f"replying {settings.get('agent_reads_seconds', 0)} s after the claim. `bot decides` is when the "
        f"service stored the handoff that `action_handoff` posted. Failed handoffs: {failed}. Target: each "
        f"p95 <= {HANDOFF_TARGET_MS} ms. Each topology is started fresh with the same model. "
        "ms, p50 / p95 / p99."
    )
    lines.append("")
    for name, run in runs.items():
        lines.append(f"- {name}: {run.get('label', 'the single-machine stack')}")
    lines.append("")
    groups = (
        ("paths", True, ""),
        ("customer_to_agent_hops", False, "hop: "),
        ("baselines", False, ""),
        ("context", False, ""),
    )
    keys: dict[str, tuple[str, bool]] = {}
    for group, with_target, prefix in groups:
        for run in runs.values():
            for key, p in run.get(group, {}).items():
                keys.setdefault(f"{group}/{key}", (prefix + p.get("label", key), with_target))
    body = []
    for ref, (label, with_target) in keys.items():
        group, key = ref.split("/", 1)
        row = [label]
        verdicts = []
        for run in runs.values():
            p = run.get(group, {}).get(key, {})
            row.append(
                f"{ms(p.get('p50_ms'))} / {ms(p.get('p95_ms'))} / {ms(p.get('p99_ms'))}" if p.get("n") else NA
            )
            if with_target:
                verdicts.append(met(bool(p.get("n")) and p["p95_ms"] <= HANDOFF_TARGET_MS))
        row.append(
            str(max((run.get(group, {}).get(key, {}).get("n", 0) for run in runs.values()), default=0))
        )
        row.append(" / ".join(verdicts) if verdicts else NA)
        body.append(row)
    header = ["path", *runs, "n", f"p95 <= {HANDOFF_TARGET_MS} ms"]
    lines += table(header, body, "|".join(["---"] + ["---:"] * (len(runs) + 1) + ["---"]))
    lines.append("")
    if plot_handoff(runs, out / "handoff_latency.png"):
        lines += ["![end-to-end handoff latencies](handoff_latency.png)", ""]
    headline = []
    for name, run in runs.items():
        where = "" if name == "single" else f" ({name} topology)"
        for key, p in run.get("paths", {}).items():
            if p.get("n"):
                headline.append(
                    [
                        f"end-to-end{where}: {p['label']}: p50 / p95",
                        f"{ms(p['p50_ms'])} / {ms(p['p95_ms'])} ms",
                        f"p95 <= {HANDOFF_TARGET_MS} ms: {met(run.get('target_met', {}).get(key))}",
                    ]
                )
    return lines, headline


def plot_handoff(runs: dict[str, dict[str, Any]], path: Path) -> bool:
    short = {
        "bot_decides_to_agent": "bot decides ->\nagents see it (SSE)",
        "customer_to_agent": "customer writes ->\nagent sees it (SSE)",
        "agent_to_customer": "agent replies ->\ncustomer sees it",
        "claim_to_agent": "baseline: claim ->\nSSE (service only)",
        "socketio_bot_turn": "baseline: bot turn\n(socket.io, /greet)",
    }
    keys = [(g, k) for g in ("paths", "baselines") for k in next(iter(runs.values())).get(g, {})]
    if not keys:
        return False
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(runs)
    drawn = False
    for index, (name, run) in enumerate(runs.items()):
        series = [run.get(g, {}).get(k, {}).get("samples_ms") or [] for g, k in keys]
        at = [n + 1 - 0.4 + width * (index + 0.5) for n in range(len(keys))]
        kept = [(x, s) for x, s in zip(at, series, strict=True) if s]
        if not kept:
            continue
        drawn = True
        boxes = ax.boxplot(
            [s for _, s in kept], positions=[x for x, _ in kept], widths=width * 0.9, whis=(5, 95),
            patch_artist=True, manage_ticks=False,
        )  # fmt: skip
        colour = f"C{index}"
        for box in boxes["boxes"]:
            box.set_facecolor(colour)
            box.set_alpha(0.5)
        ax.plot([], [], color=colour, linewidth=8, alpha=0.5, label=name)
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xticks(range(1, len(keys) + 1), [short.get(k, k) for _, k in keys], fontsize=8)
    ax.axhline(HANDOFF_TARGET_MS, color="tab:red", linestyle=":", label=f"target p95 {HANDOFF_TARGET_MS} ms")
    ax.set_ylabel("ms (box: p25-p75, whiskers: p5-p95)")
    ax.set_title("End-to-end handoff latencies, per topology")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def section_footprint(
    footprint: dict[str, Any] | None, bot: dict[str, Any] | None, handoff: dict[str, Any] | None, out: Path
) -> tuple[list[str], list[list[str]]]:
    lines = ["## 5. Memory, training time and start-up time", ""]
    headline: list[list[str]] = []
    # Memory: each process alone (footprint), in the stack idle and after the latency runs.
    columns: list[tuple[str, dict[str, dict[str, Any]]]] = []
    if footprint:
        columns.append(
            (
                "alone, idle",
                {k: {"rss_mib": v.get("rss_mib"), "pss_mib": v.get("pss_mib")}
                 for k, v in footprint.get("startup_alone", {}).items()},
            )
        )  # fmt: skip
    if bot:
        bots = bot.get("bots", {})
        ours, stock = bots.get("ours", {}).get("memory", {}), bots.get("stock", {}).get("memory", {})
        for phase, label in (("idle", "stack idle"), ("after_run", "after the bot latency run")):
            cells = dict(ours.get(phase, {}))
            if stock.get(phase, {}).get("rasa"):
                cells["stock_rasa"] = stock[phase]["rasa"]
            columns.append((label, cells))
    if handoff:
        columns.append(("after the handoff run", handoff.get("memory", {}).get("after_run", {})))
    columns = [(label, values) for label, values in columns if values]
    if columns:
        lines.append(
            "RSS of each process with its children (from /proc), MiB; PSS (shared pages counted once) "
            "in brackets. Baseline: the stock Rasa bot."
        )
        lines.append("")
        body = []
        for key, name in PROCESS_NAMES.items():
            cells = []
            for _label, values in columns:
                v = values.get(key)
                cells.append(f"{mib(v.get('rss_mib'))} ({mib(v.get('pss_mib'))})" if v else NA)
            if any(c != NA for c in cells):
                body.append([name, *cells])
        lines += table(["process", *(label for label, _ in columns)], body)
        lines.append("")
        mem = next((v for label, v in columns if label == "after the bot latency run"), columns[-1][1])
        idle_col = next((v for label, v in columns if label == "stack idle"), columns[0][1])
        parts = [
            f"{PROCESS_NAMES[k].split(',')[0] if k != 'rasa' else 'Rasa'} {mib(idle_col[k]['rss_mib'])}"
            + (f" -> {mib(mem[k]['rss_mib'])}" if k in mem else "")
            for k in ("rasa", "actions", "helpdesk")
            if k in idle_col
        ]
        stock_idle = idle_col.get("stock_rasa") or (columns[0][1].get("stock_rasa") if columns else None)
        if parts:
            headline.append(
                [
                    "memory (RSS MiB), idle -> after the latency runs",
                    "; ".join(parts),
                    f"stock Rasa {mib(stock_idle['rss_mib'])} MiB" if stock_idle else NA,
                ]
            )
    if footprint:
        training = footprint.get("training", {})
        if training:
            lines.append(
                "Training with a cold cache (`rasa train` into a temporary folder). Baseline: the stock bot."
            )
            lines.append("")
            lines += table(
                ["bot", "wall", "CPU", "load average at the end"],
                [
                    [
                        name,
                        seconds(t["wall_seconds"]),
                        seconds(t["cpu_seconds"]),
                        str(t.get("load_average_end")),
                    ]
                    for name, t in training.items()
                ],
            )
            lines.append("")
            if "ours" in training:
                headline.append(
                    [
                        "bot training, cold cache (wall / CPU)",
                        f"{seconds(training['ours']['wall_seconds'])} / "
                        f"{seconds(training['ours']['cpu_seconds'])}",
                        f"stock bot {seconds(training['stock']['wall_seconds'])}"
                        if "stock" in training
                        else NA,
                    ]
                )
        alone = footprint.get("startup_alone", {})
        if alone:
            lines.append(
                f"Start-up, process start -> ready, each process alone (median of "
                f"{footprint.get('settings', {}).get('repeats', '?')}), and all three started together "
                "(bot latency and handoff runs). Baseline: the stock Rasa bot."
            )
            lines.append("")
            together = [
                (bot or {}).get("bots", {}).get("ours", {}).get("startup_seconds_together", {}),
                (handoff or {}).get("startup_seconds_together", {}),
            ]
            stock_together = (bot or {}).get("bots", {}).get("stock", {}).get("startup_seconds_together", {})
            body = []
            for key, name in PROCESS_NAMES.items():
                a = alone.get(key)
                if not a:
                    continue
                extra = ""
                if key == "helpdesk":
                    extra = (
                        f"knowledge base answers after {seconds(a.get('knowledge_base_ready_seconds'))}; "
                        f"restart {seconds(a.get('restart_ready_seconds'))}, knowledge base after "
                        f"{seconds(a.get('restart_knowledge_base_ready_seconds'))}"
                    )
                tog = [t.get(key) for t in together if t.get(key) is not None]
                if key == "stock_rasa" and stock_together.get("rasa") is not None:
                    tog = [stock_together["rasa"]]
                body.append(
                    [name, seconds(a.get("ready_seconds")), ", ".join(seconds(t) for t in tog) or NA, extra]
                )
            lines += table(["process", "alone", "in the stack", "notes"], body, "---|---:|---:|---")
            lines.append("")
            if "rasa" in alone:
                headline.append(
                    [
                        "start-up alone: Rasa (our model) / action server / service",
                        " / ".join(
                            seconds(alone[k]["ready_seconds"]) if k in alone else NA
                            for k in ("rasa", "actions", "helpdesk")
                        ),
                        f"stock Rasa {seconds(alone['stock_rasa']['ready_seconds'])}"
                        if "stock_rasa" in alone
                        else NA,
                    ]
                )
    if plot_footprint(footprint, columns, out / "footprint.png"):
        lines += ["![memory, training and start-up](footprint.png)", ""]
    if len(lines) == 2:
        lines.append("Not run.")
        lines.append("")
    return lines, headline


def plot_footprint(
    footprint: dict[str, Any] | None, columns: list[tuple[str, dict[str, dict[str, Any]]]], path: Path
) -> bool:
    panels = []
    if columns:
        panels.append("memory")
    if footprint and footprint.get("training"):
        panels.append("training")
    if footprint and footprint.get("startup_alone"):
        panels.append("startup")
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=True):
        if panel == "memory":
            keys = [k for k in PROCESS_NAMES if any(k in v for _, v in columns)]
            width = 0.8 / len(columns)
            for i, (label, values) in enumerate(columns):
                xs = [j + i * width for j in range(len(keys))]
                ax.bar(xs, [values.get(k, {}).get("rss_mib") or 0 for k in keys], width, label=label)
            ax.set_xticks([j + width * (len(columns) - 1) / 2 for j in range(len(keys))],
                          [PROCESS_NAMES[k].replace(", ", ",\n") for k in keys], fontsize=8)  # fmt: skip
            ax.set_ylabel("RSS with children (MiB)")
            ax.set_title("memory")
            ax.legend(fontsize=7)
        elif panel == "training" and footprint:
            training = footprint["training"]
            names = list(training)
            ax.bar(
                [j - 0.2 for j in range(len(names))],
                [training[n]["wall_seconds"] for n in names],
                0.4,
                label="wall",
            )
            ax.bar(
                [j + 0.2 for j in range(len(names))],
                [training[n]["cpu_seconds"] for n in names],
                0.4,
                label="CPU",
            )
            ax.set_xticks(range(len(names)), ["our bot" if n == "ours" else f"{n} bot" for n in names])
            ax.set_ylabel("seconds")
            ax.set_title("training, cold cache")
            ax.legend(fontsize=8)
        elif panel == "startup" and footprint:
            alone = footprint["startup_alone"]
            keys = [k for k in PROCESS_NAMES if k in alone]
            ax.bar(range(len(keys)), [alone[k]["ready_seconds"] for k in keys], color="tab:blue")
            ax.set_xticks(range(len(keys)), [PROCESS_NAMES[k].replace(", ", ",\n") for k in keys], fontsize=8)
            ax.set_ylabel("seconds, start -> ready (alone)")
            ax.set_title("start-up")
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# --- the report -----------------------------------------------------------------------------------


def read(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / name
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="read the quick-mode results folder")
    parser.add_argument("--results", type=Path, default=None, help="default: bench/results (BENCH_RESULTS)")
    args = parser.parse_args()
    folder = (args.results or results_dir(quick_mode(args.quick))).resolve()
    folder.mkdir(parents=True, exist_ok=True)

    files = {
        "bot": ("bot_latency.json", "bench/bot_latency.py"),
        "bot_paced": ("bot_latency_paced.json", "bench/bot_latency.py --think"),
        "kb": ("kb_search.json", "bench/kb_search.py"),
        "service": ("service_throughput.json", "bench/service_throughput.py"),
        "handoff": ("handoff_latency.json", "bench/handoff_latency.py"),
        "footprint": ("footprint.json", "bench/footprint.py"),
        "scale_out": ("scale_out.json", "bench/scale_out.py"),
    }
    data = {key: read(folder, name) for key, (name, _) in files.items()}
    here = machine_info()
    quick = [files[k][0] for k, d in data.items() if d and d.get("quick")]

    lines = ["# Benchmark report", ""]
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    lines.append(
        f"Generated {now_iso()} by `bench/report.py` from `{shown}/*.json` "
        "(`make bench` runs every benchmark, then this)."
    )
    lines.append("")
    lines.append(f"Report machine: {machine_text(here)}; load average now {here['load_average_end']}.")
    lines.append("")
    if quick:
        lines.append(
            f"> **Quick mode** ({', '.join(quick)}): small sizes to check that the benchmarks run; "
            "the figures are not the project's measurements."
        )
        lines.append("")
    lines.append("Every benchmark run: when, on what, and the 1-minute load average at its start -> end "
                 "(other work on the machine inflates latencies: compare runs at similar load).")  # fmt: skip
    lines.append("")
    runs = []
    for key, (_name, script) in files.items():
        d = data[key]
        if d is None:
            runs.append([f"`{script}`", "not run", NA, NA])
        else:
            runs.append(
                [
                    f"`{script}`" + (" (quick)" if d.get("quick") else ""),
                    date_of(d),
                    machine_text(d.get("machine", {})),
                    load_text(d.get("machine", {})),
                ]
            )
    lines += table(["benchmark", "date", "machine", "load average"], runs, "---|---|---|---")
    lines.append("")

    headline: list[list[str]] = []
    sections = []
    if data["bot"]:
        body, head = section_bot(data["bot"], folder)
        sections.append(body)
        headline += head
    if data["bot_paced"]:
        body, head = section_bot_paced(data["bot_paced"])
        sections.append(body)
        headline += head
    if data["handoff"]:
        body, head = section_handoff(data["handoff"], folder)
        sections.append(body)
        headline += head
    if data["kb"]:
        body, head = section_kb(data["kb"], folder)
        sections.append(body)
        headline += head
    if data["service"]:
        body, head = section_service(data["service"], folder)
        sections.append(body)
        headline += head
    if data["footprint"] or data["bot"] or data["handoff"]:
        body, head = section_footprint(data["footprint"], data["bot"], data["handoff"], folder)
        sections.append(body)
        headline += head
    if data["scale_out"]:
        body, head = section_scale_out(data["scale_out"], folder)
        sections.append(body)
        headline += head
    order = ["## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."]
    sections.sort(key=lambda s: next((i for i, o in enumerate(order) if s[0].startswith(o)), 9))
    for section in sections:
        lines += section

    (folder / "REPORT.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    readme = readme_table(headline, data, here, quick)
    (folder / "README_TABLE.md").write_text(readme, encoding="utf-8")
    print(f"wrote {folder / 'REPORT.md'}, {folder / 'README_TABLE.md'} and the plots in {folder}")


def readme_table(
    headline: list[list[str]], data: dict[str, dict[str, Any] | None], here: dict[str, Any], quick: list[str]
) -> str:
    loads = [load_text(d.get("machine", {})) for d in data.values() if d]
    dates = sorted(date_of(d)[:10] for d in data.values() if d and date_of(d)[:1].isdigit())
    machine = next((d["machine"] for d in data.values() if d and d.get("machine", {}).get("cpu_model")), here)
    intro = (
        f"Measured by `make bench` on {machine_text(machine)}, {dates[0] if dates else '?'}"
        + (f" to {dates[-1]}" if dates and dates[-1] != dates[0] else "")
        + f"; 1-minute load average during the runs (start -> end): {', '.join(loads) or '?'}. "
        "Full report, baselines and plots: [bench/results/REPORT.md](bench/results/REPORT.md)."
    )
    if quick:
        intro += " **Quick mode: not the project's figures.**"
    lines = [intro, ""]
    lines += table(["what", "figure", "target / baseline"], headline, "---|---|---")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
