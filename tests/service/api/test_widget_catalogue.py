"""The widget's catalogue says everything in both languages: a key in one language and not the other would
show the English words (or the key itself) to a German customer."""

import re
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[3] / "handoff_api" / "web" / "widget" / "texts.mjs"


def _keys(language: str) -> set[str]:
    source = CATALOGUE.read_text()
    block = re.search(rf"\n  {language}: \{{\n(.*?)\n  \}},", source, re.S)
    assert block, f"no {language} block in {CATALOGUE.name}"
    return set(re.findall(r"^\s{4}(\w+):", block.group(1), re.M))


def test_both_languages_have_every_text() -> None:
    english, german = _keys("en"), _keys("de")
    assert len(english) > 25
    assert english == german, {"only English": english - german, "only German": german - english}


def test_the_widget_writes_no_text_of_its_own() -> None:
    """Its words come from the catalogue: no English sentence left in the widget's code."""
    widget = (CATALOGUE.parent / "widget.mjs").read_text()
    for words in ("Type your message", "Minimise chat", "Waiting for an engineer", "The assistant is typing"):
        assert words not in widget, words
