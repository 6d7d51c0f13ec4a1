"""Simulated customers on the real stack: a few scenarios of every kind, each must end right.

The whole set (heldout/scenarios_*.yml) runs in `make bench` (bench/conversations.py) with its figures in
the README; these run in `make test`: a guided setup, an answer from the knowledge base, a password reset,
a guide failing at a step, a security incident, a customer who asks for a person, an out-of-scope question.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.harness.scripted_customer import Outcome, ScriptedCustomer, article_titles
from tests.harness.stack import ROOT, Stack, trained_model

SUBSET = [
    "vpn-macbook-first-setup",
    "wifi-visitor-tomorrow",
    "pwreset-forgot-after-holiday",
    "flow-fail-vpn-mac-step3",
    "security-ransom-note-files-encrypted",
    "human-real-person-please",
    "declined-payday",
]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(
        data_dir=Path(tmp_path_factory.mktemp("conversations")), model=trained_model(ROOT / "var" / "models")
    )
    running.start()
    running.create_user("lena", "lead")
    running.tokens["lead"] = running.tokens["lena"]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def outcomes(stack: Stack) -> dict[str, Outcome]:
    scenarios = {
        s["id"]: s for s in yaml.safe_load((ROOT / "heldout/scenarios_en.yml").read_text())["scenarios"]
    }

    async def play() -> dict[str, Outcome]:
        articles = await article_titles(stack.helpdesk_url, stack.tokens["lead"])
        played = await asyncio.gather(
            *(
                ScriptedCustomer(
                    scenarios[name], stack.rasa_url, stack.helpdesk_url, stack.tokens, articles
                ).play()
                for name in SUBSET
            )
        )
        return {outcome.scenario: outcome for outcome in played}

    return asyncio.run(play())


@pytest.mark.parametrize("name", SUBSET)
def test_the_customer_gets_the_right_outcome(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    transcript = "\n".join(outcome.transcript)
    assert outcome.right, f"{outcome.result}: {outcome.why}\n{transcript}"
    assert outcome.result != "stalled"
