"""The engineer sees the conversation's language before answering: a German customer's handoff is marked
DE in the queue and "Deutsch" in the handoff's header and the customer panel, an English one EN."""

import re

from playwright.sync_api import Browser, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .ui import Console, Widget


def handed_over(widget: Widget, text: str) -> str:
    widget.say(text)
    # The ticket number may come after a line of its own (in German, the greeting in the customer's words).
    told = widget.page.locator(".msg.bot", has_text=re.compile(r"HD-\d+")).last
    expect(told).to_be_visible(timeout=30_000)
    number = re.search(r"HD-\d+", told.inner_text())
    assert number, told.inner_text()
    return number.group()


def test_the_queue_and_the_context_name_the_customers_language(stack: Stack, browser: Browser) -> None:
    german_context = browser.new_context(viewport={"width": 1100, "height": 780})
    english_context = browser.new_context(viewport={"width": 1100, "height": 780})
    agent_context = browser.new_context(viewport={"width": 1400, "height": 860})
    agent_page = agent_context.new_page()
    errors = script_errors(agent_page)
    try:
        german = handed_over(
            Widget(german_context.new_page(), stack).open(), "Ich möchte bitte mit einem Mitarbeiter sprechen"
        )
        english = handed_over(Widget(english_context.new_page(), stack).open(), "I want to talk to a human")

        console = Console(agent_page, stack).sign_in("alice")
        expect(console.queue_item(german).locator(".lang")).to_have_text("DE")
        expect(console.queue_item(german).locator(".lang")).to_have_attribute("title", "Deutsch")
        expect(console.queue_item(english).locator(".lang")).to_have_text("EN")

        console.queue_item(german).click()
        expect(agent_page.locator("#detail-title")).to_contain_text(german)
        expect(agent_page.locator(".detail-head .meta")).to_contain_text("Deutsch")
        customer_panel = agent_page.locator("section[aria-labelledby='ctx-customer']")
        expect(customer_panel).to_contain_text("Language")
        expect(customer_panel).to_contain_text("Deutsch")
        assert errors == []
    finally:
        for context in (german_context, english_context, agent_context):
            context.close()
