"""An editor publishes an article and the widget's answer to the same question changes: no retraining,
no restart. The bot answers a problem from the knowledge base first (bot/actions/kb.py)."""

import uuid

from playwright.sync_api import Browser, expect

from tests.harness.stack import Stack

from .ui import Editor, Widget


def test_publishing_an_article_changes_the_widgets_answer(stack: Stack, browser: Browser) -> None:
    word = f"quuxifier{uuid.uuid4().hex[:6]}"
    question = f"the {word} app on my laptop is broken and will not start"
    title = f"The {word} app will not start"
    staff = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        before = ask_a_new_customer(stack, browser, question)
        assert word not in before, before

        editor = Editor(staff.new_page(), stack).sign_in("erin")
        page = editor.page
        page.get_by_role("button", name="New article").click()
        page.get_by_label("Title").fill(title)
        steps = [f"Quit {word} from the tray icon.", "Start it again from the Start menu."]
        page.get_by_label("Summary").fill(" ".join(steps))
        page.get_by_label("Body (Markdown)").fill(f"## {word} does not open\n\n1. {steps[0]}\n2. {steps[1]}")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator("#article-meta .pill")).to_have_text("published")
        editor.ask_bot_until(question, title)

        after = ask_a_new_customer(stack, browser, question)
        assert word in after and after != before, after
    finally:
        staff.close()


def ask_a_new_customer(stack: Stack, browser: Browser, question: str) -> str:
    """What the bot answers a customer who opens the chat and asks `question` first thing."""
    customer = browser.new_context()
    try:
        widget = Widget(customer.new_page(), stack).open()
        widget.say(question)
        return widget.reply().inner_text()
    finally:
        customer.close()
