"""Ticket status for the conversation that owns the ticket; ratings; e-mail follow-ups."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def test_a_conversation_reads_its_own_ticket_only(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    bot = tokens.auth("bot")
    mine = handoff_factory.create("conv-mine")
    handoff_factory.create("conv-other")
    response = client.get(
        f"/api/v1/tickets/{mine['number']}", params={"conversation_id": "conv-mine"}, headers=bot
    )
    assert response.status_code == 200
    assert set(response.json()) == {"number", "status", "tier", "updated_at"}
    assert response.json()["number"] == mine["number"]
    assert (response.json()["status"], response.json()["tier"]) == ("waiting", "l2")
    # Lower case and without the dash work too.
    spelled = mine["number"].lower().replace("-", " ")
    assert (
        client.get(
            f"/api/v1/tickets/{spelled}", params={"conversation_id": "conv-mine"}, headers=bot
        ).status_code
        == 200
    )

    # Someone else's ticket and a ticket that does not exist look the same.
    theirs = client.get(
        f"/api/v1/tickets/{mine['number']}", params={"conversation_id": "conv-other"}, headers=bot
    )
    missing = client.get("/api/v1/tickets/HD-99999", params={"conversation_id": "conv-mine"}, headers=bot)
    assert theirs.status_code == missing.status_code == 404
    assert "conv-mine" not in theirs.text


@pytest.mark.parametrize("number", ["HD-00999", "ticket", "HD-1x"])
def test_malformed_ticket_numbers_are_422(client: TestClient, tokens: Any, number: str) -> None:
    response = client.get(
        f"/api/v1/tickets/{number}", params={"conversation_id": "c"}, headers=tokens.auth("bot")
    )
    assert response.status_code == 422


def test_conversation_id_is_required_and_only_the_bot_asks(client: TestClient, tokens: Any) -> None:
    assert client.get("/api/v1/tickets/HD-01001", headers=tokens.auth("bot")).status_code == 422
    assert (
        client.get("/api/v1/tickets", params={"conversation_id": "c"}, headers=tokens.auth("l2")).status_code
        == 403
    )


def test_the_conversations_tickets_newest_first(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    first = handoff_factory.create("conv-list")
    lead = tokens.auth("lead")
    client.post(f"/api/v1/handoffs/{first['id']}/claim", headers=lead)
    client.post(f"/api/v1/handoffs/{first['id']}/resolve", json={"resolution": "done"}, headers=lead)
    second = handoff_factory.create("conv-list")
    response = client.get(
        "/api/v1/tickets", params={"conversation_id": "conv-list"}, headers=tokens.auth("bot")
    )
    assert [t["number"] for t in response.json()["tickets"]] == [second["number"], first["number"]]
    assert [t["status"] for t in response.json()["tickets"]] == ["waiting", "resolved"]
    empty = client.get("/api/v1/tickets", params={"conversation_id": "nobody"}, headers=tokens.auth("bot"))
    assert empty.json() == {"tickets": []}


def test_ratings_of_a_conversation_and_of_its_handoff(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    bot = tokens.auth("bot")
    handoff = handoff_factory.create("conv-rate")
    plain = client.post("/api/v1/ratings", json={"conversation_id": "conv-rate", "rating": 5}, headers=bot)
    assert plain.status_code == 201 and plain.json()["handoff_id"] is None
    rated = client.post(
        "/api/v1/ratings",
        json={"conversation_id": "conv-rate", "handoff_id": handoff["id"], "rating": 2, "comment": " slow "},
        headers=bot,
    )
    assert rated.status_code == 201
    assert (rated.json()["rating"], rated.json()["comment"]) == (2, "slow")
    # Once per handoff: a second rating (a flood, or a customer tapping twice) changes nothing.
    again = client.post(
        "/api/v1/ratings",
        json={"conversation_id": "conv-rate", "handoff_id": handoff["id"], "rating": 1},
        headers=bot,
    )
    assert again.status_code == 409 and handoff["number"] in again.json()["detail"]
    listed = client.get("/api/v1/ratings", params={"handoff_id": handoff["id"]}, headers=tokens.auth("lead"))
    assert [r["rating"] for r in listed.json()] == [2]
    assert client.get("/api/v1/ratings", headers=tokens.auth("l2")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversation_id": "c", "rating": 6}, "rating"),
        ({"conversation_id": "c", "rating": 0}, "rating"),
        ({"conversation_id": "c"}, "rating"),
        ({"rating": 3}, "conversation_id"),
    ],
)
def test_bad_ratings_name_the_field(
    client: TestClient, tokens: Any, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/ratings", json=body, headers=tokens.auth("bot"))
    assert response.status_code == 422 and field in str(response.json()["detail"])


def test_a_conversation_cannot_rate_another_conversations_handoff(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    other = handoff_factory.create("conv-a")
    response = client.post(
        "/api/v1/ratings",
        json={"conversation_id": "conv-b", "handoff_id": other["id"], "rating": 1},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 422 and "handoff_id" in response.text


def test_email_follow_up_is_recorded_on_the_handoff_and_confirmed(
    demo: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    handoff = handoff_factory.create("conv-follow")
    response = demo.post(
        f"/api/v1/tickets/{handoff['number']}/follow-up",
        json={"conversation_id": "conv-follow", "email": "jane.doe@example.com"},
        headers=tokens.auth("bot"),
    )
    assert response.status_code == 201
    assert response.json() == {
        "number": handoff["number"],
        "email": "jane.doe@example.com",
        "confirmation_sent": True,
    }
    stored = demo.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("lead")).json()
    assert stored["context"]["email_follow_up"] == "jane.doe@example.com"
    assert stored["customer"]["email"] == "jane.doe@example.com"
    assert "followup.requested" in [event["kind"] for event in stored["history"]]
    mail = demo.get(
        "/api/v1/dev/mailbox", params={"to": "jane.doe@example.com"}, headers=tokens.auth("lead")
    ).json()
    assert handoff["number"] in mail[0]["subject"]
    wrong = demo.post(
        f"/api/v1/tickets/{handoff['number']}/follow-up",
        json={"conversation_id": "someone-else", "email": "x@example.com"},
        headers=tokens.auth("bot"),
    )
    assert wrong.status_code == 404
