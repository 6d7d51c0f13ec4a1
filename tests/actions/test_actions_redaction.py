"""Secrets customers type never reach the engineers' tools."""

from __future__ import annotations

import pytest
from helpdesk_text.redaction import CARD_MASK, CODE_MASK, PASSWORD_MASK, luhn_valid, redact, redact_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is hunter2", f"my password is {PASSWORD_MASK}"),
        ("Password: Tr0ub4dor&3", f"Password: {PASSWORD_MASK}"),
        ("pw: abc123!", f"pw: {PASSWORD_MASK}"),
        ("pwd=s3cret and more", f"pwd={PASSWORD_MASK} and more"),
        ("my old password was 'two words' sorry", f"my old password was {PASSWORD_MASK} sorry"),
        ("passcode is 9911", f"passcode is {PASSWORD_MASK}"),
    ],
)
def test_passwords_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my password is not working",
        "Password is expired again",
        "I need a password reset",
        "forgot my password",
    ],
)
def test_complaints_about_passwords_stay_readable(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the code is 123456", f"the code is {CODE_MASK}"),
        ("87654321", CODE_MASK),
        ("got 1234567 by sms", f"got {CODE_MASK} by sms"),
        ("authenticator says 123 456", f"authenticator says {CODE_MASK}"),
    ],
)
def test_one_time_codes_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["ticket HD-01001 please", "ticket HD-010010", "room 12345", "call 0123456789", "it is 2026"],
)
def test_ticket_numbers_and_other_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 ok", f"card {CARD_MASK} ok"),
        ("4111-1111-1111-1111", CARD_MASK),
        ("amex 378282246310005", f"amex {CARD_MASK}"),
        ("card 4111111111111111 code 123456", f"card {CARD_MASK} code {CODE_MASK}"),
    ],
)
def test_card_numbers_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_long_numbers_failing_luhn_are_not_cards() -> None:
    assert redact("order 4111 1111 1111 1112") == "order 4111 1111 1111 1112"


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_redact_value_walks_lists_and_dicts_and_keeps_other_types() -> None:
    value = {"steps": ["typed pw: x1", 3], "flag": True, "code": "123456"}
    assert redact_value(value) == {
        "steps": [f"typed pw: {PASSWORD_MASK}", 3],
        "flag": True,
        "code": CODE_MASK,
    }


def test_personal_data_is_masked_for_editors_but_dates_and_versions_stay() -> None:
    from helpdesk_text.redaction import mask_personal

    assert mask_personal("call me on +49 (0)30 1234567 or mail jane.doe@example.com") == (
        "call me on [PHONE] or mail [EMAIL]"
    )
    assert mask_personal("tel 030/123 45 67, code 482913") == "tel [PHONE], code [REDACTED CODE]"
    kept = "Ubuntu 22.04 since 2026-11-30 (seit 30.11.2026), ticket HD-01001, error 0x80070005"
    assert mask_personal(kept) == kept
