"""What the report's sections share: the targets, Markdown formatting, and reading the benches' files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

BOT_TARGET_MS = 150
BOT_TARGET_CONCURRENCY = 10
HANDOFF_TARGET_MS = 300
# The README's target for the service's writes (bench/service_throughput.py).
SERVICE_TARGET_PER_S = 500
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


# --- looking up records -------------------------------------------------------------------------


def find(records: list[dict[str, Any]], **where: Any) -> dict[str, Any] | None:
    for r in records:
        if all(r.get(k) == v for k, v in where.items()):
            return r
    return None
