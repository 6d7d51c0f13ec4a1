"""Section 4: end-to-end handoff latencies on the real stack (bench/handoff_latency.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import HANDOFF_TARGET_MS, NA, met, ms, table


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
