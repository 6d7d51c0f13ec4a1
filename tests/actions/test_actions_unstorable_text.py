"""A NUL or a lone surrogate a customer typed (a messenger lets them through) becomes U+FFFD in
the handoff body, which the service would otherwise refuse (422): the customer still gets their engineer."""

from __future__ import annotations

from actions.handoff.payload import build_handoff_payload

from conversation_builder import conversation, timeline, user


def test_unstorable_characters_are_replaced_everywhere_in_the_body() -> None:
    events = timeline(
        user("my laptop\x00 is broken", "report_issue"),
        user("lone \ud800 surrogate, human please", "request_human"),
    )
    payload = build_handoff_payload(conversation("conv-nul", events, slots={"device": "lap\x00top"}))

    assert [line["text"] for line in payload["transcript"]] == [
        "my laptop\ufffd is broken",
        "lone \ufffd surrogate, human please",
    ]
    assert payload["context"]["slots"]["device"] == "lap\ufffdtop"
    assert "\x00" not in str(payload) and "\ud800" not in str(payload)
