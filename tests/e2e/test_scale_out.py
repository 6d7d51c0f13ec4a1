"""Scale-out on real infrastructure: two Rasa instances and two service workers serve one desk.

Customers are spread over both Rasa instances, agents over both service workers. Nothing is lost or
doubled, every claim is exclusive, every agent sees every event whichever worker streams it, and an
agent's reply reaches the customer whichever Rasa instance holds the customer's socket.
"""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.cluster import Cluster
from tests.harness.customer import Customer

pytestmark = pytest.mark.e2e
CUSTOMERS = 6
REPLIES = 3
LINES = 3


@pytest.fixture(scope="module")
def cluster(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = time.monotonic()
    running = Cluster(data_dir=tmp_path_factory.mktemp("cluster"), model=model)
    try:
        running.start()
        print(f"\ncluster ready in {time.monotonic() - started:.1f} s")
        yield running
    finally:
        running.stop()


class Agent:
    """One engineer; each request goes to the worker chosen by the caller."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.name = name
        self.clients = [
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {cluster.tokens[name]}"}, timeout=20
            )
            for url in cluster.helpdesk_urls
        ]

    async def get(self, worker: int, path: str) -> httpx.Response:
        return await self.clients[worker].get(f"/api/v1{path}")

    async def post(self, worker: int, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.clients[worker].post(f"/api/v1{path}", json=body)

    async def put(self, worker: int, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.clients[worker].put(f"/api/v1{path}", json=body)

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _stream(agent: Agent, worker: int, seen: list[dict[str, Any]], ready: asyncio.Event) -> None:
    client = agent.clients[worker]
    async with client.stream("GET", "/api/v1/events", timeout=httpx.Timeout(20, read=None)) as response:
        assert response.status_code == 200
        ready.set()
        lines: AsyncIterator[str] = response.aiter_lines()
        async for line in lines:
            if line.startswith("data:"):
                seen.append(json.loads(line[5:]))


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _ask_for_a_human(customer: Customer) -> str:
    await customer.connect()
    await customer.say("I want to talk to a human")
    _, told = await customer.wait_for(lambda t: "HD-" in t, timeout=120)
    number = re.search(r"HD-\d+", told)
    assert number, told
    return number.group()


async def _claim_next(cluster: Cluster, agent: Agent, worker: int, attempts: int = 4) -> httpx.Response:
    """Claim-next as the console does it: a 503 says the transaction was rolled back and may be retried
    after Retry-After. Each retry prints what the workers logged (shown when the test fails)."""
    for _ in range(attempts - 1):
        response = await agent.post(worker, "/queues/l2/next")
        if response.status_code != 503:
            return response
        print(f"claim-next answered 503 and is retried; the workers logged: {_unavailable(cluster)}")
        await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 2.0))
    return await agent.post(worker, "/queues/l2/next")


def _unavailable(cluster: Cluster) -> list[str]:
    """What the service workers logged when they answered 503."""
    lines: list[str] = []
    for name, process in cluster.processes.items():
        if name.startswith("helpdesk") and process.log.exists():
            text = process.log.read_text(errors="replace")
            lines += [f"{name}: {line[:300]}" for line in text.splitlines() if "database_unavailable" in line]
    return lines[-6:]


def _label(customer: Customer) -> str:
    # The hyphen keeps a digits-only id from being masked as a one-time code, as it would be alone.
    return f"from-{customer.session_id[:8]}"


async def _drain(customer: Customer, count: int, timeout: float = 60) -> list[str]:
    return [(await customer.next_message(timeout))[1] for _ in range(count)]


async def test_two_rasa_instances_and_two_workers_lose_nothing_and_double_nothing(cluster: Cluster) -> None:
    alice, bob, lead = Agent(cluster, "alice"), Agent(cluster, "bob"), Agent(cluster, "lead")
    agents = [alice, bob]
    # Customer i talks to Rasa instance i % 2; alice streams from worker 0, bob from worker 1.
    customers = [Customer(cluster.rasa_urls[i % 2]) for i in range(CUSTOMERS)]
    feeds: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}
    ready = [asyncio.Event(), asyncio.Event()]
    streams = [
        asyncio.create_task(_stream(alice, 0, feeds["alice"], ready[0])),
        asyncio.create_task(_stream(bob, 1, feeds["bob"], ready[1])),
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 30)
        for index, agent in enumerate(agents):
            assert (
                await agent.put(index, "/agents/me/presence", {"presence": "online", "capacity": 10})
            ).is_success

        # Every customer asks for a person at once, half of them on each Rasa instance.
        numbers = await asyncio.gather(*(_ask_for_a_human(c) for c in customers))
        assert len(set(numbers)) == CUSTOMERS

        # Both agents see every new handoff, whichever worker their stream is on.
        def created(feed: list[dict[str, Any]]) -> list[str]:
            return [e["number"] for e in feed if e["kind"] == "handoff.created"]

        await _until(
            lambda: all(set(created(f)) >= set(numbers) for f in feeds.values()), 60, "handoff.created"
        )
        for feed in feeds.values():
            assert sorted(created(feed)) == sorted(numbers), "each creation is streamed exactly once"

        # Both agents claim from the L2 queue at the same time, each through their own worker.
        claims: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}

        async def claim_all(agent: Agent, worker: int) -> None:
            while True:
                response = await _claim_next(cluster, agent, worker)
                if response.status_code == 404:
                    return
                assert response.status_code == 200, (response.text, _unavailable(cluster))
                claims[agent.name].append(response.json())

        await asyncio.gather(claim_all(alice, 0), claim_all(bob, 1))
        claimed = [h["number"] for held in claims.values() for h in held]
        assert sorted(claimed) == sorted(numbers), "every handoff claimed exactly once"
        holder = {h["conversation_id"]: (agents[i], h) for i, n in enumerate(claims) for h in claims[n]}

        # Each holder replies through alternating workers; worker 0 pushes through Rasa 0 and worker 1
        # through Rasa 1, so half of the replies cross to the instance holding the customer's socket.
        for n in range(REPLIES):
            for customer in customers:
                agent, handoff = holder[customer.session_id]
                sent = await agent.post(n % 2, f"/handoffs/{handoff['id']}/messages", {"text": f"reply {n}"})
                assert sent.status_code == 201, sent.text
        received = await asyncio.gather(*(_drain(c, REPLIES) for c in customers))
        for texts in received:
            assert texts == [f"reply {n}" for n in range(REPLIES)], texts
        await asyncio.gather(*(c.expect_silence(1.5) for c in customers))

        # What customers write reaches the transcript once, in order, from either Rasa instance.
        for n in range(LINES):
            await asyncio.gather(*(c.say(f"{_label(c)} line {n}") for c in customers))

        async def transcript(conversation: str) -> list[tuple[str, str]]:
            agent, handoff = holder[conversation]
            detail = await agent.get(0, f"/handoffs/{handoff['id']}")
            return [(line["role"], line["text"]) for line in detail.json()["transcript"]]

        async def written(customer: Customer) -> list[str]:
            prefix = _label(customer)
            return [
                t
                for r, t in await transcript(customer.session_id)
                if r == "customer" and t.startswith(prefix)
            ]

        deadline = time.monotonic() + 60
        while True:
            lines = await asyncio.gather(*(written(c) for c in customers))
            if all(len(found) >= LINES for found in lines) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        for customer, found in zip(customers, lines, strict=True):
            assert found == [f"{_label(customer)} line {n}" for n in range(LINES)], found
        for customer in customers:
            said = await transcript(customer.session_id)
            assert [t for r, t in said if r == "agent"] == [f"reply {n}" for n in range(REPLIES)]

        # A customer whose socket moves to the other Rasa instance keeps the same conversation.
        moved = customers[0]
        await moved.close()
        again = Customer(cluster.rasa_urls[1], session_id=moved.session_id)
        customers[0] = again
        await again.connect()
        await again.say("back on the other instance")
        await _until_transcript(transcript, moved.session_id, ("customer", "back on the other instance"))
        agent, handoff = holder[moved.session_id]
        await agent.post(0, f"/handoffs/{handoff['id']}/messages", {"text": "found you"})
        assert (await again.next_message(60))[1] == "found you"

        # Every handoff is resolved and handed back; the bot greets each customer again.
        for customer in customers:
            agent, handoff = holder[customer.session_id]
            resolved = await agent.post(
                1, f"/handoffs/{handoff['id']}/resolve", {"resolution": "done", "return_to_bot": True}
            )
            assert resolved.status_code == 200, resolved.text
        backs = await asyncio.gather(*(c.wait_for(lambda t: "virtual assistant" in t, 60) for c in customers))
        assert len(backs) == CUSTOMERS

        # Both streams carried every claim and resolution exactly once.
        def kinds(feed: list[dict[str, Any]], kind: str) -> list[str]:
            return sorted(e["number"] for e in feed if e["kind"] == kind)

        await _until(
            lambda: all(len(kinds(f, "handoff.resolved")) >= CUSTOMERS for f in feeds.values()),
            30,
            "resolved",
        )
        for feed in feeds.values():
            assert kinds(feed, "handoff.claimed") == sorted(numbers)
            assert kinds(feed, "handoff.resolved") == sorted(numbers)
            ids = [e["id"] for e in feed]
            assert ids == sorted(set(ids)), "events arrive once, in order"
        report = await lead.get(1, "/queues/l2")
        assert report.status_code == 200 and report.json()["handoffs"] == []
    finally:
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in customers), return_exceptions=True)
        for agent in (alice, bob, lead):
            await agent.close()


async def _until_transcript(transcript: Any, conversation: str, line: tuple[str, str]) -> None:
    deadline = time.monotonic() + 60
    while line not in await transcript(conversation):
        if time.monotonic() > deadline:
            raise AssertionError(f"{line} never reached the transcript")
        await asyncio.sleep(0.2)
