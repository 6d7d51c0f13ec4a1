"""What a customer meets in the chat, as a person uses it: the greeting that opens a new conversation,
buttons that go off once the conversation has moved past them, choosing one by keyboard, the newest
message in view above the ticket banner, the time of every message, and the launcher's icon."""

import re
import time

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, WebSocketRoute, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .test_widget import push_bot_message
from .ui import Widget

QUICK_STARTS = [
    "Reset my password",
    "Unlock my account",
    "Set up a device or app",
    "Something isn't working",
    "Talk to a person",
]
# The ring a focused element draws, or None without one.
FOCUS_RING = """(element) => {
  const style = getComputedStyle(element);
  return style.outlineStyle === "none" ? null : parseFloat(style.outlineWidth);
}"""


def bot_asks(stack: Stack, widget: Widget, text: str, titles: list[str]) -> Locator:
    """The bot asks `text` with a button per title (payloads the bot understands); returns the message."""
    buttons = [{"title": title, "payload": "/greet"} for title in titles]
    push_bot_message(stack, widget.session_id(), {"event": "bot", "text": text, "data": {"buttons": buttons}})
    message = widget.page.locator(".msg.bot", has_text=text).last
    expect(message.locator("button.choice")).to_have_count(len(titles))
    return message


def bot_says(stack: Stack, widget: Widget, text: str) -> None:
    push_bot_message(stack, widget.session_id(), {"event": "bot", "text": text})
    expect(widget.page.locator(".msg.bot", has_text=text.splitlines()[0])).to_have_count(1)


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found, f"{locator} is not on screen"
    return found


def expect_off(buttons: Locator, titles: list[str]) -> None:
    """Buttons the conversation has moved past: still readable, visibly off, and a click sends nothing."""
    expect(buttons).to_have_text(titles)
    for button in buttons.all():
        expect(button).to_be_disabled()
        assert button.evaluate("(b) => getComputedStyle(b).cursor") == "not-allowed"


def test_a_new_conversation_opens_with_the_widgets_greeting_and_quick_starts(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    try:
        # No Rasa at all: the socket is held open and never answers. The greeting is the widget's own.
        page = context.new_page()
        errors = script_errors(page)
        page.route_web_socket(re.compile(r"/socket\.io/"), lambda ws: None)
        Widget(page, stack).open()
        greeting = page.locator(".msg.bot")
        expect(greeting).to_have_count(1)
        expect(greeting).to_contain_text("virtual assistant")
        quick = page.get_by_role("group", name="Common requests").get_by_role("button")
        expect(quick).to_have_text(QUICK_STARTS)
        for button in quick.all():
            expect(button).to_be_enabled()
        expect(page.locator("#hd-status")).to_have_text("Virtual assistant")  # not "Reconnecting…"
        page.close()

        # The same browser later, with the bot there: the conversation resumes, with no second greeting.
        page = context.new_page()
        errors += script_errors(page)
        widget = Widget(page, stack).open()
        expect(page.locator(".msg")).to_have_count(1)
        quick = page.get_by_role("group", name="Common requests").get_by_role("button")
        widget.seen = widget.messages.count() + 1
        quick.get_by_text("Unlock my account").click()
        expect(page.locator(".msg.customer .text").last).to_have_text("Unlock my account")
        # The payload reached the bot as its intent: it asks for the account to unlock.
        expect(widget.reply()).to_contain_text(re.compile(r"user ?name|e-mail|account", re.I))
        expect(widget.input).to_be_focused()
        expect_off(quick, QUICK_STARTS)
        page.reload()
        expect(page.locator("#helpdesk-widget")).to_be_attached()
        expect(page.locator(".msg.customer")).to_have_count(1)
        expect(page.locator(".msg", has_text="virtual assistant")).to_have_count(1)
        expect_off(page.get_by_role("group", name="Common requests").get_by_role("button"), QUICK_STARTS)
        assert errors == []
    finally:
        context.close()


def test_a_german_page_is_greeted_in_german_and_says_so_to_the_bot(stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 820}, locale="de-DE")
    try:
        page = context.new_page()
        sent: list[str] = []

        def listen(ws: WebSocketRoute) -> None:
            server = ws.connect_to_server()
            ws.on_message(lambda message: (sent.append(str(message)), server.send(message)))

        page.route_web_socket(re.compile(r"/socket\.io/"), listen)
        widget = Widget(page, stack).open()
        expect(page.locator(".msg.bot").first).to_contain_text("virtuelle Assistent")
        # The widget's own words too, from its catalogue.
        expect(page.get_by_role("button", name="Senden")).to_be_visible()
        expect(page.get_by_label("Ihre Nachricht")).to_have_attribute("placeholder", "Nachricht eingeben…")
        expect(page.get_by_role("log", name="Unterhaltung")).to_be_visible()
        quick = page.get_by_role("group", name="Häufige Anliegen").get_by_role("button")
        expect(quick).to_have_count(5)
        widget.seen = widget.messages.count() + 1
        quick.get_by_text("Mit einer Person sprechen").click()
        expect(widget.reply()).to_contain_text("HD-")  # the payload, the same in every language
        expect(page.locator(".banner")).to_contain_text("HD-")  # the queue line read in either language
        uttered = [m for m in sent if '"user_uttered"' in m]
        assert uttered and all('"language":"de"' in m for m in uttered), uttered
    finally:
        context.close()


def test_the_switch_changes_the_widget_and_the_bots_language(stack: Stack, browser: Browser) -> None:
    """A customer on a German browser who prefers English: one click, and the widget and the bot speak
    English, also to a message that reads German."""
    context = browser.new_context(viewport={"width": 1280, "height": 820}, locale="de-DE")
    try:
        page = context.new_page()
        errors = script_errors(page)
        widget = Widget(page, stack).open()
        expect(page.locator(".msg.bot").first).to_contain_text("virtuelle Assistent")
        page.get_by_role("button", name="Switch to English").click()
        # Only the greeting so far: greeted again, in English; the widget's words follow.
        expect(page.locator(".msg.bot")).to_have_count(1)
        expect(page.locator(".msg.bot").first).to_contain_text("virtual assistant")
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        expect(page.locator("#hd-status")).to_have_text("Virtual assistant")
        expect(page.get_by_role("button", name="Auf Deutsch wechseln")).to_have_text("Deutsch")
        expect(widget.input).to_be_focused()

        widget.say("Ich habe mein Passwort vergessen und komme nicht mehr rein")
        expect(widget.reply()).to_contain_text("password")  # English, as chosen
        page.reload()  # the choice is part of the conversation kept in the browser
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        assert errors == []
    finally:
        context.close()


def test_buttons_go_off_once_the_conversation_moves_on(stack: Stack, page: Page) -> None:
    errors = script_errors(page)
    widget = Widget(page, stack).open()
    widget.say("hello")
    expect(widget.reply()).to_contain_text("help desk assistant")
    # Typing past the greeting's quick starts turned them off.
    expect_off(page.get_by_role("group", name="Common requests").get_by_role("button"), QUICK_STARTS)

    # A guide's question the customer leaves unanswered: the bot's next message turns it off.
    guide = bot_asks(stack, widget, "Step 1 of 3: did that work?", ["Yes", "No"])
    for button in guide.locator("button.choice").all():
        expect(button).to_be_enabled()
    bot_says(stack, widget, "Let's try something else.")
    expect_off(guide.locator("button.choice"), ["Yes", "No"])
    sent = page.locator(".msg.customer").count()
    guide.get_by_role("button", name="Yes").click(force=True)
    page.wait_for_timeout(300)
    expect(page.locator(".msg.customer")).to_have_count(sent)

    # A rating the customer types past: whatever they send turns it off.
    rating = bot_asks(stack, widget, "How did I do?", ["1", "2", "3", "4", "5"])
    widget.say("my printer is jammed")
    expect_off(rating.locator("button.choice"), ["1", "2", "3", "4", "5"])

    # ... and so after a reload.
    page.reload()
    expect(page.locator("#helpdesk-widget")).to_be_attached()
    for message in (guide, rating):
        for button in message.locator("button.choice").all():
            expect(button).to_be_disabled()
    assert errors == []


def test_buttons_are_chosen_by_keyboard_and_typing_goes_on(stack: Stack, page: Page) -> None:
    errors = script_errors(page)
    widget = Widget(page, stack).open()
    widget.say("hello")
    expect(widget.reply()).to_contain_text("help desk assistant")
    question = bot_asks(stack, widget, "Shall I greet you again?", ["Greet me", "Not now"])

    # Back from the message box, the keyboard reaches the newest buttons (the greeting's are off).
    widget.input.focus()
    page.keyboard.press("Shift+Tab")
    last = question.get_by_role("button", name="Not now")
    expect(last).to_be_focused()
    page.keyboard.press("Shift+Tab")
    first = question.get_by_role("button", name="Greet me")
    expect(first).to_be_focused()
    ring = first.evaluate(FOCUS_RING)
    assert ring is not None and ring >= 2, f"no visible focus ring on a focused button: {ring}"

    # Space chooses it; the keyboard is back in the message box, ready to type.
    widget.seen = widget.messages.count() + 1
    page.keyboard.press("Space")
    expect(page.locator(".msg.customer .text").last).to_have_text("Greet me")
    expect(widget.input).to_be_focused()
    expect(widget.reply()).to_contain_text("help desk assistant")  # the payload reached the bot
    expect_off(question.locator("button.choice"), ["Greet me", "Not now"])
    page.keyboard.type("typed right after")
    expect(widget.input).to_have_value("typed right after")

    # Tab forward from the header, and Enter: the same.
    question = bot_asks(stack, widget, "One more?", ["Yes, once more"])
    page.get_by_role("button", name="Minimise chat").focus()
    page.keyboard.press("Tab")  # the conversation itself (scrollable by keyboard)
    page.keyboard.press("Tab")
    expect(question.get_by_role("button", name="Yes, once more")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".msg.customer .text").last).to_have_text("Yes, once more")
    expect(widget.input).to_be_focused()
    assert errors == []


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (390, 844)], ids=["desktop", "phone"])
def test_the_newest_message_is_in_view_above_the_ticket_banner(
    stack: Stack, browser: Browser, width: int, height: int
) -> None:
    phone = width < 500
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    try:
        page = context.new_page()
        widget = Widget(page, stack).open()
        widget.say("hello")
        expect(widget.reply()).to_contain_text("help desk assistant")
        # Enough conversation that the log scrolls.
        for n in range(1, 5):
            bot_says(stack, widget, f"Note {n}: " + "a long line of the conversation so far, " * 5)
        widget.say("I want to talk to a human")
        expect(widget.reply()).to_contain_text("in the queue")
        newest = page.locator(".msg").last
        banner = page.locator(".banner")
        expect(banner).to_be_visible()

        log, composer = page.get_by_role("log", name="Conversation"), page.locator("form.composer")
        assert log.evaluate("(el) => el.scrollHeight > el.clientHeight"), "the log should scroll here"
        deadline = time.monotonic() + 3
        while True:
            b, lg, msg, form = (box(part) for part in (banner, log, newest, composer))
            seen = {
                "banner above the log": b["y"] + b["height"] <= lg["y"] + 0.5,
                "log above the message box": lg["y"] + lg["height"] <= form["y"] + 0.5,
                "newest message starts in the log": msg["y"] >= lg["y"] - 0.5,
                "newest message ends in the log": msg["y"] + msg["height"] <= lg["y"] + lg["height"] + 0.5,
            }
            if all(seen.values()) or time.monotonic() > deadline:
                break
            page.wait_for_timeout(100)
        assert all(seen.values()), (seen, b, lg, msg, form)
    finally:
        context.close()


def test_every_message_shows_its_time(stack: Stack, page: Page) -> None:
    widget = Widget(page, stack).open()
    widget.say("hello")
    expect(widget.reply()).to_contain_text("help desk assistant")
    times = page.locator(".msg time")
    expect(times).to_have_count(page.locator(".msg").count())
    shown = times.evaluate_all(
        """(times) => times.map((t) => ({
          text: t.textContent,
          expected: new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(new Date(t.dateTime)),
          title: t.title,
          year: String(new Date(t.dateTime).getFullYear()),
          age: Date.now() - Date.parse(t.dateTime),
        }))"""
    )
    for stamp in shown:
        assert stamp["text"] == stamp["expected"], stamp
        assert re.fullmatch(r"\d{1,2}:\d{2}(\s?[AP]M)?", stamp["text"]), stamp
        assert stamp["year"] in stamp["title"], stamp  # the whole date on hover
        assert 0 <= stamp["age"] < 120_000, stamp
    assert times.nth(1).evaluate("(t) => t.closest('.msg').classList.contains('customer')")


def test_the_launcher_draws_its_icon(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.helpdesk_url}/demo")
    launcher = page.get_by_role("button", name="Chat with IT help desk", exact=True)
    expect(launcher).to_be_visible()
    icon = launcher.locator("svg")
    expect(icon).to_be_visible()
    expect(icon).to_have_attribute("aria-hidden", "true")
    box = icon.bounding_box()
    assert box and box["width"] >= 16 and box["height"] >= 16, box
    # No emoji left, which shows as an empty box where no emoji font is installed.
    text = launcher.inner_text()
    assert not re.search(r"[\U0001F000-\U0001FAFF\u2600-\u27BF]", text), text
