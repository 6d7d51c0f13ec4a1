import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import HandoffFactory, Tokens


def test_no_token_or_a_wrong_token_is_401(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/api/v1/queues/l2").status_code == 401
    wrong = client.get("/api/v1/queues/l2", headers={"Authorization": "Bearer hd_not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/handoffs", json={}).status_code == 401


@pytest.mark.parametrize(
    ("role", "tier", "expected"),
    [
        ("l2", "l2", 200),
        ("l2", "l3", 403),
        ("l2", "l4", 403),
        ("l3", "l3", 200),
        ("l3", "l2", 403),
        ("l4", "l4", 200),
        ("l4", "l3", 403),
        ("lead", "l2", 200),
        ("lead", "l3", 200),
        ("lead", "l4", 200),
        ("bot", "l2", 403),
        ("editor", "l2", 403),
    ],
)
def test_a_tier_sees_its_own_queue_and_a_lead_all(
    client: TestClient, tokens: Tokens, role: str, tier: str, expected: int
) -> None:
    assert client.get(f"/api/v1/queues/{tier}", headers=tokens.auth(role)).status_code == expected


def test_only_the_bot_creates_handoffs(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    for role in ("l2", "lead", "editor"):
        response = client.post("/api/v1/handoffs", json=handoff_factory.body(), headers=tokens.auth(role))
        assert response.status_code == 403, role


def test_other_tiers_cannot_act_on_a_handoff(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create()
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.get(base, headers=tokens.auth("l3")).status_code == 403
    assert client.post(f"{base}/claim", headers=tokens.auth("l3")).status_code == 403
    assert client.get(base, headers=tokens.auth("bot")).status_code == 403
    assert client.get(base, headers=tokens.auth("lead")).status_code == 200
    assert client.get("/api/v1/handoffs/999999", headers=tokens.auth("lead")).status_code == 404


def test_bad_input_names_the_field(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    body = handoff_factory.body(reason="because")
    response = client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]
    missing = {k: v for k, v in handoff_factory.body().items() if k != "conversation_id"}
    response = client.post("/api/v1/handoffs", json=missing, headers=tokens.auth("bot"))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "conversation_id"]
    assert client.post("/api/v1/handoffs", content=b"\x00\xff", headers=tokens.auth("bot")).status_code == 422


def test_oversized_bodies_are_413(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create()
    client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    huge = client.post(
        f"/api/v1/handoffs/{handoff['id']}/messages",
        content=b'{"text": "' + b"a" * 2_000_000 + b'"}',
        headers={**tokens.auth("l2"), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    too_long = client.post(
        f"/api/v1/handoffs/{handoff['id']}/messages", json={"text": "a" * 5000}, headers=tokens.auth("l2")
    )
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "text"]
