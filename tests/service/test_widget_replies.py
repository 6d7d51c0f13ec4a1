"""`GET /api/v1/widget/replies`: the engineers' replies a widget missed, for its own conversation only."""

import secrets
from typing import Any

from fastapi.testclient import TestClient

PATH = "/api/v1/widget/replies"


def _widget_id() -> str:
    return secrets.token_hex(16)  # what the widget generates: 32 hex digits


def _claim_and_reply(client: TestClient, tokens: Any, handoff: dict[str, Any], *texts: str) -> list[int]:
    assert (
        client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2")).status_code == 200
    )
    ids = []
    for text in texts:
        sent = client.post(
            f"/api/v1/handoffs/{handoff['id']}/messages", json={"text": text}, headers=tokens.auth("l2")
        )
        assert sent.status_code == 201, sent.text
        ids.append(sent.json()["id"])
    return ids


def test_a_widget_reads_the_replies_after_its_last_one(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    conversation = _widget_id()
    handoff = handoff_factory.create(conversation)
    first, second = _claim_and_reply(client, tokens, handoff, "Hi, Alice here.", "<b>Try</b> again now.")
    client.post(
        f"/api/v1/handoffs/{handoff['id']}/notes", json={"text": "private note"}, headers=tokens.auth("l2")
    )

    everything = client.get(PATH, params={"conversation_id": conversation})
    assert everything.status_code == 200
    assert everything.headers["access-control-allow-origin"] == "*"
    assert everything.headers["cache-control"] == "no-store"
    replies = everything.json()["replies"]
    assert [(r["id"], r["text"]) for r in replies] == [
        (first, "Hi, Alice here."),
        (second, "<b>Try</b> again now."),
    ]
    assert replies[0]["agent"] == {"name": "agent-l2", "tier": "l2"}
    assert "private note" not in everything.text and "I want a human" not in everything.text

    later = client.get(PATH, params={"conversation_id": conversation, "after": first}).json()["replies"]
    assert [r["id"] for r in later] == [second]
    caught_up = {"replies": [], "open": True}
    assert client.get(PATH, params={"conversation_id": conversation, "after": second}).json() == caught_up
    resolved = client.post(
        f"/api/v1/handoffs/{handoff['id']}/resolve",
        json={"resolution": "fixed", "return_to_bot": True},
        headers=tokens.auth("l2"),
    )
    assert resolved.status_code == 200, resolved.text
    handed_back = client.get(PATH, params={"conversation_id": conversation, "after": second}).json()
    assert handed_back == {"replies": [], "open": False}


def test_nobody_reads_another_conversations_replies(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    mine = handoff_factory.create(_widget_id())
    _claim_and_reply(client, tokens, mine, "For the owner only")
    assert client.get(PATH, params={"conversation_id": _widget_id()}).json() == {"replies": [], "open": False}
    # A messenger's sender id is often guessable (a phone number): never answered here.
    messenger_id = _widget_id()
    telegram = handoff_factory.create(messenger_id, channel="telegram")
    _claim_and_reply(client, tokens, telegram, "Telegram reply")
    assert client.get(PATH, params={"conversation_id": messenger_id}).json() == {"replies": [], "open": False}
    for wrong in ("conv-1", "+4915112345678", _widget_id().upper(), _widget_id() + "0"):
        refused = client.get(PATH, params={"conversation_id": wrong})
        assert refused.status_code == 422, wrong
        assert "conversation_id" in refused.text
    assert client.get(PATH, params={"conversation_id": _widget_id(), "after": -1}).status_code == 422
