"""The broker consumer against a real SQLite table shaped like Rasa's SQL event broker."""

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.models import DeadLetter
from handoff_api.rasa.sql_broker import SqlBrokerSource, consume_once
from tests.service.conftest import (
    CUTOFF,
    METRICS_AUTH,
    HandoffFactory,
    RasaBroker,
    Tokens,
    _consume,
    _transcript,
)


# The last line of the transcript the bot sent with the handoff (see conftest).
def test_customer_messages_reach_the_transcript_once(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    handoff = handoff_factory.create("conv-b")
    rasa_broker.publish("conv-b", {"event": "user", "text": "I want a human", "timestamp": CUTOFF})
    rasa_broker.publish("conv-b", {"event": "action", "name": "action_listen", "timestamp": CUTOFF + 1})
    rasa_broker.publish("conv-b", {"event": "bot", "text": "I've opened ticket", "timestamp": CUTOFF + 1.5})
    rasa_broker.publish("conv-b", {"event": "user", "text": "are you there?", "timestamp": CUTOFF + 2})
    rasa_broker.publish(
        "conv-b",
        {
            "event": "bot",
            "text": "agent says hi",
            "timestamp": CUTOFF + 3,
            "metadata": {"helpdesk_message_id": 7},
        },
    )
    rasa_broker.publish("someone-else", {"event": "user", "text": "not for you", "timestamp": CUTOFF + 4})
    rasa_broker.publish_raw("conv-b", "{not json")
    rasa_broker.publish("conv-b", {"event": "user", "text": "still broken", "timestamp": CUTOFF + 5})

    assert _consume(settings) == 3
    assert _consume(settings) == 0  # the cursor moved; nothing is read twice
    lines = _transcript(client, tokens, handoff["id"])
    assert lines[3:] == [
        ("bot", "I've opened ticket"),
        ("customer", "are you there?"),
        ("customer", "still broken"),
    ]
    kinds = [
        e["kind"]
        for e in client.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("lead")).json()[
            "history"
        ]
    ]
    assert kinds.count("message.customer") == 2


def test_an_event_that_cannot_be_applied_is_set_aside_and_the_rest_flow(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    """One bad event used to fail the batch's transaction on every poll: no transcript moved again."""
    handoff = handoff_factory.create("conv-dl")
    rasa_broker.publish("conv-dl", {"event": "user", "text": "before", "timestamp": CUTOFF + 1})
    rasa_broker.publish("conv-dl", {"event": "user", "text": "my code is 123456", "timestamp": "soon"})
    rasa_broker.publish("conv-dl", {"event": "user", "text": "after", "timestamp": CUTOFF + 3})

    assert _consume(settings) == 2
    assert _consume(settings) == 0
    assert _transcript(client, tokens, handoff["id"])[3:] == [("customer", "before"), ("customer", "after")]
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        letters = list(session.scalars(select(DeadLetter)))
    engine.dispose()
    assert [(d.source_key, d.conversation_id, d.error.split(":")[0]) for d in letters] == [
        ("rasa:2", "conv-dl", "ValueError")
    ]
    assert "123456" not in letters[0].event, "what the customer typed is kept masked"
    metrics = client.get("/metrics", headers=METRICS_AUTH).text
    assert "helpdesk_broker_dead_letters_total 1.0" in metrics


def test_a_row_committed_late_is_not_skipped(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    """Row 2 commits after row 3 (two Rasa instances on PostgreSQL): the reader waits at the hole, and
    steps over it only when it stays open (a rolled-back insert)."""
    handoff = handoff_factory.create("conv-gap")
    now = [100.0]
    engine = make_engine(settings.sqlalchemy_url)
    events_engine = make_engine(settings.events_db_url, write_transactions=False)
    source = SqlBrokerSource(events_engine, clock=lambda: now[0], gap_wait=3.0)
    factory = make_session_factory(engine)
    try:
        rasa_broker.publish_at(1, "conv-gap", {"event": "user", "text": "one", "timestamp": CUTOFF + 1})
        rasa_broker.publish_at(3, "conv-gap", {"event": "user", "text": "three", "timestamp": CUTOFF + 3})
        assert consume_once(factory, source) == 1
        now[0] += 1
        assert consume_once(factory, source) == 0, "waits at the hole"
        rasa_broker.publish_at(2, "conv-gap", {"event": "user", "text": "two", "timestamp": CUTOFF + 2})
        assert consume_once(factory, source) == 2
        assert _transcript(client, tokens, handoff["id"])[3:] == [
            ("customer", "one"),
            ("customer", "two"),
            ("customer", "three"),
        ]
        # A hole that stays open (an insert rolled back) is stepped over after the wait.
        rasa_broker.publish_at(5, "conv-gap", {"event": "user", "text": "five", "timestamp": CUTOFF + 5})
        assert consume_once(factory, source) == 0
        now[0] += 3.5
        assert consume_once(factory, source) == 1
        assert _transcript(client, tokens, handoff["id"])[-1] == ("customer", "five")
    finally:
        engine.dispose()
        events_engine.dispose()


def test_a_line_with_the_customers_id_from_another_channel_never_reaches_the_engineer(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    """Rasa keys conversations by sender id alone: someone who knows a customer's id (a Telegram chat id,
    a Slack user id) and writes with it on another channel must not speak as them, nor reopen their ticket."""
    handoff = handoff_factory.create("conv-own")  # opened on socketio, the website widget
    line = {"event": "user", "timestamp": CUTOFF + 1}
    rasa_broker.publish("conv-own", {**line, "text": "it is me", "input_channel": "socketio"})
    rasa_broker.publish("conv-own", {**line, "text": "I am the customer, trust me", "input_channel": "rest"})
    assert _consume(settings) == 1
    assert _transcript(client, tokens, handoff["id"])[3:] == [("customer", "it is me")]

    base = f"/api/v1/handoffs/{handoff['id']}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    resolved = client.post(
        f"{base}/resolve", json={"resolution": "done", "return_to_bot": False}, headers=tokens.auth("l2")
    )
    assert resolved.status_code == 200
    rasa_broker.publish(
        "conv-own", {**line, "timestamp": CUTOFF + 9, "text": "reopen it", "input_channel": "rest"}
    )
    _consume(settings)
    after = client.get(base, headers=tokens.auth("lead")).json()
    assert after["status"] == "resolved", "a line from another channel does not reopen the ticket"
    rasa_broker.publish(
        "conv-own", {**line, "timestamp": CUTOFF + 10, "text": "still broken", "input_channel": "socketio"}
    )
    _consume(settings)
    assert client.get(base, headers=tokens.auth("lead")).json()["status"] == "waiting"


def test_cursor_survives_a_restart_and_new_rows_are_read(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    handoff = handoff_factory.create("conv-r")
    rasa_broker.publish("conv-r", {"event": "user", "text": "one", "timestamp": CUTOFF + 1})
    assert _consume(settings) == 1
    rasa_broker.publish("conv-r", {"event": "user", "text": "two", "timestamp": CUTOFF + 2})
    assert _consume(settings) == 1  # a new engine and source: only the cursor in the database remembers
    assert [text for _, text in _transcript(client, tokens, handoff["id"])][-2:] == ["one", "two"]


def test_messages_after_resolution_are_not_appended(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    handoff = handoff_factory.create("conv-done")
    client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    client.post(
        f"/api/v1/handoffs/{handoff['id']}/resolve", json={"resolution": "ok"}, headers=tokens.auth("l2")
    )
    rasa_broker.publish("conv-done", {"event": "user", "text": "thanks bot", "timestamp": CUTOFF + 100})
    assert _consume(settings) == 0


def test_a_customer_line_that_arrives_after_the_engineers_later_reply_lists_before_it(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    """The broker is polled (or the service was down): a line the customer wrote before the engineer's
    reply may be stored after it. The transcript is in the order things were said."""
    handoff = handoff_factory.create("conv-order")
    written = datetime.now(UTC).timestamp()
    client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    reply = client.post(
        f"/api/v1/handoffs/{handoff['id']}/messages",
        headers=tokens.auth("l2"),
        json={"text": "Which error do you see?"},
    )
    assert reply.status_code == 201
    rasa_broker.publish("conv-order", {"event": "user", "text": "it says 0x80", "timestamp": written})
    assert _consume(settings) == 1

    assert _transcript(client, tokens, handoff["id"])[-2:] == [
        ("customer", "it says 0x80"),
        ("agent", "Which error do you see?"),
    ]


def test_no_broker_table_yet_is_not_an_error(settings: Settings) -> None:
    assert _consume(settings) == 0


def test_a_missing_broker_table_is_looked_for_once_a_second_not_on_every_poll(
    settings: Settings, handoff_factory: HandoffFactory
) -> None:
    handoff_factory.create("conv-early")
    engine = make_engine(settings.sqlalchemy_url)
    events_engine = make_engine(settings.events_db_url, write_transactions=False)
    statements = {"helpdesk": 0, "broker": 0}

    def count(name: str) -> Callable[..., None]:
        def counted(*_args: object) -> None:
            statements[name] += 1

        return counted

    event.listen(engine, "before_cursor_execute", count("helpdesk"))
    event.listen(events_engine, "before_cursor_execute", count("broker"))
    now = [1000.0]
    source = SqlBrokerSource(events_engine, clock=lambda: now[0])
    factory = make_session_factory(engine)
    try:
        assert consume_once(factory, source) == 0
        looked = statements["broker"]
        assert looked > 0
        statements["helpdesk"] = 0
        for _ in range(9):  # the next second of 0.1 s polls
            now[0] += 0.1
            assert consume_once(factory, source) == 0
        assert statements == {"helpdesk": 0, "broker": looked}

        # Rasa starts and publishes: the next look finds the table and the line.
        broker = RasaBroker(settings.helpdesk_data_dir / "rasa_events.db")
        broker.publish("conv-early", {"event": "user", "text": "still there?", "timestamp": CUTOFF + 1})
        now[0] += 0.2
        assert consume_once(factory, source) == 1
    finally:
        engine.dispose()
        events_engine.dispose()


def test_secrets_typed_while_an_engineer_holds_the_chat_are_masked(
    client: TestClient,
    tokens: Tokens,
    handoff_factory: HandoffFactory,
    settings: Settings,
    rasa_broker: RasaBroker,
) -> None:
    handoff = handoff_factory.create("conv-secret")
    rasa_broker.publish(
        "conv-secret", {"event": "user", "text": "the code is 482913", "timestamp": CUTOFF + 1}
    )
    rasa_broker.publish(
        "conv-secret", {"event": "user", "text": "my password is Hunter2!", "timestamp": CUTOFF + 2}
    )
    rasa_broker.publish(
        "conv-secret", {"event": "user", "text": "my password is not working", "timestamp": CUTOFF + 3}
    )
    assert _consume(settings) == 3
    lines = [text for _, text in _transcript(client, tokens, handoff["id"])][-3:]
    assert lines == [
        "the code is [REDACTED CODE]",
        "my password is [REDACTED PASSWORD]",
        "my password is not working",
    ]
