"""Many customers and agents at once on the real stack; every message counted at both ends.

N customers on socket.io stay connected for the run's duration while conversations start at a steady
pace, and M L2 agents work the queue over the API (sizes and pace: tests/load/conftest.py; what each side
does: tests/load/simulation.py). Then:

- nothing failed: no 5xx, no socket closed by the server, no customer or agent step timed out, every
  conversation that started finished;
- each conversation that asked for a human got exactly one handoff (its tickets, as the bot would ask),
  the others none; each handoff was claimed exactly once (by one agent, one `handoff.claimed` event) and
  resolved once, and the customer was handed back once and heard nothing from the bot meanwhile;
- every line a customer wrote during its handoff is in the handoff's transcript exactly once and in
  order; every agent message is in the transcript once, and reached the customer exactly once, in order.

The figures (message rates, latency percentiles, load average) are printed and written as JSON: to
`bench/results/load.json` for the full run (`HELPDESK_LOAD_FULL=1`, cited in the README), otherwise to
`$HELPDESK_DATA_DIR/load.json`.
"""

import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.stack import ROOT, Stack

from .simulation import BURST, KB_QUESTIONS, Run, Settings

pytestmark = pytest.mark.e2e


def percentiles(samples: list[float]) -> dict[str, float | int]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.5) * 1000, 1),
        "p95_ms": round(pick(0.95) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


async def sample_load(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(os.getloadavg()[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


def check(run: Run, stack: Stack) -> tuple[list[str], dict[str, int]]:
    """Everything counted at both ends; returns the problems found and the counts."""
    problems: list[str] = []
    lead = httpx.Client(
        base_url=stack.helpdesk_url, headers={"Authorization": f"Bearer {stack.tokens['lena']}"}, timeout=60
    )
    bot = httpx.Client(
        base_url=stack.helpdesk_url, headers={"Authorization": f"Bearer {stack.tokens['bot']}"}, timeout=60
    )
    by_session = {c.session_id: c for c in run.conversations}
    claims_per_handoff = Counter(claim.handoff_id for claim in run.claims)
    problems += [
        f"handoff {h} claimed {n} times by the agents" for h, n in claims_per_handoff.items() if n != 1
    ]
    claim_of = {claim.conversation_id: claim for claim in run.claims}
    counts = Counter[str]()
    with lead, bot:
        for conv in run.conversations:
            counts["conversations"] += 1
            tag = f"{conv.tag()} {conv.session_id}"
            if not conv.done:
                problems.append(f"{tag}: did not finish")
                continue
            tickets = bot.get("/api/v1/tickets", params={"conversation_id": conv.session_id}).json()[
                "tickets"
            ]
            if not conv.asked_human:
                if tickets:
                    problems.append(f"{tag}: never asked for a human but has {tickets}")
                continue
            counts["asked for a human"] += 1
            if [t["number"] for t in tickets] != [conv.ticket]:
                problems.append(f"{tag}: asked once, told {conv.ticket}, has tickets {tickets}")
                continue
            claim = claim_of.get(conv.session_id)
            if claim is None or claim.number != conv.ticket:
                problems.append(f"{tag}: {conv.ticket} was never claimed by an agent")
                continue
            counts["handoffs"] += 1
            handoff = lead.get(f"/api/v1/handoffs/{claim.handoff_id}").json()
            kinds = Counter(event["kind"] for event in handoff["history"])
            if (kinds["handoff.created"], kinds["handoff.claimed"], kinds["handoff.resolved"]) != (1, 1, 1):
                problems.append(f"{tag}: history {dict(kinds)}")
            if handoff["status"] != "resolved" or conv.handed_back != 1:
                problems.append(f"{tag}: status {handoff['status']}, handed back {conv.handed_back} times")
            if conv.bot_during_handoff:
                problems.append(f"{tag}: the bot spoke during the handoff: {conv.bot_during_handoff}")
            customer_lines = [
                t["text"]
                for t in handoff["transcript"]
                if t["role"] == "customer" and t["text"].startswith("[c")
            ]
            if customer_lines != conv.written:
                problems.append(f"{tag}: wrote {conv.written}, transcript has {customer_lines}")
            agent_lines = [t["text"] for t in handoff["transcript"] if t["role"] == "agent"]
            if not (agent_lines == claim.sent == conv.agent_lines) or len(claim.sent) != BURST + 1:
                got = conv.agent_lines
                problems.append(
                    f"{tag}: agent sent {claim.sent}, transcript has {agent_lines}, customer got {got}"
                )
            counts["customer lines during handoffs"] += len(conv.written)
            counts["agent messages delivered"] += len(conv.agent_lines)
        for claim in run.claims:
            if claim.conversation_id not in by_session:
                problems.append(f"{claim.number}: claimed, but no customer of this run asked for it")
    counts["claims"] = len(run.claims)
    return problems, dict(counts)


def report(
    run: Run, settings: Settings, seconds: float, load: list[float], counts: dict[str, int]
) -> dict[str, Any]:
    stats = run.stats
    turns = len(stats.bot_latency)
    return {
        "benchmark": "load: customers on socket.io and agents over the API at once (tests/load)",
        "run": "make test-load (this size: HELPDESK_LOAD_FULL=1, as .ci/run sets it)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "system": f"{platform.system()} {platform.machine()}",
            "python": platform.python_version(),
            # Other work shares the machine (other engineers' stacks and suites): the load averages.
            "load_average_1m": {
                "mean": round(statistics.fmean(load), 2) if load else None,
                "max": round(max(load), 2) if load else None,
                "at_end": round(os.getloadavg()[0], 2),
            },
        },
        "size": {
            "customers": settings.customers,
            "agents": settings.agents,
            "load_seconds": settings.seconds,
            "think_seconds_mean": round(settings.think, 2),
            "paced_bot_turns_per_second": round(settings.turns_per_second, 2),
            "human_share": settings.human_share,
            "agent_capacity": settings.capacity,
        },
        "seconds_until_last_customer_finished": round(seconds, 1),
        "counts": {
            **counts,
            "socket_connections": stats.connections,
            "peak_open_connections": stats.peak_connections,
            "customer_messages": stats.customer_lines,
            "bot_turns": turns,
            "messages_to_customers": stats.bot_messages,
            "agent_messages": stats.agent_messages,
            "api_requests": sum(stats.api_statuses.values()),
            "api_statuses": {str(code): n for code, n in sorted(stats.api_statuses.items())},
            "errors": len(run.errors),
        },
        "rates_per_second": {
            "all_messages": round((stats.customer_lines + stats.bot_messages) / seconds, 2),
            "customer_messages": round(stats.customer_lines / seconds, 2),
            "bot_turns": round(turns / seconds, 2),
            "agent_messages": round(stats.agent_messages / seconds, 2),
            "api_requests": round(sum(stats.api_statuses.values()) / seconds, 2),
        },
        "latency": {
            "bot_answer_any_turn": percentiles(stats.bot_latency),
            "bot_answer_knowledge_base": percentiles(stats.kb_latency),
            "agent_to_customer": percentiles(stats.agent_to_customer),
            # Seen by the agent's poll of the handoff (every second): an upper bound.
            "customer_to_agent_transcript": percentiles(stats.customer_to_agent),
        },
    }


async def single_turn_seconds(stack: Stack, turns: int = 5) -> float:
    """The median time the bot takes to answer a knowledge-base question of one customer alone."""
    samples = []
    async with httpx.AsyncClient(base_url=stack.rasa_url, timeout=120) as http:
        for index in range(turns):
            started = time.monotonic()
            response = await http.post(
                "/webhooks/rest/webhook",
                json={"sender": f"calibration-{index}", "message": KB_QUESTIONS[index % len(KB_QUESTIONS)]},
            )
            assert response.status_code == 200, response.text
            samples.append(time.monotonic() - started)
    return statistics.median(samples)


async def test_customers_and_agents_at_once(stack: Stack, load_settings: Settings) -> None:
    agents = [name for name in stack.tokens if name.startswith("agent")]
    assert len(agents) == load_settings.agents
    # The knowledge base builds its index after start-up: the first search waits for it.
    async with httpx.AsyncClient(timeout=300) as http:
        warm = await http.get(
            f"{stack.helpdesk_url}/api/v1/kb/search",
            params={"q": "vpn"},
            headers={"Authorization": f"Bearer {stack.tokens['bot']}"},
        )
        assert warm.status_code == 200
    calibration = await single_turn_seconds(stack)
    if not load_settings.turns_per_second:
        load_settings = dataclasses.replace(
            load_settings, turns_per_second=min(4.0, max(0.2, 0.5 / calibration))
        )
    run = Run(load_settings, stack.rasa_url, stack.helpdesk_url, stack.tokens)
    load: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_load(load, stop))
    seconds = await run.run(agents, drain_timeout=300.0)
    stop.set()
    await sampler

    problems, counts = check(run, stack)
    figures = report(run, load_settings, seconds, load, counts)
    figures["size"]["single_customer_bot_turn_ms"] = round(calibration * 1000, 1)
    full = os.environ.get("HELPDESK_LOAD_FULL", "") in ("1", "true", "yes")
    data_dir = Path(os.environ.get("HELPDESK_DATA_DIR", ROOT / "var"))
    out = ROOT / "bench" / "results" / "load.json" if full else data_dir / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"wrote {out}")

    assert not run.errors, "errors during the run:\n" + "\n".join(run.errors[:50])
    assert not problems, "counted at both ends:\n" + "\n".join(problems[:50])
    assert counts.get("handoffs", 0) >= 1, "no customer got to an agent: the run says nothing about handoffs"
    assert all(code < 500 for code in run.stats.api_statuses)
