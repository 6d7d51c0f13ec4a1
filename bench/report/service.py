"""Section 3: the helpdesk service's throughput per backend (bench/service_throughput.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import SERVICE_TARGET_PER_S, find, met, ms, table


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
