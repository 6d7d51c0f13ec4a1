"""The demo directory and the code helpers."""

from __future__ import annotations

from datetime import datetime

from handoff_api.identity import codes
from handoff_api.identity.directory import DemoDirectory


def test_demo_directory_holds_the_contracts_people() -> None:
    directory = DemoDirectory()
    jane, max_ = directory.find("jdoe"), directory.find("max.locked@example.com")
    assert jane is not None and (jane.name, jane.email, jane.locked) == (
        "Jane Doe",
        "jane.doe@example.com",
        False,
    )
    assert max_ is not None and (max_.username, max_.name, max_.locked) == ("mlocked", "Max Locked", True)
    assert directory.unlock("mlocked") is True
    assert directory.unlock("mlocked") is False
    assert directory.find("nobody") is None


def test_codes_are_six_digits_and_hashes_depend_on_the_secret_and_the_verification() -> None:
    code = codes.new_code()
    assert len(code) == 6 and code.isdigit()
    stored = codes.hash_code("secret", "v1", code)
    assert codes.code_matches("secret", "v1", code, stored)
    assert not codes.code_matches("other", "v1", code, stored)
    assert not codes.code_matches("secret", "v2", code, stored)


def test_normalise_code_accepts_what_people_type() -> None:
    assert codes.normalise_code("123456") == "123456"
    assert codes.normalise_code(" 123 456 ") == "123456"
    assert codes.normalise_code("123-456") == "123456"
    assert codes.normalise_code("12345") is None
    assert codes.normalise_code("my code is 123456") is None


def test_masked_addresses() -> None:
    assert codes.mask_email("jane.doe@example.com") == "j******e@example.com"
    assert codes.mask_email("al@example.com") == "a*@example.com"
    assert codes.mask_email("x@example.com") == "x*@example.com"


def test_reset_links_carry_a_signed_token() -> None:
    link = codes.reset_link("secret", "https://id.example.com/reset", "jdoe", datetime(2026, 1, 1))
    assert link.startswith("https://id.example.com/reset?token=")
    assert link != codes.reset_link("secret", "https://id.example.com/reset", "jdoe", datetime(2026, 1, 1))
