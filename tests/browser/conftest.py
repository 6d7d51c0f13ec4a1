"""The real stack (service, action server, Rasa with the trained model) and Debian's chromium.

Playwright drives /usr/bin/chromium (`make test-browser` installs it when missing); it never downloads
a browser of its own. Screenshots go to the test's tmp dir, and to docs/screenshots/ with
UPDATE_SCREENSHOTS=1 (`make screenshots`). HELPDESK_TEST_STACK=path/to/stack.json reuses a stack that is
already running (ports and tokens: `rasa_port`, `helpdesk_port`, `rasa_token`, `tokens` with alice, bob,
carol, erin), to iterate on the pages without waiting for Rasa to start.
"""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.harness.stack import ROOT, Stack, trained_model

CHROMIUM = Path(os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = Path(os.environ.get("HELPDESK_DATA_DIR", ROOT / "var"))
    if os.environ.get("HELPDESK_TEST_STACK"):
        info = json.loads(Path(os.environ["HELPDESK_TEST_STACK"]).read_text())
        fields = ("rasa_port", "helpdesk_port", "rasa_token", "tokens")
        yield Stack(data_dir=data_dir, model=Path(), **{name: info[name] for name in fields})
        return
    started = time.monotonic()
    running = Stack(data_dir=tmp_path_factory.mktemp("stack"), model=trained_model(data_dir / "models"))
    try:
        running.start()
        running.create_user("erin", "editor")
        running.create_user("lena", "lead")
    except BaseException:
        running.stop()
        raise
    print(f"\nstack ready in {time.monotonic() - started:.1f} s")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: its own localStorage and sessionStorage."""
    created = browser.new_context(viewport={"width": 1280, "height": 820})
    created.set_default_timeout(20_000)
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def script_errors(page: Page) -> list[str]:
    """Collects the page's uncaught script errors, for the test to assert there were none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
