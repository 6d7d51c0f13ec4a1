from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.models import OutboxItem
from tests.service.conftest import HandoffFactory, Tokens


def test_bot_creates_a_handoff_with_context_and_transcript(client: TestClient, tokens: Tokens) -> None:
    body = {
        "conversation_id": "c-42",
        "channel": "socketio",
        "reason": "low_confidence",
        "category": "network",
        "priority": "p2",
        "summary": "VPN drops every few minutes",
        "customer": {
            "id": "jdoe",
            "name": "Jane Doe",
            "email": "jane.doe@example.com",
            "verified": True,
            "verified_at": "2026-11-26T09:58:00Z",
        },
        "context": {
            "intent": "report_issue",
            "confidence": 0.41,
            "slots": {"device": "laptop"},
            "steps_tried": ["restart"],
        },
        "transcript": [{"role": "customer", "text": "my vpn keeps dropping", "at": "2026-11-26T10:00:00Z"}],
    }
    response = client.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot"))
    assert response.status_code == 201, response.text
    handoff = response.json()
    assert handoff["number"].startswith("HD-")
    assert handoff["status"] == "waiting" and handoff["tier"] == "l2" and handoff["priority"] == "p2"
    assert handoff["customer"]["email"] == "jane.doe@example.com" and handoff["customer"]["verified"] is True
    # When the one-time code proved it: the engineer sees how fresh "verified" is.
    assert handoff["customer"]["verified_at"] == "2026-11-26T09:58:00Z"
    assert handoff["context"]["intent"] == "report_issue" and handoff["context"]["confidence"] == 0.41
    assert handoff["context"]["steps_tried"] == ["restart"]
    assert handoff["transcript"] == [
        {"role": "customer", "text": "my vpn keeps dropping", "at": "2026-11-26T10:00:00Z", "author": None}
    ]
    assert handoff["queue_position"] == 1
    assert [entry["kind"] for entry in handoff["history"]] == ["handoff.created"]
    assert handoff["sla"]["breached"] is False


def test_creation_is_idempotent_per_conversation(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    first = handoff_factory.create("same")
    again = client.post("/api/v1/handoffs", json=handoff_factory.body("same"), headers=tokens.auth("bot"))
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["number"] == first["number"]
    other = handoff_factory.create("different")
    assert other["id"] != first["id"]


def test_queue_orders_by_priority_then_due_time(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    low = handoff_factory.create("a", priority="p4")
    urgent = handoff_factory.create("b", priority="p1")
    normal = handoff_factory.create("c", priority="p3")
    handoff_factory.create("d", tier="l3")
    queue = client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).json()
    assert queue["count"] == 3
    assert [h["id"] for h in queue["handoffs"]] == [urgent["id"], normal["id"], low["id"]]


def test_second_claimer_gets_409(client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory) -> None:
    handoff = handoff_factory.create()
    first = client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    assert first.status_code == 200 and first.json()["assignee"]["name"] == "agent-l2"
    second = client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2_other"))
    assert second.status_code == 409
    assert "agent-l2" in second.json()["detail"]
    assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).json()["count"] == 0


def test_agent_message_is_stored_and_queued_for_rasa(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory, settings: object
) -> None:
    handoff = handoff_factory.create("conv-msg")
    url = f"/api/v1/handoffs/{handoff['id']}/messages"
    unclaimed = client.post(url, json={"text": "hello"}, headers=tokens.auth("l2"))
    assert unclaimed.status_code == 409 and "claim" in unclaimed.json()["detail"]
    client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    sent = client.post(url, json={"text": "Hi, I'm looking at it"}, headers=tokens.auth("l2"))
    assert sent.status_code == 201 and sent.json()["delivery"] == "queued"
    not_holder = client.post(url, json={"text": "me too"}, headers=tokens.auth("l2_other"))
    assert not_holder.status_code == 409
    detail = client.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("l2")).json()
    assert detail["transcript"][-1] == {
        "role": "agent",
        "text": "Hi, I'm looking at it",
        "at": sent.json()["at"],
        "author": "agent-l2",
    }
    engine = make_engine(client.app.state.settings.sqlalchemy_url)  # type: ignore[attr-defined]
    with make_session_factory(engine)() as session:
        items = list(session.scalars(select(OutboxItem)))
    engine.dispose()
    assert len(items) == 1
    assert items[0].conversation_id == "conv-msg" and items[0].status == "pending"
    assert items[0].events[0]["event"] == "bot" and items[0].events[0]["text"] == "Hi, I'm looking at it"
    assert items[0].events[0]["metadata"]["agent"]["name"] == "agent-l2"


def test_escalation_carries_everything_to_l3(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("conv-esc")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    client.post(f"{base}/messages", json={"text": "Did you restart?"}, headers=tokens.auth("l2"))
    note = client.post(f"{base}/notes", json={"text": "cert expired on gateway?"}, headers=tokens.auth("l2"))
    assert note.status_code == 201
    down = client.post(f"{base}/escalate", json={"tier": "l2"}, headers=tokens.auth("l2"))
    assert down.status_code == 422 and "tier" in down.json()["detail"]
    up = client.post(
        f"{base}/escalate", json={"tier": "l3", "note": "needs gateway logs"}, headers=tokens.auth("l2")
    )
    assert up.status_code == 200
    assert up.json()["tier"] == "l3" and up.json()["status"] == "waiting" and up.json()["assignee"] is None
    assert client.get(base, headers=tokens.auth("l2")).status_code == 403
    l3_queue = client.get("/api/v1/queues/l3", headers=tokens.auth("l3")).json()
    assert [h["id"] for h in l3_queue["handoffs"]] == [handoff["id"]]
    seen = client.get(base, headers=tokens.auth("l3")).json()
    assert [n["text"] for n in seen["notes"]] == ["cert expired on gateway?", "needs gateway logs"]
    # The customer is told where the ticket went, in the chat (through the outbox) and in the transcript.
    told = seen["transcript"][-1]
    assert told["role"] == "bot" and told["author"] == "assistant"
    assert handoff["number"] in told["text"] and "L3 engineers" in told["text"]
    assert [m["text"] for m in seen["transcript"]][-2] == "Did you restart?"
    notice = _outbox(client)[-1].events
    assert notice == [
        {
            "event": "bot",
            "text": told["text"],
            "metadata": {
                "helpdesk_message_id": notice[0]["metadata"]["helpdesk_message_id"],
                "handoff": {"ticket": handoff["number"], "tier": "l3", "queue_position": 1},
            },
        }
    ]
    assert seen["context"]["intent"] == "request_human"
    kinds = [e["kind"] for e in seen["history"]]
    assert kinds == [
        "handoff.created",
        "handoff.claimed",
        "message.agent",
        "note.added",
        "note.added",
        "handoff.escalated",
    ]


def _outbox(client: TestClient) -> list[OutboxItem]:
    engine = make_engine(client.app.state.settings.sqlalchemy_url)  # type: ignore[attr-defined]
    with make_session_factory(engine)() as session:
        items = list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
    engine.dispose()
    return items


def test_an_escalation_to_the_vendor_names_the_vendor_to_the_customer(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("conv-vendor")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
    up = client.post(
        f"{base}/escalate",
        json={"tier": "l4", "vendor_name": "Contoso", "vendor_case": "C-1"},
        headers=tokens.auth("l2"),
    )
    assert up.status_code == 200, up.text
    [told] = [i.events[0] for i in _outbox(client) if i.conversation_id == "conv-vendor"]
    assert told["text"].startswith(
        f"Your ticket {handoff['number']} has gone to our vendor liaisons (Contoso)."
    )
    assert told["metadata"]["handoff"]["tier"] == "l4"


def test_a_released_handoff_tells_the_customer_it_waits_again(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    ahead = handoff_factory.create("conv-ahead")
    handoff = handoff_factory.create("conv-rel")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
    assert (
        client.post(f"{base}/messages", json={"text": "Looking"}, headers=tokens.auth("l2")).status_code
        == 201
    )
    released = client.post(f"{base}/release", headers=tokens.auth("l2"))
    assert released.status_code == 200 and released.json()["status"] == "waiting"
    told = client.get(base, headers=tokens.auth("l2")).json()["transcript"][-1]
    assert told["role"] == "bot" and handoff["number"] in told["text"] and "back in the queue" in told["text"]
    items = [i for i in _outbox(client) if i.conversation_id == "conv-rel"]
    assert [i.events[0]["text"] for i in items] == ["Looking", told["text"]]
    # Second in the queue: the other handoff waits ahead of it.
    assert items[-1].events[0]["metadata"]["handoff"] == {
        "ticket": handoff["number"],
        "tier": "l2",
        "queue_position": 2,
    }
    assert ahead["status"] == "waiting"
    # Refused releases tell nobody anything.
    assert client.post(f"{base}/release", headers=tokens.auth("l2")).status_code == 409
    assert len([i for i in _outbox(client) if i.conversation_id == "conv-rel"]) == 2


def test_resolve_returns_the_conversation_to_the_bot(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("conv-res")
    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    resolved = client.post(
        f"{base}/resolve",
        json={"resolution": "reset the token", "return_to_bot": True},
        headers=tokens.auth("l2"),
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "reset the token"
    again = client.post(f"{base}/messages", json={"text": "x"}, headers=tokens.auth("l2"))
    assert again.status_code == 409
    lookup = client.get("/api/v1/conversations/conv-res/handoff", headers=tokens.auth("bot"))
    assert lookup.status_code == 404
    engine = make_engine(client.app.state.settings.sqlalchemy_url)  # type: ignore[attr-defined]
    with make_session_factory(engine)() as session:
        items = list(session.scalars(select(OutboxItem)))
    engine.dispose()
    assert [e["event"] for e in items[-1].events] == ["resume", "trigger_intent"]
    assert items[-1].events[1]["name"] == "EXTERNAL_handed_back"
    assert items[-1].events[1]["entities"]["ticket_number"] == handoff["number"]
    # A new handoff may be opened for the same conversation once the old one is resolved.
    assert handoff_factory.create("conv-res")["id"] != handoff["id"]


def test_bot_looks_up_the_open_handoff_of_a_conversation(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("conv-open")
    found = client.get("/api/v1/conversations/conv-open/handoff", headers=tokens.auth("bot"))
    assert found.status_code == 200 and found.json()["id"] == handoff["id"]
    assert client.get("/api/v1/conversations/nobody/handoff", headers=tokens.auth("bot")).status_code == 404
