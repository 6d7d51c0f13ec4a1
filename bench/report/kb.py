"""Section 2: knowledge-base search latency vs corpus size (bench/kb_search.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import COLORS, NA, mib, ms, table


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
