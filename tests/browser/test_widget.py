"""The widget on its own: buttons, keyboard, contrast, a phone's screen, and how the pages are served."""

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .ui import Widget

# WCAG relative luminance and contrast ratio of an element's text against its own background.
CONTRAST = """(element) => {
  const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const channel = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  const lum = (rgb) => rgb.map(channel).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const style = getComputedStyle(element);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def push_bot_message(stack: Stack, session_id: str, event: dict[str, object]) -> None:
    """What Rasa sends when an action utters buttons: pushed over the customer's socket.io channel."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{session_id}/tracker/events",
        params={"token": stack.rasa_token, "execute_side_effects": "true", "output_channel": "latest"},
        json=[event],
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_buttons_send_their_payload_by_keyboard(stack: Stack, page: Page) -> None:
    errors = script_errors(page)
    widget = Widget(page, stack).open()
    widget.say("hello")
    expect(widget.reply()).to_contain_text("help desk assistant")
    push_bot_message(
        stack,
        widget.session_id(),
        {
            "event": "bot",
            "text": "Shall I greet you again?",
            "data": {
                "buttons": [
                    {"title": "Greet me", "payload": "/greet"},
                    {"title": '<img src=x onerror="window.__pwned = 4">', "payload": "/deny"},
                ]
            },
        },
    )
    choices = page.get_by_role("group", name="Suggested replies")
    expect(choices.get_by_role("button")).to_have_count(2)
    expect(choices.get_by_role("button").nth(1)).to_have_text('<img src=x onerror="window.__pwned = 4">')
    choices.get_by_role("button", name="Greet me").focus()
    widget.seen = widget.messages.count() + 1
    page.keyboard.press("Enter")
    expect(page.locator(".msg.customer .text").last).to_have_text("Greet me")  # the title, not "/greet"
    expect(widget.reply()).to_contain_text("help desk assistant")  # the payload reached the bot
    expect(choices.get_by_role("button", name="Greet me")).to_be_disabled()
    assert page.evaluate("() => window.__pwned === undefined")
    assert errors == []


def test_keyboard_focus_and_contrast(stack: Stack, page: Page) -> None:
    widget = Widget(page, stack).open()
    widget.say("hello")
    expect(widget.reply()).to_be_visible()
    # Escape minimises the chat and gives focus back to the launcher; Enter on it opens it again.
    page.keyboard.press("Escape")
    launcher = page.get_by_role("button", name="Chat with IT help desk")
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(widget.input).to_be_focused()
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("hello")
    expect(page.get_by_role("dialog", name="IT help desk")).to_be_visible()
    for selector in (".msg.customer .text", ".msg.bot .text", ".send", "header"):
        ratio = page.locator(selector).first.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} is below WCAG AA"


def test_usable_on_a_phone(stack: Stack, browser: Browser) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = phone.new_page()
        widget = Widget(page, stack)
        page.goto(f"{stack.helpdesk_url}/demo")
        page.get_by_role("button", name="Chat with IT help desk").tap()
        panel = page.get_by_role("dialog", name="IT help desk").bounding_box()
        assert panel and panel["width"] == 390 and panel["height"] == 844, panel
        widget.say("hello")
        expect(widget.reply()).to_contain_text("help desk assistant")
        send = page.get_by_role("button", name="Send").bounding_box()
        assert send and send["height"] >= 44, "touch targets are at least 44 px high"
    finally:
        phone.close()


def test_pages_and_assets_are_served_safely(stack: Stack) -> None:
    base = stack.helpdesk_url
    script = httpx.get(f"{base}/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["access-control-allow-origin"] == "*"
    module = httpx.get(f"{base}/web/widget/widget.mjs")
    assert module.status_code == 200 and module.headers["access-control-allow-origin"] == "*"
    for path in (
        "/web/%2e%2e/api/routes/pages.py",
        "/web/..%2Fmain.py",
        "/web/nope.js",
        "/web/",
        "/web/demo.html",
    ):
        assert httpx.get(f"{base}{path}").status_code == 404, path
    for path in ("/console", "/editor"):
        page = httpx.get(f"{base}{path}")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    demo = httpx.get(f"{base}/demo")
    assert f'data-rasa-url="{stack.rasa_url}"' in demo.text
    assert stack.rasa_url.replace("http://", "ws://") in demo.headers["content-security-policy"]


def test_a_conversation_left_for_half_a_day_starts_afresh(stack: Stack, page: Page) -> None:
    """At a shared computer the next person must not read, or continue, the last one's chat."""
    widget = Widget(page, stack).open()
    widget.say("my laptop is JD-042")
    expect(widget.reply()).to_be_visible()
    first = widget.session_id()
    page.reload()
    Widget(page, stack).open()
    expect(page.locator(".msg.customer .text").first).to_have_text("my laptop is JD-042")
    assert widget.session_id() == first, "a reload keeps the conversation"

    # Thirteen hours without a word.
    page.evaluate(
        """() => {
            for (const key of Object.keys(localStorage).filter((k) => k.startsWith("helpdesk-widget:"))) {
                const saved = JSON.parse(localStorage.getItem(key));
                saved.savedAt = Date.now() - 13 * 60 * 60 * 1000;
                localStorage.setItem(key, JSON.stringify(saved));
            }
        }"""
    )
    page.reload()
    Widget(page, stack).open()
    expect(page.locator(".msg.customer")).to_have_count(0)
    assert widget.session_id() != first
