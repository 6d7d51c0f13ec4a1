"""Page objects: what a customer, an agent and an editor do, in the words of the pages' labels."""

import re
import time
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

from tests.harness.stack import Stack


@dataclass
class Widget:
    page: Page
    stack: Stack
    seen: int = field(default=0)

    def open(self, path: str = "/demo") -> "Widget":
        self.page.goto(f"{self.stack.helpdesk_url}{path}")
        expect(self.page.locator("#helpdesk-widget")).to_be_attached()  # mounted: open or closed now
        # In the page's language: English, or German on a German browser.
        launcher = self.page.get_by_role("button", name=re.compile(r"^Chat (with|mit) IT help desk$"))
        if launcher.is_visible():
            launcher.click()
        expect(self.input).to_be_focused()
        return self

    @property
    def input(self) -> Locator:
        return self.page.get_by_label(re.compile(r"^(Your message|Ihre Nachricht)$"))

    @property
    def messages(self) -> Locator:
        return self.page.locator(".msg")

    def say(self, text: str) -> float:
        self.input.fill(text)
        self.seen = self.messages.count() + 1
        self.input.press("Enter")
        return time.monotonic()

    def reply(self, role: str = "bot", timeout: float = 30) -> Locator:
        """The first message of `role` after what the customer last said."""
        replies = self.page.locator(f".msg:nth-child(n+{self.seen + 1}).{role}")
        expect(replies.first).to_be_visible(timeout=timeout * 1000)
        return replies.first

    def session_id(self) -> str:
        return str(self.page.evaluate("window.helpdeskWidget.sessionId"))


@dataclass
class Console:
    page: Page
    stack: Stack

    def sign_in(self, user: str) -> "Console":
        self.page.goto(f"{self.stack.helpdesk_url}/console")
        token = self.page.get_by_label("API token")
        token.fill(self.stack.tokens[user])
        token.press("Enter")
        expect(self.page.locator("#live")).to_have_text("live")
        return self

    def queue_item(self, number: str) -> Locator:
        return self.page.locator("#queue .item", has_text=number)

    def tab(self, tier: str) -> Locator:
        return self.page.locator(f"#tab-{tier}")

    def transcript(self) -> Locator:
        return self.page.get_by_role("log", name="Transcript")


@dataclass
class Editor:
    page: Page
    stack: Stack

    def sign_in(self, user: str = "erin") -> "Editor":
        self.page.goto(f"{self.stack.helpdesk_url}/editor")
        token = self.page.get_by_label("API token")
        token.fill(self.stack.tokens[user])
        token.press("Enter")
        expect(self.page.locator("#article-count")).to_have_text(re.compile(r"\d+ articles?"))
        return self

    def ask_bot(self, question: str) -> Locator:
        self.page.get_by_label("A customer's question").fill(question)
        self.page.get_by_role("button", name="Ask", exact=True).click()
        answer = self.page.locator("#answer")
        expect(answer.locator(".abstain, .answers")).to_be_visible()
        return answer

    def ask_bot_until(self, question: str, title: str, seconds: float = 2.5) -> float:
        """Asks again until the bot would answer with `title`; returns how long that took."""
        started = time.monotonic()
        while True:
            answer = self.ask_bot(question).inner_text()
            if f"answer with “{title}”" in answer:
                return time.monotonic() - started
            assert time.monotonic() - started < seconds, f"after {seconds} s the bot still says: {answer}"
            self.page.wait_for_timeout(200)
