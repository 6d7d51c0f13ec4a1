"""Priority, category and rating comments: pure functions of what the customer said."""

from __future__ import annotations

import pytest
from actions.conversation.feedback import comment_of
from actions.handoff.issue_report import category_for, priority_for


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        ("many", "high", "p1"),
        ("team", "high", "p2"),
        ("me", "high", "p3"),
        ("me", "low", "p4"),
        (None, None, "p3"),
    ],
)
def test_priority_is_impact_times_urgency(impact: str | None, urgency: str | None, priority: str) -> None:
    assert priority_for(impact, urgency) == priority


def test_categories_from_what_the_customer_said() -> None:
    assert category_for("the vpn keeps dropping") == "network"
    assert category_for("outlook crashes", None) == "email"
    assert category_for("the projector in room 2") == "incidents"


def test_comments_are_what_remains_besides_the_number() -> None:
    assert comment_of("5") is None and comment_of("/rate") is None
    assert comment_of("4 stars, quick and clear") == "quick and clear"
