"""`GET /api/v1/widget/replies`: the engineers' replies a widget missed, for its own conversation only."""

import secrets
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from handoff_api.handoffs.service import RETURN_TO_BOT_TEXT

ROOT = Path(__file__).resolve().parents[3]

PATH = "/api/v1/widget/replies"
NOTHING = {"replies": [], "open": False, "more": False, "handed_back": None}


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
    caught_up = {"replies": [], "open": True, "more": False, "handed_back": None}
    assert client.get(PATH, params={"conversation_id": conversation, "after": second}).json() == caught_up
    resolved = client.post(
        f"/api/v1/handoffs/{handoff['id']}/resolve",
        json={"resolution": "fixed", "return_to_bot": True},
        headers=tokens.auth("l2"),
    )
    assert resolved.status_code == 200, resolved.text
    handed_back = client.get(PATH, params={"conversation_id": conversation, "after": second}).json()
    assert handed_back["replies"] == [] and handed_back["open"] is False
    back = handed_back["handed_back"]
    assert back["ticket"] == resolved.json()["number"] and back["text"] == RETURN_TO_BOT_TEXT
    assert back["at"].endswith("Z")
    # The bot asked for a rating of the engineer's help when it took the chat back; a widget that was away
    # asks until one is stored, with the bot's words and buttons (bot/domain.yml, the English variation).
    variations = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())["responses"][
        "utter_ask_rating_engineer"
    ]
    asked = next(v for v in variations if not v.get("condition"))
    question = asked["text"].replace("{ticket_number}", back["ticket"])
    assert back["rating"] == {"text": question, "quick_replies": asked["buttons"]}
    rated = client.post(
        "/api/v1/ratings",
        json={"conversation_id": conversation, "handoff_id": handoff["id"], "rating": 4},
        headers=tokens.auth("bot"),
    )
    assert rated.status_code == 201, rated.text
    later = client.get(PATH, params={"conversation_id": conversation, "after": second}).json()["handed_back"]
    assert later["ticket"] == back["ticket"] and later["rating"] is None


def test_only_a_hand_back_to_the_bot_is_told_and_only_while_no_handoff_is_open(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    conversation = _widget_id()
    first = handoff_factory.create(conversation)
    _claim_and_reply(client, tokens, first, "Fixed it.")
    closed = client.post(
        f"/api/v1/handoffs/{first['id']}/resolve",
        json={"resolution": "fixed", "return_to_bot": False},
        headers=tokens.auth("l2"),
    )
    assert closed.status_code == 200, closed.text
    # Resolved without handing back: nothing to tell.
    assert client.get(PATH, params={"conversation_id": conversation}).json()["handed_back"] is None
    second = handoff_factory.create(conversation)
    assert second["id"] != first["id"]
    _claim_and_reply(client, tokens, second, "Back again?")
    now = client.get(PATH, params={"conversation_id": conversation}).json()
    assert now["open"] is True and now["handed_back"] is None
    client.post(
        f"/api/v1/handoffs/{second['id']}/resolve",
        json={"resolution": "done", "return_to_bot": True},
        headers=tokens.auth("l2"),
    )
    after = client.get(PATH, params={"conversation_id": conversation}).json()
    assert after["open"] is False and after["handed_back"]["ticket"] == second["number"]


def test_a_long_absence_comes_in_pages_that_say_more_follows(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    conversation = _widget_id()
    handoff = handoff_factory.create(conversation)
    sent = _claim_and_reply(client, tokens, handoff, *(f"update {n}" for n in range(53)))

    first = client.get(PATH, params={"conversation_id": conversation}).json()
    assert [r["id"] for r in first["replies"]] == sent[:50] and first["more"] is True
    rest = client.get(PATH, params={"conversation_id": conversation, "after": sent[49]}).json()
    assert [r["text"] for r in rest["replies"]] == ["update 50", "update 51", "update 52"]
    assert rest["more"] is False and rest["open"] is True
    exactly_a_page = client.get(PATH, params={"conversation_id": conversation, "after": sent[2]}).json()
    assert len(exactly_a_page["replies"]) == 50 and exactly_a_page["more"] is False


def test_nobody_reads_another_conversations_replies(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    mine = handoff_factory.create(_widget_id())
    _claim_and_reply(client, tokens, mine, "For the owner only")
    assert client.get(PATH, params={"conversation_id": _widget_id()}).json() == NOTHING
    # A messenger's sender id is often guessable (a phone number): never answered here.
    messenger_id = _widget_id()
    telegram = handoff_factory.create(messenger_id, channel="telegram")
    _claim_and_reply(client, tokens, telegram, "Telegram reply")
    assert client.get(PATH, params={"conversation_id": messenger_id}).json() == NOTHING
    for wrong in ("conv-1", "+4915112345678", _widget_id().upper(), _widget_id() + "0"):
        refused = client.get(PATH, params={"conversation_id": wrong})
        assert refused.status_code == 422, wrong
        assert "conversation_id" in refused.text
    assert client.get(PATH, params={"conversation_id": _widget_id(), "after": -1}).status_code == 422


def test_a_widget_catches_up_on_the_notice_that_its_ticket_waits_again(
    client: TestClient, tokens: Any, handoff_factory: Any
) -> None:
    conversation = _widget_id()
    handoff = handoff_factory.create(conversation)
    [reply] = _claim_and_reply(client, tokens, handoff, "Looking into it.")
    escalated = client.post(
        f"/api/v1/handoffs/{handoff['id']}/escalate", json={"tier": "l3"}, headers=tokens.auth("l2")
    )
    assert escalated.status_code == 200, escalated.text
    answer = client.get(PATH, params={"conversation_id": conversation}).json()
    assert answer["open"] is True and len(answer["replies"]) == 2 and answer["replies"][0]["id"] == reply
    notice = answer["replies"][1]
    assert notice["agent"] is None and notice["id"] > reply
    assert notice["handoff"] == {"ticket": handoff["number"], "tier": "l3", "queue_position": None}
    assert "L3 engineers" in notice["text"]
    # The transcript's other bot lines (from before the handoff) are not the widget's to catch up on.
    assert all(r["text"] != "Hello! How can I help?" for r in answer["replies"])
    assert (
        client.get(PATH, params={"conversation_id": conversation, "after": notice["id"]}).json()["replies"]
        == []
    )
