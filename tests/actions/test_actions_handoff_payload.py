"""What the engineer is sent: built from the tracker, before any HTTP call."""

from __future__ import annotations

from actions.handoff.payload import build_handoff_payload, iso_timestamp, verified_customer
from helpdesk_text.redaction import CARD_MASK, CODE_MASK, PASSWORD_MASK

from conversation_builder import BASE_TIMESTAMP, action, bot, conversation, slot, timeline, user


def test_payload_follows_the_service_api() -> None:
    events = timeline(
        action("action_listen"),
        user("I forgot my password", "password_reset", confidence=0.91),
        bot("I can't reset passwords from this chat yet."),
        bot("Would you like me to connect you with an engineer?"),
        action("action_listen"),
        user("yes please", "affirm", confidence=0.99),
    )
    tracker = conversation("conv-1", events, slots={"device": "laptop", "handoff_ticket": None})

    payload = build_handoff_payload(tracker)

    assert payload["conversation_id"] == "conv-1"
    assert payload["channel"] == "socketio"
    assert payload["reason"] == "customer_request"
    assert payload["tier"] == "l2"
    assert payload["category"] == "accounts"
    assert payload["summary"].startswith("Password reset: the customer asked for an engineer.")
    assert 'Last message: "I forgot my password"' in payload["summary"]
    # The "yes" that accepted the offer says nothing about the problem.
    assert payload["context"]["intent"] == "password_reset"
    assert payload["context"]["confidence"] == 0.91
    assert payload["context"]["intent_history"] == ["password_reset", "affirm"]
    assert payload["context"]["slots"] == {"device": "laptop"}
    assert payload["context"]["kb_articles_tried"] == []
    assert payload["context"]["steps_tried"] == []
    assert payload["transcript"] == [
        {"role": "customer", "text": "I forgot my password", "at": iso_timestamp(BASE_TIMESTAMP + 1)},
        {
            "role": "bot",
            "text": "I can't reset passwords from this chat yet.",
            "at": iso_timestamp(BASE_TIMESTAMP + 2),
        },
        {
            "role": "bot",
            "text": "Would you like me to connect you with an engineer?",
            "at": iso_timestamp(BASE_TIMESTAMP + 3),
        },
        {"role": "customer", "text": "yes please", "at": iso_timestamp(BASE_TIMESTAMP + 5)},
    ]


def test_a_reason_given_by_the_caller_wins() -> None:
    """The action fallback (connectors/action_fallback.py) hands over because the action server failed."""
    tracker = conversation(
        "conv-fallback",
        timeline(user("Outlook keeps crashing", "report_issue")),
        slots={"handoff_reason": "kb_no_answer"},
    )

    payload = build_handoff_payload(tracker, reason="action_server_unavailable")

    assert payload["reason"] == "action_server_unavailable"
    assert payload["summary"].startswith("Problem report: the bot's action server was unavailable.")


def test_timestamps_are_iso_utc() -> None:
    assert iso_timestamp(BASE_TIMESTAMP) == "2026-09-21T14:13:20Z"
    assert iso_timestamp(BASE_TIMESTAMP + 0.25) == "2026-09-21T14:13:20.250000Z"


def test_reason_tier_and_lists_come_from_slots() -> None:
    tracker = conversation(
        "conv-2",
        timeline(user("vpn broken", "report_issue")),
        slots={
            "handoff_reason": "kb_no_answer",
            "handoff_tier": "l3",
            "kb_articles_tried": ["kb-12", "kb-40"],
            "steps_tried": ["restarted the vpn client, pw: hunter2"],
        },
    )

    payload = build_handoff_payload(tracker)

    assert (payload["reason"], payload["tier"], payload["category"]) == ("kb_no_answer", "l3", "incidents")
    assert payload["context"]["kb_articles_tried"] == ["kb-12", "kb-40"]
    assert payload["context"]["steps_tried"] == [f"restarted the vpn client, pw: {PASSWORD_MASK}"]
    # Bookkeeping slots are sent in their own fields, not as what the customer told us.
    assert payload["context"]["slots"] == {}


def test_a_second_miss_hands_over_for_low_confidence() -> None:
    tracker = conversation(
        "conv-3",
        timeline(
            user("blorp", "nlu_fallback", 0.3),
            bot("Sorry, I didn't quite get that."),
            user("zzz", "nlu_fallback", 0.2),
        ),
    )

    payload = build_handoff_payload(tracker)

    assert payload["reason"] == "low_confidence"
    assert payload["summary"].startswith("General help: the bot did not understand the customer.")
    assert "category" not in payload


def test_transcript_is_redacted_and_names_engineers() -> None:
    events = timeline(
        user("my password is hunter2", "password_reset"),
        bot("Thanks, an engineer will help."),
        bot("Hi, I'm Sam from L2.", metadata={"helpdesk_message_id": 7}),
        user("code 123456, card 4111 1111 1111 1111", "nlu_fallback", 0.4),
    )
    payload = build_handoff_payload(conversation("conv-4", events, slots={"topic": "pw: hunter2"}))

    assert [line["role"] for line in payload["transcript"]] == ["customer", "bot", "agent", "customer"]
    assert payload["transcript"][0]["text"] == f"my password is {PASSWORD_MASK}"
    assert payload["transcript"][3]["text"] == f"code {CODE_MASK}, card {CARD_MASK}"
    assert "hunter2" not in str(payload)
    assert "123456" not in str(payload)


def test_only_the_conversation_since_the_last_restart_is_sent() -> None:
    events = timeline(
        user("old problem", "report_issue"),
        {"event": "restart"},
        user("human please", "request_human", channel="rest"),
    )
    payload = build_handoff_payload(conversation("conv-5", events))

    assert [line["text"] for line in payload["transcript"]] == ["human please"]
    assert payload["channel"] == "rest"
    assert "category" not in payload


def test_unknown_channel_and_no_messages() -> None:
    events = [slot("device", "printer"), action("action_listen")]
    payload = build_handoff_payload(conversation("conv-6", events, slots={"device": "printer"}))

    assert payload["channel"] == "unknown"
    assert payload["transcript"] == []
    assert payload["context"]["intent"] is None
    assert payload["summary"] == "General help: the customer asked for an engineer."


def test_verified_holds_for_fifteen_minutes_and_says_when() -> None:
    """At a shared computer the next person may be typing: an old proof is shown as a time, not as
    "verified"."""
    checked_at = BASE_TIMESTAMP + 10
    customer = {"id": "jdoe", "name": "Jane Doe", "email": "jane.doe@example.com", "verified_at": checked_at}
    tracker = conversation(
        "conv-v", timeline(user("I need a human", "human_handoff")), slots={"verified_customer": customer}
    )

    fresh = verified_customer(tracker, now=checked_at + 14 * 60)
    stale = verified_customer(tracker, now=checked_at + 16 * 60)

    assert fresh is not None and fresh["verified"] is True
    assert stale is not None and stale["verified"] is False and stale["id"] == "jdoe"
    assert fresh["verified_at"] == stale["verified_at"] == iso_timestamp(checked_at)
    # A slot from before the time was kept (no `verified_at`): never verified.
    old = conversation("conv-o", timeline(user("hi", "greet")), slots={"verified_customer": {"id": "jdoe"}})
    assert verified_customer(old) == {"id": "jdoe", "name": None, "email": None, "verified": False}
