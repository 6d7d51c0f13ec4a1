"""Splitting articles into searchable sections, and their content hashes."""

from __future__ import annotations

import hashlib

from knowledge_base.articles import Article, Step
from knowledge_base.sections import (
    MAX_SECTION_WORDS,
    content_hash,
    make_snippet,
    markdown_to_text,
    split_sections,
)

MODEL = "test-model"

BODY = """Some intro with a [link](https://example.com) and **bold** text.

## Before you start

- You need the *Connect VPN* app.
- And `vpn.example.com`.

### A sub-heading stays inside

More text.

## Code

```
## not a heading, inside a fence
```

## Empty heading only
"""


def article(**changes: object) -> Article:
    data: dict[str, object] = {
        "id": "vpn-windows",
        "title": "Connect to the VPN",
        "summary": "Open the app and select Connect.",
        "tags": ["vpn", "remote"],
        "body": BODY,
        "status": "published",
        "steps": [Step(instruction="Open the app.", check="It opens."), Step(instruction="Select Connect.")],
    }
    data.update(changes)
    return Article.model_validate(data)


def test_lead_body_and_steps_sections() -> None:
    sections = split_sections(article(), MODEL)
    assert [(s.kind, s.heading) for s in sections] == [
        ("lead", "Connect to the VPN"),
        ("body", "Before you start"),
        ("body", "Code"),
        ("body", "Empty heading only"),
        ("steps", "Steps"),
    ]
    assert [s.position for s in sections] == list(range(5))
    lead = sections[0]
    assert lead.text.startswith("Connect to the VPN\nOpen the app and select Connect.")
    assert "Some intro with a link and bold text." in lead.content
    assert "Tags: vpn, remote" in lead.text and "Tags" not in lead.content  # indexed, not shown
    before = sections[1]
    assert before.text.startswith("Connect to the VPN: Before you start\n")
    assert "You need the Connect VPN app." in before.content and "vpn.example.com" in before.content
    assert "A sub-heading stays inside" in before.content and "More text." in before.content
    assert "not a heading, inside a fence" in sections[2].content
    assert sections[3].content == "" and sections[3].text == "Connect to the VPN: Empty heading only"
    assert sections[4].content == "1. Open the app. Check: It opens.\n2. Select Connect."
    assert all(s.article_id == "vpn-windows" for s in sections)


def test_article_without_body_or_steps_has_only_the_lead() -> None:
    sections = split_sections(Article(id="bare", title="Just a title"), MODEL)
    assert [(s.kind, s.text) for s in sections] == [("lead", "Just a title")]


def test_hash_is_sha256_of_model_and_text_and_stable() -> None:
    first = split_sections(article(), MODEL)
    second = split_sections(article(), MODEL)
    assert [s.content_hash for s in first] == [s.content_hash for s in second]
    expected = hashlib.sha256(f"{MODEL}\x00{first[0].text}".encode()).hexdigest()
    assert first[0].content_hash == expected == content_hash(MODEL, first[0].text)
    other_model = split_sections(article(), "another-model")
    assert all(a.content_hash != b.content_hash for a, b in zip(first, other_model, strict=True))
    assert len({s.content_hash for s in first}) == len(first)


def test_editing_one_section_changes_only_its_hash() -> None:
    before = split_sections(article(), MODEL)
    after = split_sections(article(body=BODY.replace("More text.", "Changed text.")), MODEL)
    changed = [a.heading for a, b in zip(before, after, strict=True) if a.content_hash != b.content_hash]
    assert changed == ["Before you start"]
    # a new title is part of every indexed text: everything changes
    retitled = split_sections(article(title="Another title"), MODEL)
    assert all(a.content_hash != b.content_hash for a, b in zip(before, retitled, strict=True))
    # metadata that is not indexed changes nothing
    same = split_sections(article(audience="everyone", category="network"), MODEL)
    assert [s.content_hash for s in same] == [s.content_hash for s in before]


def test_long_section_is_cut_at_paragraphs_below_the_model_limit() -> None:
    paragraphs = [" ".join(f"p{p}w{i}" for i in range(60)) for p in range(6)]
    body = "## Long\n\n" + "\n\n".join(paragraphs) + "\n\n" + " ".join(f"huge{i}" for i in range(400))
    sections = split_sections(Article(id="long", title="T", body=body), MODEL)
    parts = [s for s in sections if s.heading == "Long"]
    assert len(parts) >= 4
    assert all(len(s.content.split()) <= MAX_SECTION_WORDS for s in parts)
    assert sum(len(s.content.split()) for s in parts) == 6 * 60 + 400  # nothing lost
    assert "p0w59\n\np1w0" in parts[0].content  # whole paragraphs kept together
    assert all(s.text.startswith("T: Long\n") for s in parts)
    assert len({s.content_hash for s in parts}) == len(parts)


def test_markdown_to_text_removes_markup() -> None:
    markdown = (
        "# Title\n> quoted **bold** and _it_\n1. [Link](http://x) ![img](y.png)\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n<br/>\n***\n- [ ] task"
    )
    assert markdown_to_text(markdown) == "Title\nquoted bold and it\nLink img\na b\n1 2\n\ntask"


def test_make_snippet_cuts_at_a_word() -> None:
    assert make_snippet("short  text\nhere") == "short text here"
    snippet = make_snippet("word " * 100, limit=50)
    assert snippet.endswith("…") and len(snippet) <= 50 and "wor…" not in snippet
