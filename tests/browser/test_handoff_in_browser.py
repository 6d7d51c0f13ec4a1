"""In a real browser: a customer asks the widget for a human, the console shows it live, the agent
replies, the customer sees it with the agent's name; L2 escalates, L3 hands the customer back to the
bot; and nothing anyone typed runs as script."""

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Route, expect

from tests.harness.stack import Stack

from .conftest import screenshot, script_errors
from .ui import Console, Widget

INJECTIONS = [
    '<img src=x onerror="window.__pwned = 1">',
    "<script>window.__pwned = 2</script>",
]
PWNED = "() => window.__pwned === undefined"


def test_customer_agent_round_trip(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    customer_context = browser.new_context(viewport={"width": 1100, "height": 780})
    agent_context = browser.new_context(viewport={"width": 1400, "height": 860})
    carol_context = browser.new_context(viewport={"width": 1400, "height": 860})
    customer_page, agent_page = customer_context.new_page(), agent_context.new_page()
    carol_page = carol_context.new_page()
    customer_errors, agent_errors = script_errors(customer_page), script_errors(agent_page)
    carol_errors = script_errors(carol_page)
    latencies: dict[str, float] = {}
    try:
        # The agent is watching the L2 queue before the customer arrives.
        console = Console(agent_page, stack).sign_in("alice")
        waiting = int(console.tab("l2").locator(".count").inner_text())

        widget = Widget(customer_page, stack).open()
        widget.say("hello")
        expect(widget.reply()).to_contain_text("help desk assistant")
        asked_at = widget.say("I want to talk to a human")
        told = widget.reply()
        expect(told).to_contain_text("in the queue")
        number = re.search(r"HD-\d+", told.inner_text())
        assert number, told.inner_text()
        expect(customer_page.get_by_role("status").filter(has_text="in the queue")).to_have_text(
            re.compile(rf"Ticket {number.group()}: .* You are number \d+ in the queue\.")
        )

        # The queue updates live (server-sent events): no reload, no click.
        item = console.queue_item(number.group())
        expect(item).to_be_visible(timeout=10_000)
        latencies["customer asks -> console shows the handoff"] = time.monotonic() - asked_at
        expect(console.tab("l2").locator(".count")).to_have_text(str(waiting + 1))
        expect(item.locator(".sla")).to_have_text(re.compile(r"left$"))

        # Keyboard: select the handoff (j/k), open it, claim it; the context panel shows what the bot learned.
        for _ in range(waiting + 1):
            if "selected" in (item.get_attribute("class") or ""):
                break
            agent_page.keyboard.press("j")
        agent_page.keyboard.press("Enter")
        expect(agent_page.locator("#detail-title")).to_contain_text(number.group())
        context = agent_page.get_by_role("complementary", name="What the bot learned")
        expect(context).to_contain_text("request_human")
        expect(context).to_contain_text("not verified")
        expect(console.transcript()).to_contain_text("I want to talk to a human")
        agent_page.keyboard.press("c")
        expect(agent_page.locator("#detail-title")).to_contain_text("assigned")

        # The agent replies; the customer sees it with the agent's name.
        reply = agent_page.get_by_label("Reply to the customer")
        expect(reply).to_be_focused()
        replied_at = time.monotonic()
        reply.fill("Hi, I'm Alice from L2. What's up?")
        reply.press("Control+Enter")
        agent_line = customer_page.locator(".msg.agent").last
        expect(agent_line).to_contain_text("Hi, I'm Alice from L2. What's up?")
        latencies["agent replies -> customer sees it"] = time.monotonic() - replied_at
        expect(agent_line.locator(".who")).to_have_text("alice · L2 engineer")
        expect(customer_page.locator("#hd-status")).to_have_text("With alice (L2 engineer)")

        # The network loses the answer to a reply: the console sends it again with the same
        # Idempotency-Key, the service recognises it, and the customer gets the line once.
        keys: list[str] = []

        def lose_first_answer(route: Route) -> None:
            keys.append(route.request.headers.get("idempotency-key", ""))
            if len(keys) == 1:
                route.fetch()  # the service writes the reply ...
                route.abort()  # ... and its answer never reaches the console
            else:
                route.continue_()

        agent_page.route("**/api/v1/handoffs/*/messages", lose_first_answer)
        reply.fill("Are you on the office network right now?")
        reply.press("Control+Enter")
        retried = customer_page.locator(".msg.agent", has_text="Are you on the office network")
        expect(retried).to_have_count(1)
        expect(
            console.transcript().locator(".line.agent", has_text="Are you on the office network")
        ).to_have_count(1)
        expect(reply).to_have_value("")  # the console took the retry's answer as success
        agent_page.unroute("**/api/v1/handoffs/*/messages")
        assert len(keys) == 2 and keys[0] and keys[0] == keys[1], keys
        agent_page.wait_for_timeout(1000)  # a duplicate would have arrived by now
        expect(retried).to_have_count(1)

        # What the customer writes appears in the console live; markup in it stays text.
        wrote_at = widget.say("my laptop does not see the office wifi")
        expect(console.transcript()).to_contain_text("my laptop does not see the office wifi")
        latencies["customer writes -> console shows it"] = time.monotonic() - wrote_at
        screenshot(agent_page, "console", tmp_path)
        screenshot(customer_page, "widget", tmp_path)
        for text in INJECTIONS:
            widget.say(text)
            expect(console.transcript().locator(".line.customer .text", has_text=text)).to_have_count(1)
        reply.fill('<b>bold?</b><img src=x onerror="window.__pwned = 3">')
        reply.press("Control+Enter")
        expect(customer_page.locator(".msg.agent .text").last).to_have_text(
            '<b>bold?</b><img src=x onerror="window.__pwned = 3">'
        )
        for page in (customer_page, agent_page):
            assert page.evaluate(PWNED), "markup from a chat message ran as script"
            assert page.locator(".log img, .transcript img, .log b, .transcript b").count() == 0

        # A reload keeps the conversation and the session: the next message still reaches the agent.
        session = widget.session_id()
        customer_page.reload()
        expect(customer_page.locator(".msg.agent").first).to_contain_text("Hi, I'm Alice")
        assert widget.session_id() == session
        widget.say("still there after a reload")
        expect(console.transcript()).to_contain_text("still there after a reload")

        # A private note, and up to L3 with it.
        agent_page.locator("body").click()
        agent_page.keyboard.press("n")
        note = agent_page.get_by_label("Add a private note (agents only)")
        expect(note).to_be_focused()
        note.fill("802.1X certificate missing")
        note.press("Control+Enter")
        expect(agent_page.locator(".notes")).to_contain_text("802.1X certificate missing")
        agent_page.locator("body").click()
        agent_page.keyboard.press("e")
        escalate = agent_page.get_by_role("dialog", name="Escalate")
        expect(escalate.get_by_label("To")).to_have_value("l3")
        escalate.get_by_label("Note for the next engineer").fill("needs the network team")
        escalate.get_by_role("button", name="Escalate").click()
        expect(agent_page.locator("#detail")).to_contain_text("l3 queue")  # out of alice's hands
        # The customer is told, and waits for an engineer again instead of being "with alice".
        expect(customer_page.locator(".msg.bot", has_text="has gone to our L3 engineers")).to_have_count(1)
        expect(customer_page.locator("#hd-status")).to_have_text("Waiting for an engineer")

        # Carol (L3) finds it with the whole story, claims it and hands the customer back to the bot.
        carol = Console(carol_page, stack).sign_in("carol")
        carol.queue_item(number.group()).click()
        expect(carol_page.locator(".notes")).to_contain_text("needs the network team")
        expect(carol.transcript()).to_contain_text("Hi, I'm Alice from L2")
        carol_page.get_by_role("button", name="Claim").click()
        expect(carol_page.locator("#detail-title")).to_contain_text("assigned")
        carol_page.locator("body").click()
        carol_page.keyboard.press("b")
        dialog = carol_page.get_by_role("dialog", name="Resolve")
        expect(dialog.get_by_label("Hand the customer back to the bot")).to_be_checked()
        dialog.get_by_role("button", name="Resolve").click()
        expect(carol_page.locator("#detail-title")).to_contain_text("resolved")
        expect(
            customer_page.locator(".msg.bot").filter(has_text="back with the virtual assistant")
        ).to_have_count(1)
        expect(customer_page.locator("#hd-status")).to_have_text("Virtual assistant")
        assert customer_errors == [] and agent_errors == [] and carol_errors == []
    finally:
        for name, seconds in latencies.items():
            print(f"latency {name}: {seconds * 1000:.0f} ms")
        for opened in (customer_context, agent_context, carol_context):
            opened.close()
