"""An editor publishes an article and the widget's answer to the same question changes: no retraining,
no restart. Needs the bot's knowledge-base answer action; skipped (with the reason) until the bot has one.
"""

import re
import uuid

import pytest
import yaml
from playwright.sync_api import Browser, expect

from tests.e2e.stack import BOT_DIR, Stack

from .ui import Editor, Widget


def bot_answers_from_the_knowledge_base() -> bool:
    domain = yaml.safe_load((BOT_DIR / "domain.yml").read_text()) or {}
    actions = [str(action) for action in domain.get("actions", [])]
    return any(re.search(r"kb|knowledge|article", action) for action in actions)


@pytest.mark.skipif(
    not bot_answers_from_the_knowledge_base(),
    reason="the bot has no knowledge-base answer action yet (bot/domain.yml lists none)",
)
def test_publishing_an_article_changes_the_widgets_answer(stack: Stack, browser: Browser) -> None:
    word = f"quuxifier{uuid.uuid4().hex[:6]}"
    question = f"how do I reset the {word} badge reader?"
    title = f"Reset the {word} badge reader"
    customer = browser.new_context()
    staff = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        widget = Widget(customer.new_page(), stack).open()
        widget.say(question)
        before = widget.reply().inner_text()
        assert title not in before

        editor = Editor(staff.new_page(), stack).sign_in("erin")
        page = editor.page
        page.get_by_role("button", name="New article").click()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Body (Markdown)").fill(
            f"Hold the {word} badge reader's reset button for ten seconds until the light turns green."
        )
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator("#article-meta .pill")).to_have_text("published")

        widget.say(question)
        after = widget.reply()
        expect(after).to_contain_text(re.compile(rf"{word}|ten seconds", re.IGNORECASE))
        assert after.inner_text() != before
    finally:
        customer.close()
        staff.close()
