"""Builds rasa-sdk trackers the way Rasa sends them to the action server."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

# Fixed clock (2026-09-21T14:13:20Z) so transcripts and timestamps are the same on every run.
BASE_TIMESTAMP = 1_790_000_000.0


def user(
    text: str,
    intent: str,
    confidence: float = 0.95,
    channel: str = "socketio",
    at: float = BASE_TIMESTAMP,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
    }
    return {
        "event": "user",
        "timestamp": at,
        "text": text,
        "parse_data": parse_data,
        "input_channel": channel,
        "metadata": {},
    }


def bot(text: str, at: float = BASE_TIMESTAMP, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event": "bot", "timestamp": at, "text": text, "data": {}, "metadata": metadata or {}}


def action(name: str, at: float = BASE_TIMESTAMP) -> dict[str, Any]:
    return {"event": "action", "timestamp": at, "name": name, "policy": None, "confidence": None}


def slot(name: str, value: Any, at: float = BASE_TIMESTAMP) -> dict[str, Any]:
    return {"event": "slot", "timestamp": at, "name": name, "value": value}


def paused(at: float = BASE_TIMESTAMP) -> dict[str, Any]:
    return {"event": "pause", "timestamp": at}


def conversation(
    sender_id: str,
    events: list[dict[str, Any]],
    slots: dict[str, Any] | None = None,
    is_paused: bool = False,
) -> Tracker:
    """A tracker whose latest message is the last user event in `events`."""
    latest_user = next((event for event in reversed(events) if event["event"] == "user"), None)
    latest_message = dict(latest_user["parse_data"]) if latest_user else {}
    latest_action = next((event["name"] for event in reversed(events) if event["event"] == "action"), None)
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": dict(slots or {}),
            "latest_message": latest_message,
            "events": events,
            "paused": is_paused,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": latest_action,
        }
    )


def timeline(*entries: dict[str, Any], start: float = BASE_TIMESTAMP) -> list[dict[str, Any]]:
    """The entries one second apart, as they would be in a real chat."""
    return [{**entry, "timestamp": start + index} for index, entry in enumerate(entries)]
