"""In a real browser: the engineer's replies written while the customer's chat was closed are there when
they come back (once each, all of them after a long absence), and a hand-back to the bot missed while away
shows as such, in the status and in the chat, with the bot's rating question, whose answer is stored."""

import re
import time
from datetime import datetime

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.harness.stack import Stack, service_rows

from .conftest import script_errors
from .ui import Widget

UNSENT = "SELECT id FROM outbox WHERE status != 'sent'"
RATED = "SELECT rating FROM ratings WHERE handoff_id = ?"


def _agent(stack: Stack, name: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{stack.helpdesk_url}/api/v1",
        headers={"Authorization": f"Bearer {stack.tokens[name]}"},
        timeout=10,
    )


def _handed_off(stack: Stack, context: BrowserContext, agent: httpx.Client) -> tuple[Page, list[str], int]:
    """A customer's chat that asked for a person, and the handoff the agent has claimed."""
    page = context.new_page()
    errors = script_errors(page)
    widget = Widget(page, stack).open()
    widget.say("I want to talk to a human")
    expect(widget.reply()).to_contain_text("in the queue")
    handoff_id = int(agent.get(f"/conversations/{widget.session_id()}/handoff").json()["id"])
    assert agent.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    return page, errors, handoff_id


def test_replies_written_while_the_chat_was_closed_are_shown_on_return(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 780})
    alice = _agent(stack, "alice")
    try:
        page, errors, handoff_id = _handed_off(stack, context, alice)
        page.close()

        # The customer is gone: Rasa has no one to push these to.
        for text in ("Alice from L2: I reset your VPN profile.", "Please reconnect when you are back."):
            assert alice.post(f"/handoffs/{handoff_id}/messages", json={"text": text}).status_code == 201

        page = context.new_page()
        errors += script_errors(page)
        Widget(page, stack).open()
        agent_lines = page.locator(".msg.agent")
        expect(agent_lines).to_have_count(2)
        expect(agent_lines.nth(0)).to_contain_text("I reset your VPN profile.")
        expect(agent_lines.nth(1)).to_contain_text("Please reconnect")
        expect(agent_lines.nth(0).locator(".who")).to_have_text("alice · L2 engineer")
        expect(page.locator("#hd-status")).to_have_text("With alice (L2 engineer)")

        # Live again: each new reply arrives once (the same words twice are two replies), and a reload
        # shows each reply once; live replies carry their id, the key of the catch-up.
        for _ in range(2):
            sent = alice.post(f"/handoffs/{handoff_id}/messages", json={"text": "Did it work?"})
            assert sent.status_code == 201
        expect(agent_lines).to_have_count(4)
        expect(agent_lines.nth(3)).to_contain_text("Did it work?")
        stored = page.evaluate("Object.values({...localStorage}).map((v) => JSON.parse(v))")
        ids = [m.get("replyId") for chat in stored for m in chat["messages"] if m["role"] == "agent"]
        assert len(ids) == 4 and all(isinstance(i, int) for i in ids) and len(set(ids)) == 4, ids
        page.reload()
        expect(page.locator("#helpdesk-widget")).to_be_attached()
        expect(page.locator("#hd-status")).to_have_text("With alice (L2 engineer)")
        page.wait_for_timeout(1500)  # time for a catch-up to add doubles, if it would
        expect(agent_lines).to_have_count(4)
        page.close()

        # A long absence: more replies than one answer of the service carries (50); all of them show.
        for n in range(1, 53):
            assert (
                alice.post(f"/handoffs/{handoff_id}/messages", json={"text": f"Update {n}"}).status_code
                == 201
            )
        # All handed to Rasa before the customer is back, so that none arrives live: the catch-up has them.
        deadline = time.monotonic() + 60
        while service_rows(stack, UNSENT) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service_rows(stack, UNSENT) == []
        page = context.new_page()
        errors += script_errors(page)
        Widget(page, stack).open()
        agent_lines = page.locator(".msg.agent")
        expect(agent_lines).to_have_count(56)
        expect(agent_lines.nth(4)).to_contain_text("Update 1")
        expect(agent_lines.nth(55)).to_contain_text("Update 52")
        page.close()

        # Handed back to the bot while the chat was closed: the status says so on return.
        resolved = alice.post(
            f"/handoffs/{handoff_id}/resolve", json={"resolution": "VPN profile reset", "return_to_bot": True}
        )
        assert resolved.status_code == 200, resolved.text
        page = context.new_page()
        errors += script_errors(page)
        Widget(page, stack).open()
        expect(page.locator("#hd-status")).to_have_text(re.compile("Virtual assistant"))
        # ... and the chat says so too, once, as it would have live.
        expect(page.locator(".msg.bot", has_text="handed you back to the virtual assistant")).to_have_count(1)
        expect(page.locator(".msg.agent")).to_have_count(56)
        # The bot asked for a rating when it took the chat back; this chat was away then, so it asks now,
        # and the answer is stored for this handoff, as a live answer would be.
        question = page.locator(".msg.bot", has_text="from 1 (poor) to 5 (great)")
        expect(question).to_have_count(1)
        expect(question.locator("button.choice")).to_have_text(["1", "2", "3", "4", "5"])
        question.get_by_role("button", name="4", exact=True).click()
        expect(page.locator(".msg.bot", has_text="Thanks for the feedback")).to_have_count(1)
        deadline = time.monotonic() + 10
        while not service_rows(stack, RATED, handoff_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service_rows(stack, RATED, handoff_id) == [(4,)]
        page.reload()
        expect(page.locator("#helpdesk-widget")).to_be_attached()
        page.wait_for_timeout(1500)  # time for a catch-up to add them again, if it would
        expect(page.locator(".msg.bot", has_text="handed you back to the virtual assistant")).to_have_count(1)
        expect(question).to_have_count(1)
        expect(question.locator("button.choice").first).to_be_disabled()
        assert errors == []
    finally:
        alice.close()
        context.close()


def test_an_escalation_or_release_shows_the_customer_waiting_again_live_or_on_return(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 780})
    alice, carol = _agent(stack, "alice"), _agent(stack, "carol")
    try:
        page, errors, handoff_id = _handed_off(stack, context, alice)
        assert alice.post(f"/handoffs/{handoff_id}/messages", json={"text": "Alice here."}).status_code == 201
        status = page.locator("#hd-status")
        expect(status).to_have_text("With alice (L2 engineer)")
        page.close()

        # Escalated while the chat was closed: on return it says so, and shows the customer waiting.
        escalated = alice.post(f"/handoffs/{handoff_id}/escalate", json={"tier": "l3"})
        assert escalated.status_code == 200, escalated.text
        page = context.new_page()
        errors += script_errors(page)
        Widget(page, stack).open()
        status = page.locator("#hd-status")
        notice = page.locator(".msg.bot", has_text="has gone to our L3 engineers")
        expect(notice).to_have_count(1)
        expect(status).to_have_text("Waiting for an engineer")
        banner = page.locator(".banner")
        expect(banner).to_have_text(f"Ticket HD-{handoff_id + 1000:05d}: an engineer will join you.")

        # Live: the L3 engineer takes it, then puts it back in the queue.
        assert carol.post(f"/handoffs/{handoff_id}/claim").status_code == 200
        assert carol.post(f"/handoffs/{handoff_id}/messages", json={"text": "Carol, L3."}).status_code == 201
        expect(status).to_have_text("With carol (L3 engineer)")
        assert carol.post(f"/handoffs/{handoff_id}/release").status_code == 200
        expect(page.locator(".msg.bot", has_text="back in the queue")).to_have_count(1)
        expect(status).to_have_text("Waiting for an engineer")
        expect(banner).to_contain_text(re.compile(r"You are number \d+ in the queue"))
        page.reload()
        expect(page.locator("#helpdesk-widget")).to_be_attached()
        page.wait_for_timeout(1500)  # time for a catch-up to add the notices again, if it would
        expect(notice).to_have_count(1)
        expect(page.locator(".msg.bot", has_text="back in the queue")).to_have_count(1)
        expect(status).to_have_text("Waiting for an engineer")
        assert errors == []
    finally:
        alice.close()
        carol.close()
        context.close()


def _instant(iso: str | None) -> datetime:
    assert iso, "no time"
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_caught_up_lines_keep_the_time_they_were_written_and_typing_past_the_rating_closes_it(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 780})
    alice = _agent(stack, "alice")
    try:
        page, errors, handoff_id = _handed_off(stack, context, alice)
        session = Widget(page, stack).session_id()
        page.close()
        assert (
            alice.post(f"/handoffs/{handoff_id}/messages", json={"text": "Alice: all fixed."}).status_code
            == 201
        )
        resolved = alice.post(
            f"/handoffs/{handoff_id}/resolve", json={"resolution": "Fixed", "return_to_bot": True}
        )
        assert resolved.status_code == 200, resolved.text
        deadline = time.monotonic() + 60
        while service_rows(stack, UNSENT) and time.monotonic() < deadline:
            time.sleep(0.1)
        # What the service says about when each was written: the widget shows those times, not its own.
        missed = httpx.get(
            f"{stack.helpdesk_url}/api/v1/widget/replies", params={"conversation_id": session}, timeout=10
        ).json()
        written = _instant(missed["replies"][-1]["at"])
        handed_back = _instant(missed["handed_back"]["at"])
        time.sleep(1.5)  # the customer comes back later: a time taken on arrival would differ

        page = context.new_page()
        errors += script_errors(page)
        widget = Widget(page, stack).open()
        reply = page.locator(".msg.agent", has_text="Alice: all fixed.")
        expect(reply).to_have_count(1)
        shown = _instant(reply.locator("time").get_attribute("datetime"))
        assert abs((shown - written).total_seconds()) < 0.002, (shown, written)
        question = page.locator(".msg.bot", has_text="from 1 (poor) to 5 (great)")
        expect(question).to_have_count(1)
        back = page.locator(".msg.bot", has_text="handed you back to the virtual assistant")
        for line in (back, question):
            shown = _instant(line.locator("time").get_attribute("datetime"))
            assert abs((shown - handed_back).total_seconds()) < 0.002, (shown, handed_back)
        for button in question.locator("button.choice").all():
            expect(button).to_be_enabled()

        # The customer types on instead of rating: the rating's buttons go off, readable.
        widget.say("thanks, all good now")
        expect(question.locator("button.choice")).to_have_text(["1", "2", "3", "4", "5"])
        for button in question.locator("button.choice").all():
            expect(button).to_be_disabled()
        assert errors == []
    finally:
        alice.close()
        context.close()
