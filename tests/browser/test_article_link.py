"""A knowledge-base answer in the widget, as a customer reads it: the article's title in bold, its link in
words ("Open the article", in a new tab), and the article page it opens: styled, with the help desk's
name, the steps and what each looks like when it worked, and a way back to the page with the chat."""

import re
import uuid

import httpx
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .test_widget import push_bot_message
from .ui import Widget

NOT_LOADED_FROM_HERE = """(origin) => performance.getEntriesByType("resource")
  .map((entry) => entry.name).filter((url) => !url.startsWith(origin))"""


def test_an_article_answer_reads_well_and_its_link_opens_the_article(stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    console: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" and message.page and "/kb/" in message.page.url:
            console.append(message.text)

    context.on("console", note)  # a style the article page's CSP refused would show here
    try:
        page = context.new_page()
        errors = script_errors(page)
        widget = Widget(page, stack).open()
        widget.say("my VPN keeps dropping every few minutes")
        answer = page.locator(".msg.bot").filter(has=page.get_by_role("link", name="Open the article"))
        expect(answer).to_have_count(1, timeout=30_000)
        link = answer.get_by_role("link", name="Open the article")
        expect(link).to_have_attribute(
            "href", re.compile(rf"^{re.escape(stack.helpdesk_url)}/kb/[a-z0-9-]+$")
        )
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        text = answer.locator(".text").inner_text()
        assert "http" not in text and "More:" not in text, text

        # The first line is the article's title, in bold; nothing else in the chat is.
        title = answer.locator(".text strong.title")
        expect(title).to_have_count(1)
        assert title.inner_text() == text.splitlines()[0]
        assert title.evaluate("(el) => Number(getComputedStyle(el).fontWeight)") >= 700
        expect(page.locator(".msg strong")).to_have_count(1)
        bot_text = "Checked three things\nthe cable\nthe dock"
        push_bot_message(stack, widget.session_id(), {"event": "bot", "text": bot_text})
        expect(page.locator(".msg.bot .text", has_text="Checked three things")).to_have_text(bot_text)
        expect(page.locator(".msg strong")).to_have_count(1)
        # The bot's German answer reads the same way, in German.
        german = (
            f"Konto gesperrt\nSo entsperren Sie es.\nMehr dazu: {stack.helpdesk_url}/kb/account-locked-out-de"
        )
        push_bot_message(stack, widget.session_id(), {"event": "bot", "text": german})
        german_answer = page.locator(".msg.bot", has_text="So entsperren Sie es.")
        expect(german_answer.locator("strong.title")).to_have_text("Konto gesperrt")
        expect(german_answer.get_by_role("link", name="Artikel öffnen")).to_have_attribute(
            "href", f"{stack.helpdesk_url}/kb/account-locked-out-de"
        )
        assert "http" not in german_answer.locator(".text").inner_text()

        with context.expect_page() as opened:
            link.click()
        article = opened.value
        article.wait_for_load_state()
        assert article.url == link.get_attribute("href")
        assert article.evaluate("document.documentElement.lang") == "en"
        heading = article.get_by_role("heading", level=1)
        expect(heading).to_have_text(title.inner_text())
        expect(article).to_have_title(f"{title.inner_text()} · IT help desk")
        expect(article.get_by_role("banner")).to_contain_text("IT help desk")
        expect(article.locator(".summary")).to_be_visible()
        # Styled, from the page itself: a readable column, nothing fetched from anywhere else.
        main = article.locator("main").bounding_box()
        assert main and 480 <= main["width"] <= 820 and main["x"] > 100, main
        size = heading.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)")
        assert size >= 24, size
        assert article.evaluate(NOT_LOADED_FROM_HERE, stack.helpdesk_url) == []
        assert article.locator("script, link[rel=stylesheet]").count() == 0

        # Back goes to the page the customer came from: the one with the chat.
        back = article.get_by_role("link", name="Back")
        expect(back).to_have_attribute("href", f"{stack.helpdesk_url}/demo")
        back.click()
        expect(article).to_have_url(f"{stack.helpdesk_url}/demo")
        expect(article.locator("#helpdesk-widget")).to_be_attached()
        assert errors == [] and console == [], (errors, console)
    finally:
        context.close()


def test_the_article_page_numbers_the_steps_and_shows_their_checks(stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        errors = script_errors(page)
        page.goto(f"{stack.helpdesk_url}/kb/account-locked-out")
        steps = page.get_by_role("region", name="Steps").locator("ol > li")
        expect(steps.first).to_be_visible()
        assert steps.count() >= 3
        assert page.locator("ol.steps").evaluate("(el) => getComputedStyle(el).listStyleType") == "decimal"
        for step in steps.all():
            expect(step.locator(".check")).to_contain_text("When it worked:")
        # A phone: the text fills the screen, without sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # A German article speaks German around it too.
        page.goto(f"{stack.helpdesk_url}/kb/account-locked-out-de")
        assert page.evaluate("document.documentElement.lang") == "de"
        expect(page.get_by_role("region", name="Schritte")).to_be_visible()
        expect(page.locator(".check").first).to_contain_text("Wenn es geklappt hat:")
        expect(page.get_by_role("banner")).to_contain_text("IT-Service-Desk")

        # What an editor writes stays text.
        word = uuid.uuid4().hex[:8]
        hostile = {
            "title": f'<img src=x onerror="window.__pwned = 11">Printer {word}',
            "summary": "**Bold** and <script>window.__pwned = 12</script>",
            "body": '## Details\n\n<img src=x onerror="window.__pwned = 13"> and `code`',
            "steps": [{"instruction": "<b>Click</b> it", "check": '<a href="javascript:alert(1)">ok</a>'}],
            "category": "hardware",
            "tags": ["printer"],
            "status": "published",
        }
        created = httpx.post(
            f"{stack.helpdesk_url}/api/v1/kb/articles",
            json=hostile,
            headers={"Authorization": f"Bearer {stack.tokens['erin']}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        page.goto(f"{stack.helpdesk_url}/kb/{created.json()['id']}")
        expect(page.get_by_role("heading", level=1)).to_have_text(hostile["title"])
        expect(page).to_have_title(f"{hostile['title']} · IT help desk")
        expect(page.locator(".summary strong")).to_have_text("Bold")
        expect(page.locator(".steps li").first).to_contain_text("<b>Click</b> it")
        assert page.locator("main img, main script, main b, main a").count() == 0
        assert page.evaluate("() => window.__pwned === undefined")
        assert errors == []
    finally:
        context.close()
