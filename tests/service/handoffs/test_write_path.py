"""The busy write path (issue: 500 handoff writes/s on PostgreSQL): one-statement claims and idempotent
creations under concurrency, compact write answers, the token cache, and idle-connection pings."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.exc import OperationalError

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory, statements_alone, transaction
from handoff_api.main import create_app
from handoff_api.models import Handoff, HandoffEvent, Message, OutboxItem, User
from handoff_api.users import service as users
from handoff_api.users.token_cache import TokenCache
from knowledge_base.embeddings import MiniLMEmbedder
from tests.service.conftest import HandoffFactory, ThreadedServer, Tokens, _postgres_database


@pytest.fixture
def live(settings: Settings, embedder: MiniLMEmbedder) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(settings, background=False, embedder=embedder)).start()
    yield server
    server.stop()


def _count(settings: Settings, statement: Any) -> int:
    engine = make_engine(settings.sqlalchemy_url)
    with engine.connect() as conn:
        value = int(conn.scalar(statement) or 0)
    engine.dispose()
    return value


def test_fifty_concurrent_claims_of_one_handoff_have_one_winner(
    settings: Settings, tokens: Tokens, handoff_factory: HandoffFactory, live: ThreadedServer
) -> None:
    handoff = handoff_factory.create("one-prize")
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        racers = [users.create(session, settings.secret_key(), f"claimer-{n}", "l2") for n in range(50)]
        names = {token: user.name for user, token in racers}
    engine.dispose()

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"/api/v1/handoffs/{handoff['id']}/claim", headers={"Authorization": f"Bearer {t}"}
                    )
                    for t in names
                )
            )

    answers = asyncio.run(race())
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 409: 49}, statuses
    winner = next(a for a in answers if a.status_code == 200).json()
    assert winner["status"] == "assigned" and winner["assignee"]["name"] in names.values()
    loser = next(a for a in answers if a.status_code == 409).json()
    assert winner["assignee"]["name"] in loser["detail"]
    claimed = select(func.count()).where(HandoffEvent.kind == "handoff.claimed")
    assert _count(settings, claimed) == 1


def test_concurrent_creations_for_one_conversation_make_one_handoff(
    settings: Settings, tokens: Tokens, handoff_factory: HandoffFactory, live: ThreadedServer
) -> None:
    body = handoff_factory.body("same-conversation")

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            return await asyncio.gather(
                *(http.post("/api/v1/handoffs", json=body, headers=tokens.auth("bot")) for _ in range(20))
            )

    answers = asyncio.run(race())
    assert Counter(a.status_code for a in answers) == {201: 1, 200: 19}
    assert len({a.json()["id"] for a in answers}) == 1
    assert _count(settings, select(func.count()).select_from(Handoff)) == 1
    assert _count(settings, select(func.count()).select_from(Message)) == len(body["transcript"])  # type: ignore[arg-type]
    assert _count(settings, select(func.count()).where(HandoffEvent.kind == "handoff.created")) == 1


def test_writes_answer_the_contract_fields_without_the_notes(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    contract = {
        "id", "number", "conversation_id", "channel", "tier", "status", "priority", "category", "reason",
        "summary", "customer", "context", "transcript", "assignee", "sla", "history",
    }  # fmt: skip
    created = handoff_factory.create("compact")
    assert contract <= created.keys() and "notes" not in created
    assert created["queue_position"] == 1 and created["agents_online"] == 0
    assert [line["text"] for line in created["transcript"]] == [
        "hi",
        "Hello! How can I help?",
        "I want a human",
    ]  # type: ignore[index]
    assert [e["kind"] for e in created["history"]] == ["handoff.created"]  # type: ignore[index]
    base = f"/api/v1/handoffs/{created['id']}"
    claimed = client.post(f"{base}/claim", headers=tokens.auth("l2")).json()
    assert contract <= claimed.keys() and "notes" not in claimed
    assert claimed["status"] == "assigned" and claimed["assignee"]["name"] == "agent-l2"
    assert claimed["queue_position"] is None and claimed["agents_online"] is None
    assert [line["text"] for line in claimed["transcript"]] == [
        line["text"] for line in created["transcript"]
    ]  # type: ignore[attr-defined]
    assert [e["kind"] for e in claimed["history"]] == ["handoff.created", "handoff.claimed"]
    # The holder claiming again gets the handoff; the detail view still has everything.
    again = client.post(f"{base}/claim", headers=tokens.auth("l2"))
    assert again.status_code == 200 and again.json()["assignee"]["name"] == "agent-l2"
    assert (
        client.post(f"{base}/notes", json={"text": "private"}, headers=tokens.auth("l2")).status_code == 201
    )
    detail = client.get(base, headers=tokens.auth("l2")).json()
    assert [n["text"] for n in detail["notes"]] == ["private"] and detail["agents_online"] == 0
    assert [e["kind"] for e in detail["history"]] == ["handoff.created", "handoff.claimed", "note.added"]


def test_a_claim_answers_the_same_history_and_transcript_as_the_detail_view(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    # On PostgreSQL the claim's own statement reads them (as JSON, in its snapshot, which lacks its own
    # history entry); on SQLite a second query does. Times with and without fractions, a tie in time, text
    # that JSON escapes, a reply, a note and a release before the second claim.
    transcript = [
        {"role": "customer", "text": 'my "VPN" \\ fails \u00e9\U0001f600\n', "at": "2026-11-26T10:00:00.5Z"},
        {"role": "bot", "text": "Which device?", "at": "2026-11-26T10:00:00.5Z"},
        {"role": "customer", "text": "laptop", "at": "2026-11-26T10:00:07.123456Z"},
        {"role": "customer", "text": "a person please", "at": "2026-11-26T10:00:09Z"},
    ]
    created = handoff_factory.create("claim-answer", transcript=transcript)
    base = f"/api/v1/handoffs/{created['id']}"
    l2, other = tokens.auth("l2"), tokens.auth("l2_other")
    assert client.post(f"{base}/claim", headers=l2).status_code == 200
    assert client.post(f"{base}/messages", json={"text": "On it"}, headers=l2).status_code == 201
    assert client.post(f"{base}/notes", json={"text": "private"}, headers=l2).status_code == 201
    assert client.post(f"{base}/release", headers=l2).status_code == 200

    claimed = client.post(f"{base}/claim", headers=other)
    assert claimed.status_code == 200, claimed.text
    answer = claimed.json()
    detail = client.get(base, headers=other).json()
    assert answer["transcript"] == detail["transcript"]
    assert answer["history"] == detail["history"]
    assert [line["text"] for line in answer["transcript"]] == [
        'my "VPN" \\ fails \u00e9\U0001f600\n',
        "Which device?",
        "laptop",
        "a person please",
        "On it",
        f"Your engineer has put ticket {created['number']} back in the queue: the next of our L2 engineers "
        "will pick it up, with everything you've told us so far, in this chat.",
    ]
    assert answer["transcript"][-1]["role"] == "bot" and answer["transcript"][-1]["author"] == "assistant"
    assert [line["at"][:26] for line in answer["transcript"][:3]] == [
        "2026-11-26T10:00:00.500000", "2026-11-26T10:00:00.500000", "2026-11-26T10:00:07.123456"
    ]  # fmt: skip
    kinds = [e["kind"] for e in answer["history"]]
    assert kinds[0] == "handoff.created" and kinds[-1] == "handoff.claimed"
    assert kinds.count("handoff.claimed") == 2 and "handoff.released" in kinds and "message.agent" in kinds
    assert answer["history"][-1]["actor"] == "l2:agent-l2_other"
    assert answer["history"][-1]["detail"] == {"assignee": "agent-l2_other"}
    assert answer["assignee"]["name"] == "agent-l2_other" and answer["status"] == "assigned"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_on_postgresql_is_one_statement_answer_included(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("one-statement-claim")
    base = f"/api/v1/handoffs/{handoff['id']}"
    assert client.get(base, headers=tokens.auth("l2")).status_code == 200  # the token is cached now
    engine = client.app.state.sessions.kw["bind"]  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = client.post(f"{base}/claim", headers=tokens.auth("l2"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200 and len(answer.json()["transcript"]) == 3
    assert [e["kind"] for e in answer.json()["history"]] == ["handoff.created", "handoff.claimed"]
    assert len(statements) == 1, statements


def test_replies_take_the_right_answer_on_every_path(
    settings: Settings, client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("reply-paths")
    base = f"/api/v1/handoffs/{handoff['id']}"
    message = {"text": "Hello from L2"}
    assert client.post(f"{base}/messages", json=message, headers=tokens.auth("l2")).status_code == 409
    assert client.post(f"{base}/messages", json=message, headers=tokens.auth("l3")).status_code == 403
    assert (
        client.post("/api/v1/handoffs/999999/messages", json=message, headers=tokens.auth("l2")).status_code
        == 404
    )
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    assert client.post(f"{base}/messages", json=message, headers=tokens.auth("l2_other")).status_code == 409
    first = client.post(f"{base}/messages", json=message, headers=tokens.auth("l2"))
    assert first.status_code == 201 and first.json()["author"] == "agent-l2"
    led = client.post(f"{base}/messages", json={"text": "Lead here"}, headers=tokens.auth("lead"))
    assert led.status_code == 201
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        row = session.get(Handoff, handoff["id"])
        assert row is not None and row.first_response_at is not None
        first_at = row.first_response_at
        outbox = list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        kinds = list(session.scalars(select(HandoffEvent.kind).order_by(HandoffEvent.id)))
    engine.dispose()
    assert [o.events[0]["text"] for o in outbox] == ["Hello from L2", "Lead here"]
    # The first engineer message takes the chat over in Rasa (ends any form, such as the bot's e-mail
    # follow-up question, and pauses the bot); later ones are the message alone.
    assert [e["event"] for e in outbox[0].events] == ["bot", "active_loop", "slot", "pause"]
    assert outbox[0].events[1]["name"] is None and outbox[0].events[2] == {
        "event": "slot",
        "name": "requested_slot",
        "value": None,
    }
    assert [e["event"] for e in outbox[1].events] == ["bot"]
    assert outbox[0].events[0]["metadata"]["helpdesk_message_id"] == first.json()["id"]
    assert kinds == ["handoff.created", "handoff.claimed", "message.agent", "message.agent"]
    detail = client.get(base, headers=tokens.auth("l2")).json()
    assert [line["text"] for line in detail["transcript"]][-2:] == ["Hello from L2", "Lead here"]
    assert first_at.isoformat().startswith(first.json()["at"][:19])  # the first reply's time, kept


def test_token_cache_remembers_a_user_for_its_lifetime_only(settings: Settings) -> None:
    now = [1000.0]
    cache = TokenCache(5.0, clock=lambda: now[0])
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        user, _token = users.create(session, "k", "cached", "l2", tier_skills=["printers"])
        cache.remember("hash", user)
    with sessions() as session:
        seen = cache.user(session, "hash")
        assert seen is not None and (seen.name, seen.role, seen.tier_skills) == ("cached", "l2", ["printers"])
        assert seen.presence == "offline"  # not cached: read from the database when used
    now[0] += 5.0
    with sessions() as session:
        assert cache.user(session, "hash") is None  # expired: the next request asks the database
        off = TokenCache(0, clock=lambda: now[0])
        off.remember("hash", user)
        assert off.user(session, "hash") is None  # 0 turns the cache off
    engine.dispose()


def test_revocation_reaches_a_running_service_within_the_cache_lifetime(
    settings: Settings, tokens: Tokens, embedder: MiniLMEmbedder
) -> None:
    app = create_app(settings, background=False, embedder=embedder)
    now = [0.0]
    app.state.token_cache = TokenCache(settings.helpdesk_token_cache_seconds, clock=lambda: now[0])
    with TestClient(app) as client:
        assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 200
        # Revoked by another process (the CLI run elsewhere): the database changes, not this cache.
        engine = make_engine(settings.sqlalchemy_url)
        with transaction(make_session_factory(engine)) as session:
            session.execute(update(User).where(User.name == "agent-l2").values(active=False))
        engine.dispose()
        now[0] += settings.helpdesk_token_cache_seconds
        assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2")).status_code == 401
        # A cached user's own changes still reach the database (presence, capacity).
        assert client.get("/api/v1/queues/l2", headers=tokens.auth("l2_other")).status_code == 200
        me = client.put(
            "/api/v1/agents/me/presence",
            json={"presence": "online", "capacity": 7},
            headers=tokens.auth("l2_other"),
        )
        assert me.status_code == 200 and me.json()["capacity"] == 7
    assert _count(settings, select(User.capacity).where(User.name == "agent-l2_other")) == 7


@pytest.fixture
def postgres_url() -> Iterator[str]:
    # Only PostgreSQL has server processes that can die under a pooled connection.
    yield from _postgres_database()


@pytest.mark.postgres
def test_an_idle_connection_that_died_is_replaced_before_use(postgres_url: str) -> None:
    database_url = postgres_url
    engine = make_engine(database_url)
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    # The pooled connection has been idle for a minute, and its server process is gone.
    record = engine.pool._pool.queue[0]  # type: ignore[attr-defined]
    record.info["checked_in_at"] -= 60
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    engine.dispose()


@pytest.mark.postgres
def test_statements_alone_turns_autocommit_on_for_its_block_only(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            with statements_alone(session):
                driver = session.connection().connection.driver_connection
                session.execute(text("SELECT 1"))
                # No transaction left open by the statement: it committed by itself.
                assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            session.execute(text("SELECT 1"))
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            with statements_alone(session):  # a transaction has begun: nothing changes
                assert not driver.autocommit
            session.rollback()
        # A connection found closed at the start of the block (its status is not idle) is left alone: the
        # statement fails as a database error, answered 503, not with the driver's own error (a 500).
        with sessions() as session:
            session.connection().connection.driver_connection.close()
            with pytest.raises(OperationalError), statements_alone(session):
                session.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_retried_reply_with_its_idempotency_key_is_written_once(
    settings: Settings, tokens: Tokens, handoff_factory: HandoffFactory, live: ThreadedServer
) -> None:
    handoff = handoff_factory.create("retried-reply")
    base = f"/api/v1/handoffs/{handoff['id']}"
    with httpx.Client(base_url=live.url, timeout=30) as http:
        assert http.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
        keyed = {**tokens.auth("l2"), "Idempotency-Key": "reply-7f3a"}
        first = http.post(f"{base}/messages", json={"text": "On it."}, headers=keyed)
        again = http.post(f"{base}/messages", json={"text": "On it."}, headers=keyed)
        other = http.post(
            f"{base}/messages", json={"text": "Try now?"}, headers={**keyed, "Idempotency-Key": "reply-8b1c"}
        )
        unkeyed = [
            http.post(f"{base}/messages", json={"text": "ping"}, headers=tokens.auth("l2")) for _ in "ab"
        ]
        bad = [
            http.post(f"{base}/messages", json={"text": "x"}, headers={**keyed, "Idempotency-Key": value})
            for value in ("has space", "k" * 65)
        ]

    async def race() -> list[httpx.Response]:
        # The same retry in flight ten times at once (a client that gave up waiting, several times).
        headers = {**tokens.auth("l2"), "Idempotency-Key": "reply-race"}
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            return await asyncio.gather(
                *(http.post(f"{base}/messages", json={"text": "racing"}, headers=headers) for _ in range(10))
            )

    raced = asyncio.run(race())
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == first.json() and other.json()["id"] != first.json()["id"]
    assert [a.status_code for a in unkeyed] == [201, 201]  # without a key every request is a new reply
    assert [b.status_code for b in bad] == [422, 422]
    assert all("Idempotency-Key" in str(b.json()["detail"]) for b in bad), [b.json() for b in bad]
    assert Counter(a.status_code for a in raced) == {201: 1, 200: 9}
    assert len({a.json()["id"] for a in raced}) == 1
    engine = make_engine(settings.sqlalchemy_url)
    with engine.connect() as conn:
        texts = list(conn.scalars(select(Message.text).where(Message.role == "agent").order_by(Message.id)))
    engine.dispose()
    assert texts == ["On it.", "Try now?", "ping", "ping", "racing"]
    assert _count(settings, select(func.count()).select_from(OutboxItem)) == 5


def _reply_rows(settings: Settings, handoff_id: int) -> dict[str, Any]:
    """Every row a reply writes, as plain values (ids and times compared apart)."""
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        lines = session.scalars(
            select(Message)
            .where(Message.handoff_id == handoff_id, Message.role == "agent")
            .order_by(Message.id)
        ).all()
        outbox = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        history = session.scalars(
            select(HandoffEvent).where(HandoffEvent.kind == "message.agent").order_by(HandoffEvent.id)
        ).all()
        rows = {
            "handoff": (handoff.first_response_at, handoff.updated_at),
            "lines": [(m.id, m.role, m.text, m.at, m.author_id, m.author_name, m.source_key) for m in lines],
            "outbox": [
                (
                    o.handoff_id,
                    o.conversation_id,
                    o.events,
                    o.status,
                    o.attempts,
                    o.next_attempt_at,
                    o.created_at,
                )
                for o in outbox
            ],
            "history": [(e.handoff_id, e.tier, e.actor, e.at, e.detail) for e in history],
        }
    engine.dispose()
    return rows


def test_a_reply_writes_the_same_rows_on_every_database(
    settings: Settings, client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    """PostgreSQL writes a reply in one statement (handoffs/postgresql.py), SQLite in five:
    the same rows, column for column, on both."""
    handoff = handoff_factory.create("same-rows")
    handoff_id = int(str(handoff["id"]))
    base = f"/api/v1/handoffs/{handoff_id}"
    assert client.post(f"{base}/claim", headers=tokens.auth("l2")).status_code == 200
    first = client.post(
        f"{base}/messages", json={"text": "On it"}, headers=tokens.auth("l2") | {"Idempotency-Key": "k-1"}
    ).json()
    second = client.post(f"{base}/messages", json={"text": "Done?"}, headers=tokens.auth("lead")).json()
    rows = _reply_rows(settings, handoff_id)

    agent_id = rows["lines"][0][4]
    first_at = rows["lines"][0][3]
    assert [line[:3] + line[4:] for line in rows["lines"]] == [
        (first["id"], "agent", "On it", agent_id, "agent-l2", "reply:k-1"),
        (second["id"], "agent", "Done?", rows["lines"][1][4], "agent-lead", None),
    ]
    assert rows["lines"][1][4] != agent_id
    # The first response is the first reply's time; a later reply changes neither.
    assert rows["handoff"] == (first_at, first_at)
    assert [o[:5] for o in rows["outbox"]] == [
        (
            handoff_id,
            "same-rows",
            [
                {
                    "event": "bot",
                    "text": "On it",
                    "metadata": {
                        "helpdesk_message_id": first["id"],
                        "agent": {"name": "agent-l2", "tier": "l2"},
                    },
                },
                {"event": "active_loop", "name": None},
                {"event": "slot", "name": "requested_slot", "value": None},
                {"event": "pause"},
            ],
            "pending",
            0,
        ),
        (
            handoff_id,
            "same-rows",
            [
                {
                    "event": "bot",
                    "text": "Done?",
                    "metadata": {
                        "helpdesk_message_id": second["id"],
                        "agent": {"name": "agent-lead", "tier": "lead"},
                    },
                }
            ],
            "pending",
            0,
        ),
    ]
    # Due at once, and created with the line (in the same request).
    assert all(timedelta(0) <= at - first_at < timedelta(seconds=5) for at in rows["outbox"][0][5:])
    assert [e[:3] + e[4:] for e in rows["history"]] == [
        (handoff_id, "l2", "l2:agent-l2", {"message_id": first["id"]}),
        (handoff_id, "l2", "lead:agent-lead", {"message_id": second["id"]}),
    ]
    assert timedelta(0) <= rows["history"][0][3] - first_at < timedelta(seconds=5)


def test_a_refused_reply_writes_nothing(
    settings: Settings, client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("refused")
    handoff_id = int(str(handoff["id"]))
    base = f"/api/v1/handoffs/{handoff_id}"
    client.post(f"{base}/claim", headers=tokens.auth("l2"))
    for token, status in (("l2_other", 409), ("l3", 403)):
        assert (
            client.post(f"{base}/messages", json={"text": "x"}, headers=tokens.auth(token)).status_code
            == status
        )
    client.post(f"{base}/resolve", json={"resolution": "fixed"}, headers=tokens.auth("l2"))
    assert (
        client.post(f"{base}/messages", json={"text": "late"}, headers=tokens.auth("l2")).status_code == 409
    )
    rows = _reply_rows(settings, handoff_id)
    assert rows["lines"] == [] and rows["history"] == [] and rows["handoff"][0] is None
    assert all(o[2][0]["event"] != "bot" for o in rows["outbox"])


def test_a_claim_writes_the_same_history_entry_on_every_database(
    settings: Settings, client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    """On PostgreSQL the claim's history entry is written by the claiming statement itself."""
    handoff = handoff_factory.create("claimed-entry")
    handoff_id = int(str(handoff["id"]))
    answer = client.post(f"/api/v1/handoffs/{handoff_id}/claim", headers=tokens.auth("l2")).json()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        entries = session.scalars(
            select(HandoffEvent).where(HandoffEvent.handoff_id == handoff_id).order_by(HandoffEvent.id)
        ).all()
        claimed = session.get(Handoff, handoff_id)
        assert claimed is not None
        updated_at = claimed.updated_at
    engine.dispose()
    assert [(e.kind, e.tier, e.actor, e.detail) for e in entries] == [
        ("handoff.created", "l2", "bot:agent-bot", {"reason": "customer_request"}),
        ("handoff.claimed", "l2", "l2:agent-l2", {"assignee": "agent-l2"}),
    ]
    assert timedelta(0) <= entries[1].at - updated_at < timedelta(seconds=5)
    assert answer["status"] == "assigned" and answer["assignee"]["name"] == "agent-l2"
    assert [(e["kind"], e["actor"], e["detail"]) for e in answer["history"]][-1] == (
        "handoff.claimed",
        "l2:agent-l2",
        {"assignee": "agent-l2"},
    )


def test_a_creation_answers_its_place_in_the_queue_and_keeps_the_transcripts_order(
    settings: Settings, client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    """On PostgreSQL one statement writes the handoff, its lines and its history entry and counts the queue
    ahead of it: the same answers as SQLite's separate statements."""
    online = client.put(
        "/api/v1/agents/me/presence", json={"presence": "online", "capacity": 5}, headers=tokens.auth("l2")
    )
    assert online.status_code == 200, online.text
    normal = handoff_factory.create("queue-normal")
    urgent = handoff_factory.create("queue-urgent", impact="high", urgency="high")
    later = handoff_factory.create("queue-later")
    l3 = handoff_factory.create("queue-l3", tier="l3")
    assert [(h["queue_position"], h["agents_online"]) for h in (normal, urgent, later, l3)] == [
        (1, 1),
        (1, 1),  # more urgent than the one before it: first in the queue
        (3, 1),
        (1, 0),
    ]
    same_time = "2026-11-26T10:00:00Z"
    lines = [{"role": "customer" if n % 2 else "bot", "text": f"line {n}", "at": same_time} for n in range(6)]
    lines.append({"role": "customer", "text": "no time given"})
    created = handoff_factory.create("queue-lines", transcript=lines)
    expected = [f"line {n}" for n in range(6)] + ["no time given"]
    assert [line["text"] for line in created["transcript"]] == expected
    read = client.get(f"/api/v1/handoffs/{created['id']}", headers=tokens.auth("l2")).json()
    assert [line["text"] for line in read["transcript"]] == expected
    assert [(e["kind"], e["actor"], e["detail"]) for e in read["history"]] == [
        ("handoff.created", "bot:agent-bot", {"reason": "customer_request"})
    ]
    assert read["history"][0]["at"] == created["history"][0]["at"]
    again = client.post(
        "/api/v1/handoffs",
        json=handoff_factory.body("queue-lines", transcript=lines),
        headers=tokens.auth("bot"),
    )
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    read_again = client.get(f"/api/v1/handoffs/{created['id']}", headers=tokens.auth("l2")).json()
    assert len(read_again["transcript"]) == len(expected) and len(read_again["history"]) == 1
    silent = handoff_factory.create("queue-no-lines", transcript=[])
    assert silent["transcript"] == [] and [e["kind"] for e in silent["history"]] == ["handoff.created"]
