"""Text that is not ordinary, typed by a customer in the widget and by an engineer in the
console, shows exactly as typed on both sides and stays harmless: a very long unbroken word wraps inside
its bubble (no sideways scrolling), a right-to-left override stays inside its own message, Markdown and
`javascript:` links stay text, a web link cannot smuggle an attribute, and nothing runs.

Markup and event handlers in chat messages: test_handoff_in_browser.py; in buttons: test_widget.py; in
articles: test_editor.py and test_markdown.py.
"""

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .ui import Console, Widget

PAYLOADS = [
    "w" * 2000,  # the most the widget lets a customer type, in one word
    "invoice\u202egpj.exe and the rest",
    "[click](javascript:window.__pwned=5) or javascript:window.__pwned=6",
    'see https://example.com/a"onmouseover="window.__pwned=7" now',
    "<a href=javascript:window.__pwned=8>link</a> ';-- \" OR 1=1",
]
CONFINED = """(element) => {
  const style = getComputedStyle(element);
  const isolated = ["isolate", "plaintext", "isolate-override"].includes(style.unicodeBidi);
  return style.display === "block" || isolated;
}"""


def assert_safe(page: Page, log_name: str) -> None:
    assert page.evaluate("() => window.__pwned === undefined"), "text from a message ran as script"
    assert page.locator("a[href^='javascript:' i], [onmouseover], [onclick]").count() == 0
    for href in page.locator("a[href]").evaluate_all("(links) => links.map((a) => a.href)"):
        assert href.startswith(("http://", "https://")) and '"' not in href and "onmouseover" not in href, (
            href
        )
    log = page.get_by_role("log", name=log_name)
    assert log.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1"), f"{log_name} scrolls sideways"
    for text in log.locator(".text").all():
        assert text.evaluate(CONFINED), "a message's bidi override could reach past its own bubble"


def test_odd_text_shows_as_typed_in_the_widget_and_the_console(stack: Stack, browser: Browser) -> None:
    customer_context = browser.new_context(viewport={"width": 1100, "height": 780})
    agent_context = browser.new_context(viewport={"width": 1400, "height": 860})
    customer_page, agent_page = customer_context.new_page(), agent_context.new_page()
    customer_errors, agent_errors = script_errors(customer_page), script_errors(agent_page)
    try:
        widget = Widget(customer_page, stack).open()
        widget.say("I want to talk to a human")
        told = widget.reply()
        expect(told).to_contain_text("HD-")
        number = re.search(r"HD-\d+", told.inner_text())
        assert number, told.inner_text()
        handoff_id = int(number.group()[3:]) - 1000
        claimed = httpx.post(
            f"{stack.helpdesk_url}/api/v1/handoffs/{handoff_id}/claim",
            headers={"Authorization": f"Bearer {stack.tokens['alice']}"},
            timeout=30,
        )
        assert claimed.status_code == 200, claimed.text

        for text in PAYLOADS:
            widget.say(text)
            expect(customer_page.locator(".msg.customer .text").last).to_have_text(text)

        console = Console(agent_page, stack).sign_in("alice")  # the token stays for this tab's session
        agent_page.goto(f"{stack.helpdesk_url}/console#handoff-{handoff_id}")
        agent_page.reload()  # the console opens the handoff named in the address when it starts
        expect(agent_page.locator("#detail-title")).to_contain_text(number.group())
        expect(agent_page.locator("#detail-title")).to_contain_text("assigned")
        transcript = console.transcript()
        for text in PAYLOADS:
            expect(transcript.locator(".line.customer .text").filter(has_text=text[:40])).to_have_count(1)
        shown = transcript.locator(".line.customer .text").all_inner_texts()
        for text in PAYLOADS:
            assert shown.count(text) == 1, (text[:40], shown[-6:])

        reply = agent_page.get_by_label("Reply to the customer")
        for text in PAYLOADS:
            reply.fill(text)
            reply.press("Control+Enter")
            expect(customer_page.locator(".msg.agent .text").last).to_have_text(text)
        assert customer_page.locator(".msg.agent .text").all_inner_texts() == PAYLOADS

        assert_safe(customer_page, "Conversation")
        assert_safe(agent_page, "Transcript")
        assert customer_errors == [] and agent_errors == []
    finally:
        customer_context.close()
        agent_context.close()
