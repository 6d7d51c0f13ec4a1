"""Article model, loader errors, and lossless import/export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge_base.articles import (
    Article,
    ArticleFileError,
    Step,
    dump_article,
    export_articles,
    load_article,
    load_articles,
    parse_article,
    slugify,
)

ARTICLES_DIR = Path(__file__).resolve().parents[2] / "knowledge_base" / "articles"

GOOD = """---
id: vpn-windows
title: Connect to the company VPN on Windows
category: network
tags: [vpn, Remote, windows, 11, vpn]
applies_to: [windows]
audience: employees
status: published
summary: Open the VPN app and select Connect.
updated_at: 2026-01-31
updated_by: editor1
steps:
  - instruction: Open the "Connect VPN" app.
    check: 'The window says: Connected'
  - instruction: Open https://it.example.com.
---
Intro line.

## Before you start

You need internet.

---

```
## not a heading
```
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[tuple[Path, str | None, str]]:
    with pytest.raises(ArticleFileError) as info:
        load_article(path)
    return [(error.path, error.field, error.message) for error in info.value.errors]


def test_good_file_loads_with_every_field(tmp_path: Path) -> None:
    article = load_article(write(tmp_path, "vpn-windows.md", GOOD))
    assert article.id == "vpn-windows"
    assert article.title == "Connect to the company VPN on Windows"
    assert article.category == "network"
    assert article.tags == ["vpn", "remote", "windows", "11"]  # lower-cased, deduplicated, numbers as text
    assert article.applies_to == ["windows"]
    assert article.audience == "employees"
    assert article.status == "published" and article.published
    assert article.summary == "Open the VPN app and select Connect."
    assert article.steps == [
        Step(instruction='Open the "Connect VPN" app.', check="The window says: Connected"),
        Step(instruction="Open https://it.example.com."),
    ]
    assert article.updated_at == dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
    assert article.updated_by == "editor1"
    assert article.body.startswith("Intro line.\n\n## Before you start")
    assert article.body.endswith("```")


def test_minimal_article_defaults_to_draft() -> None:
    article = Article(id="a", title="T")
    assert article.status == "draft" and not article.published
    assert article.body == "" and article.tags == [] and article.steps == []


@pytest.mark.parametrize(
    "bad_id", ["Has Caps", "under_score", "-leading", "trailing-", "a--b", "", "x" * 101]
)
def test_id_must_be_a_slug(bad_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        Article(id=bad_id, title="T")
    assert info.value.errors()[0]["loc"] == ("id",)


def test_slugify_makes_valid_ids() -> None:
    assert slugify("Reset your password!") == "reset-your-password"
    assert slugify("  Wi-Fi: guest network (visitors)  ") == "wi-fi-guest-network-visitors"
    assert slugify("???") == "article"
    Article(id=slugify("Ünïcödé title " * 20), title="T")
    assert slugify("Über Straße: café") == "ueber-strasse-cafe"
    for length in range(80, 120):
        slug = slugify("w" * length + " tail", max_length=90)
        assert len(slug) <= 90 and not slug.endswith("-")


def test_missing_title_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "no-title.md", "---\nid: no-title\nstatus: published\n---\nBody\n")
    assert errors_of(path) == [(path, "title", "Field required")]


def test_bad_status_and_bad_step_name_their_fields(tmp_path: Path) -> None:
    text = "---\ntitle: T\nstatus: live\nsteps:\n  - instruction: ok\n  - check: no instruction\n---\n"
    path = write(tmp_path, "bad-fields.md", text)
    fields = {field: message for _, field, message in errors_of(path)}
    assert set(fields) == {"status", "steps.1.instruction"}
    assert "draft" in fields["status"] and "published" in fields["status"]


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.md", "---\ntitle: T\nstauts: published\n---\n")
    assert errors_of(path) == [(path, "stauts", "unknown field")]


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    text = '---\ntitle: T\nsteps:\n  - instruction: x\n    check: "Done" is shown\n---\nBody\n'
    path = write(tmp_path, "broken-yaml.md", text)
    [(where, field, message)] = errors_of(path)
    assert where == path and field is None
    assert "not valid YAML" in message and "line 5" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Just Markdown, no front matter.\n", "no YAML front matter"),
        ("---\n- a list\n- not a mapping\n---\nBody\n", "not a mapping"),
        ("---\ntitle: T\nbody: inline\n---\n", "not a field"),
    ],
)
def test_structural_problems_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "structure.md", text)
    [(where, _, message)] = errors_of(path)
    assert where == path and expected in message


def test_id_defaults_to_file_name_and_must_match_it(tmp_path: Path) -> None:
    assert load_article(write(tmp_path, "from-name.md", "---\ntitle: T\n---\n")).id == "from-name"
    path = write(tmp_path, "other-name.md", "---\nid: some-id\ntitle: T\n---\n")
    [(where, field, message)] = errors_of(path)
    assert (where, field) == (path, "id") and "file name" in message


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    [(where, field, message)] = errors_of(path)
    assert where == path and field is None and "cannot read" in message


def test_one_broken_file_never_takes_the_rest_down(tmp_path: Path) -> None:
    write(tmp_path, "vpn-windows.md", GOOD)
    write(tmp_path, "b-good.md", "---\ntitle: B\nstatus: draft\n---\nbody")
    write(tmp_path, "c-bad.md", "---\ntitle: [unclosed\n---\n")
    write(tmp_path, "d-bad.md", "---\ntitle: D\nstatus: nope\n---\n")
    write(tmp_path, "notes.txt", "not an article")
    result = load_articles(tmp_path)
    assert [a.id for a in result.articles] == ["b-good", "vpn-windows"]
    assert {(e.path.name, e.field) for e in result.errors} == {("c-bad.md", None), ("d-bad.md", "status")}
    assert not result.ok
    assert "d-bad.md: status:" in str(result.errors[1])


def test_missing_directory_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = load_articles(tmp_path / "nope")
    assert result.articles == [] and len(result.errors) == 1


def test_dump_then_load_is_equal_and_stable(tmp_path: Path) -> None:
    article = parse_article(GOOD, "vpn-windows.md")
    text = dump_article(article)
    again = parse_article(text, "vpn-windows.md")
    assert again == article
    assert dump_article(again) == text  # canonical: a second round trip changes nothing


def test_round_trip_of_tricky_values() -> None:
    article = Article(
        id="tricky",
        title="Quotes \"double\" and 'single': colons # hashes",
        body="Line one  \nhard break above\n\n---\n\n## Ünïcødé — ✓\n\n```yaml\nkey: value\n```",
        category="yes",  # would become a boolean if written unquoted
        tags=["null", "true", "1.5", "a: b"],
        summary="Multi\nline\n\n  indented",
        steps=[Step(instruction="- starts with a dash", check="%percent and @at")],
        updated_at=dt.datetime(2026, 11, 26, 15, 30, 5, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        status="published",
    )
    assert parse_article(dump_article(article), "tricky.md") == article


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    articles = [parse_article(GOOD, "vpn-windows.md"), Article(id="second", title="Second", body="B")]
    paths = export_articles(articles, tmp_path / "out")
    assert [p.name for p in paths] == ["vpn-windows.md", "second.md"]
    result = load_articles(tmp_path / "out")
    assert result.ok
    assert sorted(result.articles, key=lambda a: a.id) == sorted(articles, key=lambda a: a.id)


def test_every_real_article_loads() -> None:
    result = load_articles(ARTICLES_DIR)
    assert result.errors == [], "\n".join(str(error) for error in result.errors)
    assert len(result.articles) >= 10


def test_every_real_article_round_trips(tmp_path: Path) -> None:
    loaded = load_articles(ARTICLES_DIR).articles  # a file that fails to load fails the test above
    assert loaded
    for article in loaded:
        text = dump_article(article)
        assert parse_article(text, f"{article.id}.md") == article, article.id
    export_articles(loaded, tmp_path)
    result = load_articles(tmp_path)
    assert result.ok and result.articles == sorted(loaded, key=lambda a: a.id)
