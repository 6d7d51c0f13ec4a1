"""The knowledge editor in a real browser: a safe preview, draft then publish, what the bot would answer,
a conflicting edit, revisions with a diff and a restore."""

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.harness.stack import Stack

from .conftest import script_errors
from .ui import Editor

BODY = """## Before you call us

1. Check the **power** cable and the *network* light.
2. <script>window.__pwned = 5</script>
3. Print a test page: `Settings > Printers`.

[bad link](javascript:window.__pwned=6) and [the printer guide](https://example.com/printers)
<img src=x onerror="window.__pwned = 7">"""


def test_edit_preview_publish_and_history(stack: Stack, page: Page) -> None:
    errors = script_errors(page)
    editor = Editor(page, stack).sign_in("erin")
    word = f"zorblax{uuid.uuid4().hex[:6]}"  # a word no other article has
    title = f"The {word} label printer shows offline"
    question = f"my {word} label printer says offline"

    # New article: the preview renders Markdown and keeps markup as text.
    page.get_by_role("button", name="New article").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Category").fill("printing")
    page.get_by_label("Body (Markdown)").fill(BODY)
    preview = page.get_by_role("region", name="Preview")
    expect(preview.get_by_role("heading", name="Before you call us")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("power")
    expect(preview.locator("li").nth(1)).to_have_text("<script>window.__pwned = 5</script>")
    expect(preview.get_by_role("link", name="the printer guide")).to_have_attribute(
        "href", "https://example.com/printers"
    )
    expect(preview.get_by_role("link", name="bad link")).to_have_count(0)
    assert preview.locator("script, img").count() == 0

    # A draft is not what the bot answers with; once published, it is.
    page.get_by_role("button", name="Save draft", exact=True).click()
    expect(page.locator("#article-meta .pill")).to_have_text("draft")
    expect(editor.ask_bot(question)).not_to_contain_text(f"answer with “{title}”")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#article-meta .pill")).to_have_text("published")
    expect(page.locator("#article-list")).to_contain_text(title)
    # The contract: a published change is what the bot answers with within 2 seconds.
    waited = editor.ask_bot_until(question, title)
    print(f"latency publish -> the bot's search answers with it: {waited * 1000:.0f} ms")

    # Someone else saves first: the editor is told, keeps its text, and can load theirs.
    article_id = page.locator("#article-meta").inner_text().split()[1]
    erin = {"Authorization": f"Bearer {stack.tokens['erin']}"}
    current = httpx.get(f"{stack.helpdesk_url}/api/v1/kb/articles/{article_id}", headers=erin).json()
    theirs = httpx.put(
        f"{stack.helpdesk_url}/api/v1/kb/articles/{article_id}",
        headers=erin,
        json={"version": current["version"], "title": f"{title} (their edit)"},
    )
    assert theirs.status_code == 200, theirs.text
    page.get_by_label("Summary").fill("My summary")
    page.get_by_role("button", name="Save and publish").click()
    conflict = page.get_by_role("alert").filter(has_text="Someone else changed this article")
    expect(conflict).to_be_visible()
    expect(page.get_by_label("Summary")).to_have_value("My summary")
    conflict.get_by_role("button", name="Load theirs").click()
    expect(page.get_by_label("Title")).to_have_value(f"{title} (their edit)")

    # Revisions: compare the first one with the editor's text, then restore it.
    page.get_by_label("Body (Markdown)").fill(BODY.replace("power", "mains"))
    page.locator("#revisions summary").click()
    first = page.locator("#revision-list li", has_text="v1 ")
    first.get_by_role("button", name="Compare with the editor").click()
    diff = page.locator("#diff")
    expect(diff.locator("li.del", has_text="**power**")).to_have_count(1)
    expect(diff.locator("li.add", has_text="**mains**")).to_have_count(1)
    expect(diff.locator("li.same", has_text="Before you call us")).to_have_count(1)
    expect(page.locator("#diff-title")).to_have_text(re.compile(r"v1 → the editor: 2 lines changed"))
    first.get_by_role("button", name="Restore v1").click()
    expect(page.get_by_label("Title")).to_have_value(title)
    expect(page.get_by_label("Body (Markdown)")).to_have_value(BODY)
    assert page.evaluate("() => window.__pwned === undefined")
    assert errors == []


def test_a_translation_is_shown_beside_its_original_and_marked_when_it_is_older(
    stack: Stack, page: Page
) -> None:
    errors = script_errors(page)
    erin = {"Authorization": f"Bearer {stack.tokens['erin']}"}
    word = f"quarzel{uuid.uuid4().hex[:6]}"
    articles = f"{stack.helpdesk_url}/api/v1/kb/articles"
    original = httpx.post(
        articles,
        headers=erin,
        json={
            "title": f"Book a {word} desk",
            "body": "## Steps\n\n1. Open the desk app.",
            "status": "published",
        },
    ).json()
    german_title = f"Einen {word}-Schreibtisch buchen"
    httpx.post(
        articles,
        headers=erin,
        json={
            "title": german_title,
            "body": "## Schritte\n\n1. Öffnen Sie die Desk-App.",
            "status": "published",
            "language": "de",
            "translation_of": original["id"],
        },
    ).raise_for_status()

    Editor(page, stack).sign_in("erin")
    page.get_by_label("Search articles").fill(word)
    german = page.locator("#article-list").get_by_role("button", name=re.compile("Schreibtisch"))
    german.click()
    beside = page.get_by_role("region", name="Translation of an original")
    expect(beside).to_contain_text("Open the desk app.")
    expect(beside).to_contain_text("Öffnen Sie die Desk-App.")
    expect(page.locator("#pair-stale")).to_be_hidden()

    # The original changes after the translation: the translation is marked as older.
    changed = httpx.put(
        f"{articles}/{original['id']}",
        headers=erin,
        json={"version": original["version"], "body": "## Steps\n\n1. Open the new desk app."},
    )
    assert changed.status_code == 200, changed.text
    german.click()
    expect(beside).to_contain_text("Open the new desk app.")
    expect(page.locator("#pair-stale")).to_contain_text(f"The German translation “{german_title}” is older")
    beside.get_by_role("button", name=re.compile(r"Open “Book a")).click()
    expect(page.get_by_label("Title")).to_have_value(f"Book a {word} desk")
    expect(page.get_by_role("region", name="Translations")).to_contain_text(german_title)
    expect(page.locator("#pair-stale")).to_be_visible()
    assert errors == []
