"""Turns the benchmarks' JSON files into a Markdown report, plots and the README's table of figures.

Run:  .venv/bin/python -m bench.report [--results bench/results] [--quick]   (from the repository root)

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
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine_info, now_iso, quick_mode, results_dir
from bench.report.bot import section_bot, section_bot_paced
from bench.report.common import NA, date_of, load_text, machine_text, table
from bench.report.footprint import section_footprint
from bench.report.handoff import section_handoff
from bench.report.kb import section_kb
from bench.report.scale_out import section_scale_out
from bench.report.service import section_service


def read(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / name
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        f"Generated {now_iso()} by `python -m bench.report` from `{shown}/*.json` "
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
