"""Claim-next, transfer, release, presence and capacity, L4 vendors, SLA breaches, reopening."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from handoff_api.core import clock
from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.handoffs import sla
from handoff_api.main import create_app
from handoff_api.users import service as users
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import HandoffFactory, ThreadedServer, Tokens


@pytest.fixture(autouse=True)
def _real_time() -> Iterator[None]:
    yield
    clock.reset()


def test_claim_next_takes_the_most_urgent_and_respects_capacity(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    low = handoff_factory.create("n1", priority="p4")
    urgent = handoff_factory.create("n2", priority="p1")
    normal = handoff_factory.create("n3", priority="p3")
    taken = [client.post("/api/v1/queues/l2/next", headers=tokens.auth("l2")).json()["id"] for _ in range(3)]
    assert taken == [urgent["id"], normal["id"], low["id"]]
    handoff_factory.create("n4")
    full = client.post("/api/v1/queues/l2/next", headers=tokens.auth("l2"))
    assert full.status_code == 409 and "capacity" in full.json()["detail"]
    assert client.post("/api/v1/queues/l2/next", headers=tokens.auth("l2_other")).status_code == 200
    empty = client.post("/api/v1/queues/l2/next", headers=tokens.auth("l2_other"))
    assert empty.status_code == 404
    assert client.post("/api/v1/queues/l3/next", headers=tokens.auth("l2")).status_code == 403


def test_transfer_and_release(client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory) -> None:
    handoff = handoff_factory.create("t1")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    wrong = client.post(f"{base}/transfer", json={"agent": "agent-l3"}, headers=tokens.auth("l2"))
    assert wrong.status_code == 422 and "agent" in wrong.json()["detail"]
    moved = client.post(f"{base}/transfer", json={"agent": "agent-l2_other"}, headers=tokens.auth("l2"))
    assert moved.status_code == 200 and moved.json()["assignee"]["name"] == "agent-l2_other"
    assert client.post(f"{base}/release", headers=tokens.auth("l2")).status_code == 409  # no longer theirs
    released = client.post(f"{base}/release", headers=tokens.auth("l2_other"))
    assert released.status_code == 200 and released.json()["status"] == "waiting"
    kinds = [e["kind"] for e in released.json()["history"]]
    assert kinds[-3:] == ["handoff.claimed", "handoff.transferred", "handoff.released"]


def test_escalation_to_the_vendor_records_vendor_and_case(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("v1", tier="l3")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l3"))
    nameless = client.post(f"{base}/escalate", json={"tier": "l4"}, headers=tokens.auth("l3"))
    assert nameless.status_code == 422 and "vendor_name" in nameless.json()["detail"]
    up = client.post(
        f"{base}/escalate",
        json={
            "tier": "l4",
            "vendor_name": "Contoso Printers",
            "vendor_case": "CP-88231",
            "note": "firmware bug",
        },
        headers=tokens.auth("l3"),
    )
    assert up.status_code == 200
    liaison = client.post(f"{base}/claim", headers=tokens.auth("l4")).json()
    assert liaison["vendor_name"] == "Contoso Printers" and liaison["vendor_case"] == "CP-88231"
    assert liaison["assignee"]["name"] == "agent-l4"


def test_presence_tells_the_bot_whether_anyone_is_online(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    assert handoff_factory.create("p1")["agents_online"] == 0
    me = client.put(
        "/api/v1/agents/me/presence", json={"presence": "online", "capacity": 5}, headers=tokens.auth("l2")
    )
    assert me.status_code == 200 and me.json()["capacity"] == 5
    assert handoff_factory.create("p2")["agents_online"] == 1
    colleagues = client.get("/api/v1/agents", headers=tokens.auth("l2")).json()
    assert {a["name"] for a in colleagues} == {"agent-l2", "agent-l2_other"}
    assert len(client.get("/api/v1/agents", headers=tokens.auth("lead")).json()) == 5
    bad = client.put("/api/v1/agents/me/presence", json={"presence": "asleep"}, headers=tokens.auth("l2"))
    assert bad.status_code == 422


def test_sla_breaches_are_raised_once_per_target(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: Settings
) -> None:
    handoff = handoff_factory.create("s1", priority="p1")  # 15 min to first response, 4 h to resolve
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)

    def announce() -> int:
        with transaction(factory) as session:
            return sla.announce_breaches(session, clock.now())

    assert announce() == 0
    clock.travel(timedelta(minutes=16))
    assert announce() == 1 and announce() == 0
    detail = client.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("l2")).json()
    assert detail["sla"]["breached"] is True
    assert [e["detail"]["target"] for e in detail["history"] if e["kind"] == "sla.breached"] == [
        "first_response"
    ]
    clock.travel(timedelta(hours=4))
    assert announce() == 1
    engine.dispose()


def test_fifty_concurrent_claimers_claim_every_handoff_exactly_once(
    settings: Settings, tokens: Tokens, handoff_factory: HandoffFactory, embedder: MiniLMEmbedder
) -> None:
    for n in range(20):
        handoff_factory.create(f"race-{n}", priority=f"p{n % 4 + 1}")
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        agent_tokens = [
            users.create(session, settings.secret_key(), f"racer-{n}", "l2")[1] for n in range(50)
        ]
    engine.dispose()
    server = ThreadedServer(create_app(settings, background=False, embedder=embedder)).start()

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

            async def claimer(token: str) -> list[int]:
                won = []
                while True:
                    response = await http.post(
                        "/api/v1/queues/l2/next", headers={"Authorization": f"Bearer {token}"}
                    )
                    if response.status_code == 404:
                        return won
                    if response.status_code == 409:  # at capacity
                        return won
                    assert response.status_code == 200, response.text
                    won.append(response.json()["id"])

            results = await asyncio.gather(*(claimer(t) for t in agent_tokens))
            return [handoff_id for won in results for handoff_id in won]

    try:
        claimed = asyncio.run(race())
    finally:
        server.stop()
    assert len(claimed) == 20
    assert Counter(claimed).most_common(1)[0][1] == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_claim_next_waits_for_a_waiting_handoff_that_another_write_holds_locked(
    settings: Settings, tokens: Tokens, handoff_factory: HandoffFactory, embedder: MiniLMEmbedder
) -> None:
    # A write that is not a claim (a customer's line, an SLA mark) holds the only waiting handoff's row
    # for a moment. "Nothing waiting" would be wrong: claim-next waits for it (seen in the two-worker
    # end-to-end test, where a handoff stayed unclaimed after both agents were told the queue was empty).
    handoff = handoff_factory.create("locked-by-a-writer")
    server = ThreadedServer(create_app(settings, background=False, embedder=embedder)).start()
    engine = make_engine(settings.sqlalchemy_url)

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            with engine.connect() as writer:
                writer.execute(
                    text("SELECT id FROM handoffs WHERE id = :id FOR UPDATE"), {"id": handoff["id"]}
                )
                claim = asyncio.create_task(http.post("/api/v1/queues/l2/next", headers=tokens.auth("l2")))
                await asyncio.sleep(0.5)
                assert not claim.done(), "claim-next answered while the row was locked"
                writer.commit()
            return await claim

    try:
        claimed = asyncio.run(scenario())
    finally:
        server.stop()
        engine.dispose()
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["id"] == handoff["id"]


@pytest.mark.parametrize(
    ("impact", "urgency", "vip", "expected"),
    [
        ("high", "high", False, "p1"),
        ("medium", "medium", False, "p3"),
        ("low", "low", False, "p4"),
        ("medium", "medium", True, "p2"),
        ("high", "high", True, "p1"),
        (None, None, True, "p2"),
    ],
)
def test_priority_comes_from_impact_and_urgency_and_is_raised_for_vips(
    handoff_factory: HandoffFactory, impact: str | None, urgency: str | None, vip: bool, expected: str
) -> None:
    handoff = handoff_factory.create(
        "prio", impact=impact, urgency=urgency, customer={"name": "Dana", "vip": vip}
    )
    assert handoff["priority"] == expected
