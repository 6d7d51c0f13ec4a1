"""The editor's picture for the README, on a real article (written to docs/ by `make screenshots`,
to a temporary folder otherwise). The widget's and the console's come from test_handoff_in_browser.py."""

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.harness.stack import Stack

from .conftest import screenshot
from .ui import Editor


def test_editor_screenshot(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        editor = Editor(context.new_page(), stack).sign_in("erin")
        page = editor.page
        page.get_by_label("Search articles").fill("VPN")
        page.locator("#article-list .item", has_text="keeps dropping").click()
        expect(page.get_by_role("region", name="Preview").locator("h2, h3").first).to_be_visible()
        editor.ask_bot("my vpn keeps dropping every few minutes")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "editor", tmp_path)
        assert (tmp_path / "editor.png").stat().st_size > 10_000
    finally:
        context.close()
