"""Section 5: memory, training time and start-up time (bench/footprint.py, and the memory that
bench/bot_latency.py and bench/handoff_latency.py record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import NA, mib, seconds, table

PROCESS_NAMES = {
    "rasa": "Rasa, our bot",
    "actions": "action server",
    "helpdesk": "helpdesk service",
    "stock_rasa": "Rasa, stock bot",
}


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
