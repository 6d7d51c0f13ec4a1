"""Faults on the real stack (the outbox among them): a part stops or dies, the customer and
the engineers lose nothing and get nothing twice.

- Rasa stopped while an engineer replies: the replies wait in the service's outbox and reach the customer
  in order, once, when Rasa is back (same tracker store: the conversation goes on).
- The helpdesk service killed (`kill -9`) under load and restarted: every customer line and every
  acknowledged engineer reply arrives once, handoffs are created once per conversation.
- The action server stopped: the bot tells the customer and hands them to an engineer anyway
  (bot/connectors/action_fallback.py).

Every process is real, on loopback; the tests wait for behaviour with generous deadlines, never for speed.
"""

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import socketio

from tests.harness.customer import Customer
from tests.harness.stack import Stack, service_rows

pytestmark = pytest.mark.e2e

HUMAN = "I want to talk to a human"
# Rasa starts in 40 s or more, longer when the machine is busy; the service in seconds.
RASA_START_TIMEOUT = 600.0
CONVERGE_TIMEOUT = 120.0
# How often each customer and engineer writes under load: brisk for people. Much faster, a conversation's
# backlog in an overloaded Rasa outgrows its lock lifetime (60 s) and Rasa drops messages (LockError).
PACE = 1.0


@pytest.fixture
def running(stack: Stack) -> Iterator[Stack]:
    """The module's stack with every process up, before and after each test (a test stops some)."""
    _everything_up(stack)
    yield stack
    _everything_up(stack)


def _everything_up(stack: Stack) -> None:
    for name, process in stack.processes.items():
        if process.popen is None or process.popen.poll() is not None:
            stack.start_again(name, timeout=RASA_START_TIMEOUT)


class Agent:
    """An engineer's client of the helpdesk API."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.name = name
        self.http = httpx.AsyncClient(
            base_url=f"{stack.helpdesk_url}/api/v1",
            headers={"Authorization": f"Bearer {stack.tokens[name]}"},
            timeout=30,
        )

    async def get(self, path: str) -> Any:
        response = await self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body)

    async def poll(
        self, path: str, predicate: Callable[[Any], bool], timeout: float = CONVERGE_TIMEOUT
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = await self.get(path)
                if predicate(body):
                    return body
            except (httpx.TransportError, AssertionError):
                body = "(service not answering)"
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never matched; last: {body}")
            await asyncio.sleep(0.2)

    async def handoff_of(self, ticket: str) -> int:
        queue = await self.poll("/queues/l2", lambda q: any(h["number"] == ticket for h in q["handoffs"]))
        return int(next(h["id"] for h in queue["handoffs"] if h["number"] == ticket))

    async def close(self) -> None:
        await self.http.aclose()


async def hand_over(customer: Customer) -> str:
    """The customer greets the bot, asks for a person and is told the ticket number."""
    await customer.connect()
    await customer.say("hello")
    await customer.next_message(60)
    await customer.say(HUMAN)
    _, told = await customer.wait_for(lambda text: "HD-" in text, 60)
    ticket = re.search(r"HD-\d+", told)
    assert ticket, told
    return ticket.group()


def lines(handoff: dict[str, Any], role: str) -> list[str]:
    return [line["text"] for line in handoff["transcript"] if line["role"] == role]


def rasa_tracker(stack: Stack, conversation_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": stack.rasa_token, "include_events": "ALL"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    tracker: dict[str, Any] = response.json()
    return tracker


def engineer_events(tracker: dict[str, Any]) -> list[dict[str, Any]]:
    """The engineers' messages Rasa stored: bot events the service tagged with its message id."""
    return [
        event
        for event in tracker["events"]
        if event.get("event") == "bot" and "helpdesk_message_id" in (event.get("metadata") or {})
    ]


async def reconnect(stack: Stack, session_id: str, timeout: float) -> Customer:
    """The widget reconnecting to the same conversation, trying every 50 ms until Rasa accepts."""
    deadline = time.monotonic() + timeout
    while True:
        customer = Customer(stack.rasa_url, session_id=session_id)
        try:
            await customer.connect()
            return customer
        except (socketio.exceptions.ConnectionError, OSError, TimeoutError):
            await customer.close()
            rasa = stack.processes["rasa"].popen
            if time.monotonic() > deadline or (rasa is not None and rasa.poll() is not None):
                raise
            await asyncio.sleep(0.05)


async def drain(customer: Customer, seconds: float) -> list[tuple[float, str]]:
    """Everything the customer's socket receives within `seconds` (wall-clock receive times)."""
    received: list[tuple[float, str]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            _, text = await customer.next_message(left)
        except TimeoutError:
            break
        received.append((time.time(), text))
    return received


async def test_agent_replies_while_rasa_is_stopped_arrive_in_order_once_it_is_back(running: Stack) -> None:
    stack = running
    customer = Customer(stack.rasa_url)
    alice = Agent(stack, "alice")
    started = time.monotonic()
    try:
        ticket = await hand_over(customer)
        handoff_id = await alice.handoff_of(ticket)
        assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        assert (
            await alice.post(f"/handoffs/{handoff_id}/messages", {"text": "Alice here."})
        ).status_code == 201
        assert (await customer.wait_for(lambda t: t == "Alice here.", 60))[1] == "Alice here."

        # Rasa stops; the engineer keeps writing. The service accepts every reply (its outbox holds them).
        stack.processes["rasa"].stop()
        await customer.close()
        replies = [f"Reply {i} while the bot was away" for i in range(1, 6)]
        for text in replies:
            sent = await alice.post(f"/handoffs/{handoff_id}/messages", {"text": text})
            assert sent.status_code == 201, sent.text
            assert sent.json()["delivery"] == "queued"
            await asyncio.sleep(0.3)
        # The deliverer tries and backs off while Rasa is away: nothing is marked sent.
        await asyncio.sleep(2)
        pending = service_rows(
            stack, "SELECT status, attempts FROM outbox WHERE handoff_id = ? ORDER BY id", handoff_id
        )
        assert [status for status, _ in pending[-5:]] == ["pending"] * 5, pending
        assert pending[-5][1] >= 1, "the deliverer tried while Rasa was stopped"

        # Rasa is back on the same tracker store; the widget reconnects to the same conversation as soon
        # as Rasa accepts connections (it keeps trying, as the widget does).
        stack.processes["rasa"].start()
        customer = await reconnect(stack, customer.session_id, RASA_START_TIMEOUT)
        reconnected_at = time.time()
        await asyncio.to_thread(stack.wait_ready, RASA_START_TIMEOUT, ("rasa",))

        # Rasa's record: each reply once, in the order the engineer wrote them.
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            stored = engineer_events(rasa_tracker(stack, customer.session_id))
            if len(stored) >= 1 + len(replies) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert [event["text"] for event in stored] == ["Alice here.", *replies]
        ids = [event["metadata"]["helpdesk_message_id"] for event in stored]
        assert len(ids) == len(set(ids)), f"a reply was delivered twice: {ids}"

        # The customer's chat: the replies arrive in order, once each. The widget shows what Rasa pushes
        # while it is connected; the outbox retries on its own schedule, and a reply it delivers in the
        # moment before the widget is back is in Rasa's history only (no history sync in the widget yet):
        # the chat gets the rest, in order, and everything delivered after the reconnect.
        received = [text for _, text in await drain(customer, 5.0)]
        assert received == replies[len(replies) - len(received) :], received
        late = [e["text"] for e in stored[1:] if float(e["timestamp"]) > reconnected_at]
        assert set(late) <= set(received), (late, received)
        print(f"\n{len(received)} of {len(replies)} replies reached the reconnected chat live")

        sent_rows = service_rows(stack, "SELECT status FROM outbox WHERE handoff_id = ?", handoff_id)
        assert {status for (status,) in sent_rows} == {"sent"}

        # The conversation goes on with the engineer: the bot stays silent, the engineer reads the answer.
        await customer.say("Got all five, thanks")
        await alice.poll(f"/handoffs/{handoff_id}", lambda h: "Got all five, thanks" in lines(h, "customer"))
        await customer.expect_silence(2.0)
        handoff = await alice.get(f"/handoffs/{handoff_id}")
        assert lines(handoff, "agent") == ["Alice here.", *replies]
    finally:
        await customer.close()
        await alice.close()
        print(f"\nRasa stopped and restarted; replies delivered, {time.monotonic() - started:.0f} s")


async def test_the_service_killed_under_load_loses_and_repeats_nothing(running: Stack) -> None:
    stack = running
    agents = {name: Agent(stack, name) for name in ("alice", "bob")}
    customers = [Customer(stack.rasa_url) for _ in range(3)]
    late = Customer(stack.rasa_url)  # asks for a person while the service is down
    started = time.monotonic()
    try:
        tickets = [await hand_over(customer) for customer in customers]
        ids = [await agents["alice"].handoff_of(ticket) for ticket in tickets]
        holders = ["alice", "alice", "bob"]
        # The first two are claimed now; bob claims the third once the service has been killed.
        for handoff_id in ids[:2]:
            assert (await agents["alice"].post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        await late.connect()
        await late.say("hello")
        await late.next_message(60)

        written: dict[int, list[str]] = {k: [] for k in range(3)}
        acked: dict[int, list[str]] = {k: [] for k in range(3)}
        unknown: dict[int, list[str]] = {k: [] for k in range(3)}
        killed, claimed, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def customer_writes(k: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                text = f"customer {k} line {i}"
                await customers[k].say(text)
                written[k].append(text)
                await asyncio.sleep(PACE)

        async def engineer_replies(k: int) -> None:
            agent = agents[holders[k]]
            if k == 2:
                await killed.wait()
                while not claimed.is_set():  # refused while the service is down, then 200
                    try:
                        status = (await agent.post(f"/handoffs/{ids[k]}/claim")).status_code
                        if status in (200, 409):
                            claimed.set()
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.3)
            i = 0
            while not stop.is_set():
                i += 1
                text = f"engineer reply {i} to customer {k}"
                try:
                    response = await agent.post(f"/handoffs/{ids[k]}/messages", {"text": text})
                except httpx.TransportError:
                    unknown[k].append(text)  # killed mid-request: it may or may not have been stored
                else:
                    if response.status_code == 201:
                        acked[k].append(text)
                    else:
                        unknown[k].append(text)
                await asyncio.sleep(PACE)

        load = [asyncio.create_task(customer_writes(k)) for k in range(3)]
        load += [asyncio.create_task(engineer_replies(k)) for k in range(3)]
        await asyncio.sleep(5)
        # kill -9 in the middle of it; customers go on writing to the bot, engineers get refused.
        stack.processes["helpdesk"].kill()
        killed_at = time.monotonic()
        killed.set()
        await late.say(HUMAN)
        _, refused = await late.next_message(60)
        assert "HD-" not in refused, "no ticket can be opened while the service is down"
        await asyncio.sleep(max(0.0, 3 - (time.monotonic() - killed_at)))
        await asyncio.to_thread(stack.start_again, "helpdesk", timeout=RASA_START_TIMEOUT)
        await asyncio.sleep(5)
        stop.set()
        await asyncio.gather(*load)
        assert claimed.is_set()

        # Asked again after the restart: one handoff for the conversation, whatever happened before.
        await late.say(HUMAN)
        _, told = await late.wait_for(lambda text: "HD-" in text, 60)
        late_ticket = re.search(r"HD-\d+", told)
        assert late_ticket, told

        # Everything converges: transcripts, the customers' chats, Rasa's record, the outbox.
        for k, handoff_id in enumerate(ids):
            agent = agents[holders[k]]
            try:
                handoff = await agent.poll(
                    f"/handoffs/{handoff_id}",
                    lambda h, k=k: (
                        [t for t in lines(h, "customer") if t.startswith(f"customer {k} ")] == written[k]
                        and set(acked[k]) <= set(lines(h, "agent"))
                    ),
                )
            except AssertionError:
                handoff = await agent.get(f"/handoffs/{handoff_id}")
                customer_lines = [t for t in lines(handoff, "customer") if t.startswith(f"customer {k} ")]
                assert customer_lines == written[k], "every customer line once, in order"
                assert set(acked[k]) <= set(lines(handoff, "agent")), "every acknowledged reply stored"
                raise
            agent_lines = [t for t in lines(handoff, "agent") if t.startswith("engineer reply")]
            assert len(agent_lines) == len(set(agent_lines)), (
                f"an engineer's line is stored twice: {agent_lines}"
            )
            assert set(agent_lines) <= set(acked[k]) | set(unknown[k])
            sent_order = [t for t in [*acked[k], *unknown[k]] if t in agent_lines]
            assert agent_lines == sorted(sent_order, key=lambda t: int(t.split()[2]))

            deadline = time.monotonic() + CONVERGE_TIMEOUT
            while True:
                stored = [e["text"] for e in engineer_events(rasa_tracker(stack, customers[k].session_id))]
                if stored == agent_lines or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert stored == agent_lines, "Rasa got each reply once, in order"
            # The socket stayed connected (Rasa never stopped): the chat shows exactly the stored replies.
            received = [text for _, text in await drain(customers[k], 3.0)]
            assert [text for text in received if text.startswith("engineer reply")] == agent_lines

        # The queue's record: each conversation has exactly one handoff; the outbox sent everything once.
        for customer in [*customers, late]:
            rows = service_rows(
                stack, "SELECT count(*) FROM handoffs WHERE conversation_id = ?", customer.session_id
            )
            assert rows == [(1,)], (customer.session_id, rows)
        outbox = service_rows(stack, "SELECT handoff_id, status, events FROM outbox ORDER BY id")
        mine = [(h, status, json.loads(events)) for h, status, events in outbox if h in ids]
        assert {status for _, status, _ in mine} == {"sent"}
        texts = [e.get("text") for _, _, events in mine for e in events if e.get("event") == "bot"]
        replies = [t for t in texts if t and t.startswith("engineer reply")]
        assert len(replies) == len(set(replies))
        counts = [sum(map(len, d.values())) for d in (written, acked, unknown)]
        print(
            f"\nload: {counts[0]} customer lines, {counts[1]} replies acknowledged, {counts[2]} refused"
            f" or cut by the kill; {time.monotonic() - started:.0f} s"
        )
    finally:
        for customer in [*customers, late]:
            await customer.close()
        for agent in agents.values():
            await agent.close()


async def test_without_the_action_server_the_customer_is_told_and_reaches_a_human(running: Stack) -> None:
    stack = running
    customer = Customer(stack.rasa_url)
    alice = Agent(stack, "alice")
    stack.processes["actions"].stop()
    try:
        await customer.connect()
        await customer.say("hello")
        _, greeting = await customer.next_message(60)
        assert greeting, "a new chat starts without the action server"
        await customer.say("Outlook keeps crashing when I open it")
        _, told = await customer.next_message(60)
        assert "isn't working" in told and "HD-" in told, told
        ticket = re.search(r"HD-\d+", told)
        assert ticket

        handoff_id = await alice.handoff_of(ticket.group())
        handoff = await alice.get(f"/handoffs/{handoff_id}")
        assert handoff["reason"] == "action_server_unavailable" and handoff["channel"] == "socketio"
        assert handoff["conversation_id"] == customer.session_id
        assert handoff["context"]["failed_action"]
        assert "Outlook keeps crashing when I open it" in lines(handoff, "customer")
        assert greeting in lines(handoff, "bot")

        # Paused: the bot stays silent, the engineer reads the customer and takes over.
        await customer.say("hello? anyone?")
        await alice.poll(f"/handoffs/{handoff_id}", lambda h: "hello? anyone?" in lines(h, "customer"))
        await customer.expect_silence(2.0)
        assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        assert (
            await alice.post(f"/handoffs/{handoff_id}/messages", {"text": "Alice here, on it."})
        ).status_code == 201
        assert (await customer.next_message(60))[1] == "Alice here, on it."
    finally:
        await customer.close()
        await alice.close()
