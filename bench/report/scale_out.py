"""Section 6: scale-out, one Rasa instance and service worker vs two (bench/scale_out.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import NA

FLOWS = {"baseline": "greeting", "kb": "knowledge-base answer"}
PHASES = ("create", "claim", "message", "all")


def _ms(value: float | None) -> str:
    return NA if value is None else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.0f} %"


def rows(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any] | None], str]]:
    """(what, the record of each topology in order, unit) for every measured figure."""
    topologies = data.get("topologies", [])
    out: list[tuple[str, list[dict[str, Any] | None], str]] = []
    for flow, name in FLOWS.items():
        out.append((f"bot: {name}", [t["bot"].get(flow) for t in topologies], "messages/s"))
    for phase in PHASES:
        out.append((f"handoffs: {phase}", [t["handoffs"].get(phase) for t in topologies], "writes/s"))
    return out


def rate(record: dict[str, Any] | None) -> float | None:
    if record is None:
        return None
    value = record.get("messages_per_second", record.get("throughput_per_s"))
    return float(value) if value is not None else None


def failed(record: dict[str, Any] | None) -> int:
    value = (record or {}).get("failed", 0)
    return sum(value.values()) if isinstance(value, dict) else int(value or 0)


def section_scale_out(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    topologies = data.get("topologies", [])
    names = [f"{t['instances']} x" for t in topologies]
    settings = data.get("settings", {})
    lines = ["## 6. Scale-out: one Rasa instance and service worker vs two (real infrastructure)", ""]
    lines.append(
        "From `bench/scale_out.py`: each topology as `tests/harness/cluster.py` starts it (Rasa on a "
        "PostgreSQL tracker store, Redis lock store and RabbitMQ broker; service workers on one "
        "PostgreSQL database), one after the other in the same run; `N x` is N Rasa instances and N "
        f"service workers. Bot: {settings.get('concurrency', '?')} REST customers in a closed loop, each "
        f"turn a new conversation, {settings.get('seconds', '?')} s per flow, customer i on instance i mod "
        f"N. Handoffs: {settings.get('clients', '?')} clients, client i on worker i mod N, replies "
        "delivered to the real Rasa instances. Baseline: `1 x`. CPU is the whole machine's (clients "
        "included), busy share during the phase."
    )
    lines.append("")
    header = ["what"] + [f"{n} rate" for n in names] + ["ratio"] + [f"{n} p95 ms" for n in names]
    header += [f"{n} CPU" for n in names] + ["failed"]
    body = []
    for what, records, unit in rows(data):
        rates = [rate(r) for r in records]
        ratio = rates[-1] / rates[0] if len(rates) > 1 and rates[0] and rates[-1] is not None else None
        body.append(
            [what]
            + [NA if v is None else f"{v:.1f} {unit}" for v in rates]
            + [NA if ratio is None else f"{ratio:.2f}"]
            + [_ms((r or {}).get("p95_ms")) for r in records]
            + [_pct((r or {}).get("cpu_busy")) for r in records]
            + [" / ".join(str(failed(r)) for r in records)]
        )
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    lines.append("")
    extra = []
    for t, n in zip(topologies, names, strict=True):
        rss = sum(m.get("rss_mib") or 0 for m in t.get("memory", {}).values())
        outbox = t["handoffs"].get("message", {}).get("outbox", {})
        extra.append(
            f"`{n}`: ready {t.get('startup_seconds')} s after start, memory {rss:.0f} MiB RSS in all "
            f"({len(t.get('memory', {}))} processes), last reply handed to Rasa "
            f"{outbox.get('seconds_after_phase', NA)} s after the message phase "
            f"({outbox.get('sent', NA)}/{outbox.get('messages', NA)})."
        )
    lines += [*extra, ""]
    if plot_scale_out(data, out / "scale_out.png"):
        lines += ["![scale-out: throughput per topology](scale_out.png)", ""]
    headline = []
    if len(topologies) > 1:
        found = {what: [rate(r) for r in records] for what, records, _ in rows(data)}
        kb = found.get("bot: knowledge-base answer", [])
        writes = found.get("handoffs: all", [])
        if kb and all(v is not None for v in kb) and writes and all(v is not None for v in writes):
            headline.append(
                [
                    f"scale-out on these 2 cores, {' vs '.join(names)} (Rasa instances + service workers)",
                    f"KB answers {' / '.join(f'{v:.1f}' for v in kb)} messages/s; "  # type: ignore[str-format]
                    f"handoff writes {' / '.join(f'{v:.0f}' for v in writes)}/s",  # type: ignore[str-format]
                    "baseline: 1 x in the same run",
                ]
            )
    return lines, headline


def plot_scale_out(data: dict[str, Any], path: Path) -> bool:
    topologies = data.get("topologies", [])
    if len(topologies) < 1:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    groups = [(axes[0], [r for r in rows(data) if r[2] == "messages/s"], "bot messages/s"),
              (axes[1], [r for r in rows(data) if r[2] == "writes/s"], "handoff writes/s")]  # fmt: skip
    width = 0.8 / len(topologies)
    for ax, measured, label in groups:
        for i, t in enumerate(topologies):
            xs = [p + i * width for p in range(len(measured))]
            ax.bar(
                xs, [rate(records[i]) or 0 for _, records, _ in measured], width, label=f"{t['instances']} x"
            )
        ax.set_xticks([p + width * (len(topologies) - 1) / 2 for p in range(len(measured))],
                      [what.split(": ", 1)[1] for what, _, _ in measured], fontsize=8)  # fmt: skip
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("N Rasa instances + N service workers on 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
