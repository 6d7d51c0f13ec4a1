"""The spine, end to end on real parts: customer on socket.io -> L1 bot -> L2 -> L3 -> back to the bot."""

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from tests.harness.customer import Customer
from tests.harness.stack import Stack

pytestmark = pytest.mark.e2e


class Agent:
    def __init__(self, stack: Stack, name: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=stack.helpdesk_url, headers={"Authorization": f"Bearer {stack.tokens[name]}"}, timeout=10
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"/api/v1{path}")

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(f"/api/v1{path}", json=body)

    async def poll(self, path: str, predicate: Any, timeout: float = 15) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.get(path)
            assert response.status_code == 200, response.text
            if predicate(response.json()):
                return time.monotonic(), response.json()
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never matched; last: {response.json()}")
            await asyncio.sleep(0.02)


async def test_customer_to_l2_to_l3_and_back_to_the_bot(stack: Stack) -> None:
    customer = Customer(stack.rasa_url)
    alice, bob, carol = Agent(stack, "alice"), Agent(stack, "bob"), Agent(stack, "carol")
    await customer.connect()
    latencies: dict[str, float] = {}
    try:
        # The customer greets the bot and asks for a person.
        await customer.say("hello")
        _, greeting = await customer.next_message()
        assert greeting
        asked_at = await customer.say("I want to talk to a human")
        told_at, told = await customer.wait_for(lambda t: "HD-" in t)
        ticket = re.search(r"HD-\d+", told)
        assert ticket and "L2" in told, told

        # The handoff, with the transcript and what the bot understood, is in the L2 queue.
        seen_at, queue = await alice.poll(
            "/queues/l2", lambda q: any(h["number"] == ticket.group() for h in q["handoffs"])
        )
        latencies["handoff visible in queue after the customer asked"] = seen_at - asked_at
        latencies["handoff visible in queue after the bot told the customer"] = max(0.0, seen_at - told_at)
        handoff_id = next(h["id"] for h in queue["handoffs"] if h["number"] == ticket.group())
        handoff = (await alice.get(f"/handoffs/{handoff_id}")).json()
        assert handoff["conversation_id"] == customer.session_id and handoff["channel"] == "socketio"
        assert handoff["reason"] == "customer_request" and handoff["status"] == "waiting"
        assert handoff["context"]["intent"] == "request_human" and handoff["context"]["confidence"] > 0.5
        assert isinstance(handoff["context"]["slots"], dict)
        said = [(line["role"], line["text"]) for line in handoff["transcript"]]
        assert ("customer", "hello") in said and ("customer", "I want to talk to a human") in said
        assert ("bot", greeting) in said
        assert said.count(("customer", "I want to talk to a human")) == 1

        # Access rules: no token, another tier's queue.
        async with httpx.AsyncClient() as anonymous:
            assert (await anonymous.get(f"{stack.helpdesk_url}/api/v1/queues/l2")).status_code == 401
        assert (await alice.get("/queues/l3")).status_code == 403

        # Alice claims it; Bob is too late.
        assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        assert (await bob.post(f"/handoffs/{handoff_id}/claim")).status_code == 409

        # Alice's reply reaches the customer's chat.
        replied_at = time.monotonic()
        sent = await alice.post(
            f"/handoffs/{handoff_id}/messages", {"text": "Hi, I'm Alice from L2. What's up?"}
        )
        assert sent.status_code == 201
        got_at, text = await customer.next_message()
        assert text == "Hi, I'm Alice from L2. What's up?"
        latencies["agent -> customer"] = got_at - replied_at

        # What the customer writes next reaches Alice, and the bot stays silent.
        wrote_at = await customer.say("my laptop does not see the office wifi")
        arrived_at, _ = await alice.poll(
            f"/handoffs/{handoff_id}",
            lambda h: (
                ("customer", "my laptop does not see the office wifi")
                in [(t["role"], t["text"]) for t in h["transcript"]]
            ),
        )
        latencies["customer -> agent"] = arrived_at - wrote_at
        await customer.expect_silence(2.0)

        # A /restart while a human holds the conversation does not end the handoff.
        # The bot only explains why nothing restarted; the engineer keeps the conversation.
        await customer.say("/restart")
        _, explained = await customer.next_message()
        assert "still connected to an engineer" in explained
        await customer.expect_silence(1.0)
        still = await alice.get(f"/handoffs/{handoff_id}")
        assert still.json()["status"] == "assigned"
        await alice.post(
            f"/handoffs/{handoff_id}/messages", {"text": "Still here. Escalating to our network team."}
        )
        assert (await customer.next_message())[1] == "Still here. Escalating to our network team."

        # Alice notes privately and escalates to L3.
        assert (
            await alice.post(f"/handoffs/{handoff_id}/notes", {"text": "802.1X cert missing on device"})
        ).status_code == 201
        escalated = await alice.post(
            f"/handoffs/{handoff_id}/escalate", {"tier": "l3", "note": "needs NAC logs"}
        )
        assert escalated.status_code == 200 and escalated.json()["tier"] == "l3"
        # The customer is told where the ticket went.
        _, notice = await customer.next_message()
        assert escalated.json()["number"] in notice and "L3 engineers" in notice, notice

        # Carol (L3) sees the whole story.
        await carol.poll("/queues/l3", lambda q: any(h["id"] == handoff_id for h in q["handoffs"]))
        story = (await carol.get(f"/handoffs/{handoff_id}")).json()
        lines = [(t["role"], t["text"]) for t in story["transcript"]]
        # Nothing the bot sent with the handoff is repeated when the broker delivers the same turn.
        assert len(lines) == len(set(lines)), lines
        for expected in [
            ("customer", "I want to talk to a human"),
            ("agent", "Hi, I'm Alice from L2. What's up?"),
            ("customer", "my laptop does not see the office wifi"),
            ("customer", "/restart"),
        ]:
            assert expected in lines, expected
        assert [n["text"] for n in story["notes"]] == ["802.1X cert missing on device", "needs NAC logs"]
        assert story["context"]["intent"] == "request_human"
        assert "handoff.escalated" in [e["kind"] for e in story["history"]]
        assert (await alice.get(f"/handoffs/{handoff_id}")).status_code == 403

        # Carol resolves and hands the conversation back; the bot answers again.
        assert (await carol.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        await carol.post(
            f"/handoffs/{handoff_id}/messages", {"text": "Your certificate is re-issued, try now."}
        )
        assert (await customer.next_message())[1] == "Your certificate is re-issued, try now."
        resolved = await carol.post(
            f"/handoffs/{handoff_id}/resolve", {"resolution": "re-issued device cert", "return_to_bot": True}
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
        _, back = await customer.next_message()
        assert "virtual assistant" in back
        await customer.say("hi")
        _, answer = await customer.next_message()
        assert answer, "the bot answers once the conversation is handed back"
    finally:
        await customer.close()
        for agent in (alice, bob, carol):
            await agent.http.aclose()
        for name, seconds in latencies.items():
            print(f"latency {name}: {seconds * 1000:.0f} ms")


async def test_the_engineers_first_message_ends_the_bots_follow_up_question(stack: Stack) -> None:
    """With nobody online the bot offers an e-mail follow-up and waits for the answer. Once an engineer
    has written, the customer's "yes" answers the engineer: the bot stays silent, the line reaches them."""
    customer = Customer(stack.rasa_url)
    alice = Agent(stack, "alice")
    await customer.connect()
    try:
        await customer.say("I want to talk to a human")
        _, told = await customer.wait_for(lambda t: "HD-" in t)
        assert "Would you also like an e-mail" in told, told  # nobody of L2 is online in this stack
        conversation = await alice.get(f"/conversations/{customer.session_id}/handoff")
        handoff_id = conversation.json()["id"]
        assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        question = "Alice from L2 here. May I connect to your laptop remotely?"
        assert (await alice.post(f"/handoffs/{handoff_id}/messages", {"text": question})).status_code == 201
        assert (await customer.next_message())[1] == question

        await customer.say("yes")
        await alice.poll(
            f"/handoffs/{handoff_id}",
            lambda h: [(t["role"], t["text"]) for t in h["transcript"]][-1] == ("customer", "yes"),
        )
        # Before, the bot's follow-up form took that "yes": "Which e-mail address should we write to?"
        await customer.expect_silence(2.0)
        await customer.say("my address is pat@example.com, by the way")
        await alice.poll(
            f"/handoffs/{handoff_id}",
            lambda h: h["transcript"][-1]["text"] == "my address is pat@example.com, by the way",
        )
        await customer.expect_silence(1.0)
        story = (await alice.get(f"/handoffs/{handoff_id}")).json()
        assert "followup.requested" not in [e["kind"] for e in story["history"]]
        assert "email_follow_up" not in story["context"]
    finally:
        await customer.close()
        await alice.http.aclose()


async def test_a_customer_who_left_an_address_gets_the_engineers_reply_by_mail_too(stack: Stack) -> None:
    """Nobody online: the customer takes the e-mail follow-up. The engineer's reply reaches them in the chat
    and, through the service's follow-up mailer, by e-mail (the dev mailbox, as in `make run`)."""
    customer = Customer(stack.rasa_url)
    alice = Agent(stack, "alice")
    stack.create_user("lena", "lead")
    lead = Agent(stack, "lena")
    await customer.connect()
    try:
        await customer.say("I need a human please")
        _, told = await customer.wait_for(lambda t: "HD-" in t)
        assert "Would you also like an e-mail" in told, told
        number = re.search(r"HD-\d+", told).group(0)  # type: ignore[union-attr]
        await customer.say("yes")
        await customer.wait_for(lambda t: "Which e-mail address" in t)
        await customer.say("robin.mail@example.com")
        await customer.wait_for(lambda t: t.startswith("Done: we'll e-mail you"))
        conversation = await alice.get(f"/conversations/{customer.session_id}/handoff")
        handoff_id = conversation.json()["id"]
        assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
        answer = "Alice from L2: your printer queue is cleared, please print again."
        assert (await alice.post(f"/handoffs/{handoff_id}/messages", {"text": answer})).status_code == 201
        await customer.wait_for(lambda t: t == answer)

        deadline = time.monotonic() + 30
        while True:
            inbox = await lead.http.get("/api/v1/dev/mailbox", params={"to": "robin.mail@example.com"})
            assert inbox.status_code == 200, inbox.text
            replies = [m for m in inbox.json() if m["subject"] == f"Re: Your IT help desk ticket {number}"]
            if replies or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert len(replies) == 1, inbox.json()
        assert answer in replies[0]["body"]
        story = (await alice.get(f"/handoffs/{handoff_id}")).json()
        assert "followup.mailed" in [e["kind"] for e in story["history"]]
    finally:
        await customer.close()
        await alice.http.aclose()
        await lead.http.aclose()
