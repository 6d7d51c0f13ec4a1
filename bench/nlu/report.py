"""Writes docs/nlu/pipeline.md from bench/nlu_eval.py's results (bench/results/nlu.json).

.venv/bin/python bench/nlu/report.py [--results bench/results/nlu.json] [--out docs/nlu/pipeline.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = "bot/config.yml"


NA = "-"


def pct(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.1f}%"


def row(run: dict[str, Any]) -> str:
    held = run["heldout_en"]
    clinc = run["clinc_val"]
    name = run["config"] + (" **(shipped)**" if run["config"] == SHIPPED else "")
    return (
        f"| {name} | {held['accuracy']:.3f} | {pct(held['in_scope_accuracy'])} "
        f"| {pct(held['out_of_scope_recall'])} | {pct(clinc['out_of_scope_recall'])} | {run['threshold']} "
        f"| {run['train_seconds']} | {run['parse_ms_p95']} |"
    )


def operating_points(run: dict[str, Any]) -> list[str]:
    lines = ["| threshold | accuracy | in scope | out of scope recalled |", "|---|---|---|---|"]
    for threshold, figures in run["heldout_en"]["sweep"].items():
        if float(threshold) <= 0.6:
            lines.append(
                f"| {threshold} | {figures['accuracy']:.3f} | {pct(figures['in_scope_accuracy'])} "
                f"| {pct(figures['out_of_scope_recall'])} |"
            )
    return lines


def per_intent(run: dict[str, Any]) -> list[str]:
    lines = ["| intent | held-out messages | recalled | most often taken for |", "|---|---|---|---|"]
    for intent, figures in run["heldout_en"]["per_intent"].items():
        confused = ", ".join(f"{name} ({count})" for name, count in figures["confused_with"].items()) or NA
        lines.append(f"| {intent} | {figures['n']} | {pct(figures['recall'])} | {confused} |")
    return lines


def build(results: dict[str, Any]) -> str:
    runs = results["runs"]
    shipped = next((run for run in runs if run["config"] == SHIPPED), runs[0])
    return "\n".join(
        [
            "# The NLU pipeline: which one, and why",
            "",
            "Written by `bench/nlu/report.py` from `bench/results/nlu.json` (`bench/nlu_eval.py`). Every",
            "candidate is trained on the same data (bot/data/) and measured on messages it never saw:",
            "",
            "- **held-out** (`heldout/intents_en.yml`, 234 messages, 32 of them out of scope): written",
            "  from one-line problem descriptions only, never from the training data",
            "  (tests/deploy/test_heldout.py);",
            "- **CLINC150 validation** (3,000 everyday questions + 100 out-of-scope ones, `../shared/data`):",
            "  its small talk maps to our intents, everything else is out of scope for an IT help desk.",
            "",
            "A message counts as out of scope when the bot says `out_of_scope` or falls back",
            "(`nlu_fallback`, below the confidence threshold). Each candidate's threshold is chosen on the",
            "tuning side only (`bench/nlu/dev_intents.yml` and CLINC's everyday questions), then the",
            "held-out figures are read at it.",
            "",
            "| pipeline | held-out accuracy | in scope | out of scope recalled | CLINC out of scope recalled "
            "| threshold | training s | parse p95 ms |",
            "|---|---|---|---|---|---|---|---|",
            *[row(run) for run in runs],
            "",
            "Training seconds are the NLU part of `rasa train` (warm cache: the shipped pipeline's first",
            "training also embeds every example once); parse p95 is one message through the pipeline.",
            "",
            f"## The shipped pipeline ({SHIPPED}) along its threshold (held-out)",
            "",
            *operating_points(shipped),
            "",
            "## Per intent (held-out, shipped pipeline, at its threshold)",
            "",
            *per_intent(shipped),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench/results/nlu.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/nlu/pipeline.md")
    args = parser.parse_args()
    args.out.write_text(build(json.loads(args.results.read_text())))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
