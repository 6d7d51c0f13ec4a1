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


def configured_threshold(config: str) -> float | None:
    """The FallbackClassifier's threshold in a candidate's own config file."""
    import yaml

    pipeline = yaml.safe_load((ROOT / config).read_text()).get("pipeline") or []
    for component in pipeline:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return None


def at_own_threshold(run: dict[str, Any]) -> str:
    threshold = configured_threshold(run["config"])
    key = f"{threshold:g}" if threshold is not None else "0.0"
    cells = []
    for source in ("heldout_en", "heldout_de"):
        sweep = (run.get(source) or {}).get("sweep") or {}
        figures = sweep.get(key) or sweep.get(str(threshold))
        cells += (
            [
                f"{figures['accuracy']:.3f}",
                pct(figures["in_scope_accuracy"]),
                pct(figures["out_of_scope_recall"]),
            ]
            if figures
            else [NA, NA, NA]
        )
    name = run["config"] + (" **(shipped)**" if run["config"] == SHIPPED else "")
    return f"| {name} | {threshold} | " + " | ".join(cells) + " |"


def conversations() -> list[str]:
    """The simulated customers with the shipped NLU and with the sparse one, when both were run."""
    runs = {
        "shipped pipeline": ROOT / "bench/results/conversations.json",
        "sparse pipeline (bench/nlu/configs/sparse.yml)": ROOT
        / "bench/results/conversations_sparse_nlu.json",
    }
    lines = [
        "| NLU | language | contained with the right answer | right escalations | stalls | turns |",
        "|---|---|---|---|---|---|",
    ]
    for name, path in runs.items():
        if not path.exists():
            continue
        for language, figures in sorted(json.loads(path.read_text())["by_language"].items()):
            lines.append(
                f"| {name} | {language} | {figures['contained_right']}/{figures['l1_solvable']} "
                f"| {figures['escalated_right']}/{figures['escalations_expected']} | {figures['stalls']} "
                f"| {figures['turns_to_resolution_mean']} |"
            )
    return lines if len(lines) > 2 else []


def build(results: dict[str, Any]) -> str:
    runs = results["runs"]
    shipped = next((run for run in runs if run["config"] == SHIPPED), runs[0])
    english, german = shipped["heldout_en"], shipped.get("heldout_de") or {}
    detection = results.get("language_detection") or {}
    return "\n".join(
        [
            "# The NLU pipeline: which one, and why",
            "",
            "Written by `bench/nlu/report.py` from `bench/results/nlu.json` (`bench/nlu_eval.py`). Every",
            "candidate is trained on the same data (bot/data/) and measured on messages it never saw:",
            "",
            f"- **held-out** (`heldout/intents_en.yml`, {english['n']} messages, "
            f"{english['out_of_scope_n']} of them out of scope; `heldout/intents_de.yml`, "
            f"{german.get('n', 0)} German messages): written",
            "  from one-line problem descriptions only, never from the training data",
            "  (tests/deploy/test_heldout.py fails on any overlap);",
            "- **CLINC150 validation** (3,000 everyday questions + 100 out-of-scope ones, `../shared/data`):",
            "  its small talk maps to our intents, everything else is out of scope for an IT help desk.",
            "",
            "A message counts as out of scope when the bot says `out_of_scope` or falls back",
            "(`nlu_fallback`, below the confidence threshold).",
            "",
            "## Each candidate at the threshold in its own config",
            "",
            "| pipeline | threshold | EN accuracy | EN in scope | EN out of scope recalled "
            "| DE accuracy | DE in scope | DE out of scope recalled |",
            "|---|---|---|---|---|---|---|---|",
            *[at_own_threshold(run) for run in runs],
            "",
            "## Each candidate at the threshold the tuning side chooses",
            "",
            "The highest threshold at which the tuning side (`bench/nlu/dev_intents.yml` and CLINC's",
            "everyday questions) keeps 93% of its in-scope messages; the lowest (0.0) when none does.",
            "",
            "| pipeline | held-out accuracy | in scope | out of scope recalled | CLINC out of scope recalled "
            "| threshold | training s | parse p95 ms |",
            "|---|---|---|---|---|---|---|---|",
            *[row(run) for run in runs],
            "",
            "Training seconds are the NLU part of `rasa train` (the shipped pipeline's from a warm cache,",
            "the others cold); parse p95 is one message through the pipeline.",
            "",
            "## In conversations",
            "",
            "The same simulated customers (`bench/conversations.py --german`, the real stack) with the",
            "shipped NLU and with the sparse one, everything else equal:",
            "",
            *conversations(),
            "",
            "## Language detection (lingua, English and German)",
            "",
            f"On {detection.get('messages', 0)} held-out messages: {pct(detection.get('right'))} right, "
            f"{pct(detection.get('undecided'))} undecided (too short or unsure: the widget's hint holds), "
            f"{pct(detection.get('wrong'))} wrong.",
            "",
            f"## The shipped pipeline ({SHIPPED}) along its threshold (held-out, English)",
            "",
            *operating_points(shipped),
            "",
            "## Per intent (held-out, shipped pipeline, at the tuning side's threshold)",
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
