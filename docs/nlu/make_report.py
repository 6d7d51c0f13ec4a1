"""Writes docs/nlu/cross_validation.md from `rasa test nlu --cross-validation` outputs.

Run from the repository root after the cross-validation runs (see the report for the commands):
    .venv/bin/python docs/nlu/make_report.py OUT_DIR_A OUT_DIR_B ...
Each OUT_DIR is named after its config in docs/nlu/configs/ (e.g. /tmp/cv-sparse_word_char).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(out_dirs: list[Path]) -> None:
    reports = {}
    for out in out_dirs:
        name = out.name.removeprefix("cv-")
        report = json.loads((out / "intent_report.json").read_text())
        reports[name] = report
        shutil.copy(out / "intent_report.json", HERE / f"intent_report_{name}.json")
    intents = sorted(
        k
        for k in next(iter(reports.values()))
        if isinstance(reports[next(iter(reports))][k], dict)
        and k not in ("macro avg", "weighted avg", "micro avg")
    )
    names = list(reports)
    lines = [
        "| intent | support | " + " | ".join(f"F1 {n}" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for intent in intents:
        support = reports[names[0]][intent]["support"]
        lines.append(
            f"| {intent} | {support} | "
            + " | ".join(f"{reports[n][intent]['f1-score']:.3f}" for n in names)
            + " |"
        )
    for avg in ("macro avg", "weighted avg"):
        lines.append(
            f"| **{avg}** | | " + " | ".join(f"**{reports[n][avg]['f1-score']:.3f}**" for n in names) + " |"
        )
    lines.append(
        "| **accuracy** | | " + " | ".join(f"**{reports[n].get('accuracy', 0):.3f}**" for n in names) + " |"
    )
    (HERE / "per_intent_f1.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main([Path(arg) for arg in sys.argv[1:]])
