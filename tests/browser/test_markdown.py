"""The editor's Markdown renderer and line diff, run in the browser on the modules the service serves."""

import pytest
from playwright.sync_api import Page

from tests.harness.stack import Stack

RENDER = """async (source) => {
  const { render } = await import("/web/markdown.mjs");
  const box = document.createElement("div");
  box.append(render(source));
  return box.innerHTML;
}"""
DIFF = """async ([before, after]) => {
  const { diffLines } = await import("/web/diff.mjs");
  return diffLines(before, after).map((line) => `${line.op}:${line.text}`);
}"""
LINK = 'rel="noopener noreferrer" target="_blank"'


@pytest.fixture
def blank(stack: Stack, page: Page) -> Page:
    page.goto(f"{stack.helpdesk_url}/console")  # an HTML page of the service's origin
    return page


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("# Title", "<h1>Title</h1>"),
        ("### Three ###", "<h3>Three</h3>"),
        ("one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>"),
        ("**bold**, *em* and `a < b`", "<p><strong>bold</strong>, <em>em</em> and <code>a &lt; b</code></p>"),
        ("- a\n- b", "<ul><li>a</li><li>b</li></ul>"),
        ("3. c\n4. d", '<ol start="3"><li>c</li><li>d</li></ol>'),
        ("```sh\necho <hi>\n```", '<pre><code class="language-sh">echo &lt;hi&gt;</code></pre>'),
        ("> quoted *text*", "<blockquote><p>quoted <em>text</em></p></blockquote>"),
        ("---", "<hr>"),
        (
            "[guide](https://example.com/a?b=1)",
            f'<p><a href="https://example.com/a?b=1" {LINK}>guide</a></p>',
        ),
        (
            "see https://example.com/x.",
            f'<p>see <a href="https://example.com/x" {LINK}>https://example.com/x</a>.</p>',
        ),
        (
            "![diagram](https://example.com/d.png)",
            f'<p><a href="https://example.com/d.png" {LINK}>image: diagram</a></p>',
        ),
        # Nothing from an article becomes markup or a script URL.
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
        ("[click](javascript:alert(1))", "<p><span>click</span>)</p>"),
        ("[click](JaVaScRiPt:alert%281%29)", "<p><span>click</span></p>"),
        ("[click](data:text/html,hi)", "<p><span>click</span></p>"),
        ("[click](//evil.example.com)", "<p><span>click</span></p>"),
        (
            '[x](https://a.example/"onmouseover="alert(1))',
            f'<p><a href="https://a.example/&quot;onmouseover=&quot;alert(1" {LINK}>x</a>)</p>',
        ),
    ],
)
def test_markdown(blank: Page, source: str, html: str) -> None:
    assert blank.evaluate(RENDER, source) == html


def test_line_diff(blank: Page) -> None:
    assert blank.evaluate(DIFF, ["a\nb\nc", "a\nB\nc\nd"]) == ["same:a", "del:b", "add:B", "same:c", "add:d"]
    assert blank.evaluate(DIFF, ["same", "same"]) == ["same:same"]
    assert blank.evaluate(DIFF, ["", "new"]) == ["del:", "add:new"]
