"""Simulated customers against the real stack: does Level 1 give the right answer, in conversations?

Starts Rasa (the trained bot), the action server and the service (demo directory and dev mailbox, as
`make run`), then plays every scenario of heldout/scenarios_en.yml (and scenarios_de.yml with --german)
over the widget's socket.io channel with a scripted customer (tests/harness/scripted_customer.py), a
few at a time. Writes the figures and every transcript:

    .venv/bin/python bench/conversations.py --out bench/results/conversations.json [--only ID ...]

Figures: contained with the right answer (share of the Level-1-solvable scenarios), escalated to the
right tier and reason (share of the scenarios that need a person), stalls, wrong answers, handoffs
nobody needed, and the customer's turns to resolution.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.scripted_customer import (  # noqa: E402
    Outcome,
    ScriptedCustomer,
    article_titles,
    summarise,
)
from tests.harness.stack import Stack, trained_model  # noqa: E402

SCENARIOS = {"en": ROOT / "heldout/scenarios_en.yml", "de": ROOT / "heldout/scenarios_de.yml"}


def load_scenarios(languages: list[str], only: list[str] | None) -> list[dict[str, Any]]:
    scenarios: list[dict[str, Any]] = []
    for language in languages:
        scenarios += yaml.safe_load(SCENARIOS[language].read_text())["scenarios"]
    if only:
        scenarios = [s for s in scenarios if s["id"] in only]
    return scenarios


async def play_all(stack: Stack, scenarios: list[dict[str, Any]], parallel: int) -> list[Outcome]:
    articles = await article_titles(stack.helpdesk_url, stack.tokens["lead"])
    gate = asyncio.Semaphore(parallel)

    async def one(scenario: dict[str, Any]) -> Outcome:
        async with gate:
            customer = ScriptedCustomer(scenario, stack.rasa_url, stack.helpdesk_url, stack.tokens, articles)
            try:
                return await customer.play()
            except Exception as exc:  # a harness failure is a result to read, not a crash of the run
                customer.outcome.result = "stalled"
                customer.outcome.why = f"harness error: {type(exc).__name__}: {exc}"
                return customer.outcome

    return list(await asyncio.gather(*(one(s) for s in scenarios)))


def run(languages: list[str], only: list[str] | None, parallel: int) -> dict[str, Any]:
    scenarios = load_scenarios(languages, only)
    with tempfile.TemporaryDirectory(prefix="conversations-") as folder:
        stack = Stack(data_dir=Path(folder), model=trained_model(ROOT / "var" / "models"))
        started = time.monotonic()
        stack.start()
        stack.create_user("lena", "lead")
        stack.tokens["lead"] = stack.tokens["lena"]
        try:
            outcomes = asyncio.run(play_all(stack, scenarios, parallel))
        finally:
            stack.stop()
        seconds = time.monotonic() - started
    by_language = {
        language: summarise([o for o in outcomes if o.language == language])
        for language in sorted({o.language for o in outcomes})
    }
    return {
        "summary": summarise(outcomes),
        "by_language": by_language,
        "seconds": round(seconds, 1),
        "outcomes": [asdict(o) for o in outcomes],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--german", action="store_true")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(["en", "de"] if args.german else ["en"], args.only, args.parallel)
    print(json.dumps({"summary": result["summary"], "by_language": result["by_language"]}, indent=1))
    for outcome in result["outcomes"]:
        if not outcome["right"]:
            print(f"- {outcome['scenario']}: {outcome['result']} ({outcome['why']})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
