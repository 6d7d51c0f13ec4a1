"""The action server's answers checked by a validator built once (connectors/action_results.py): the same
verdicts and errors as Rasa's own check, without checking the schema itself on every answer."""

from typing import Any

import pytest
from connectors import action_results
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction

# What action servers answer: the bot's own shapes, and ones Rasa must refuse.
VALID: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "ticket_number", "value": "HD-01001", "timestamp": None},
            {"event": "pause", "timestamp": None},
            {"event": "active_loop", "name": None},
        ],
        "responses": [{"response": "utter_handoff_created", "ticket_number": "HD-01001"}],
    },
    {
        "events": [{"event": "followup", "name": "action_listen"}],
        "responses": [{"text": "Hi", "buttons": []}],
    },
]
INVALID: list[dict[str, Any]] = [
    {"events": [{"event": "slot"}], "responses": []},  # a slot without its name
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": "not a list", "responses": []},
]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own method, and ours installed for the test only."""
    rasa_own = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", rasa_own)
    action_results._validator.cache_clear()
    action_results.install()
    return rasa_own


def _verdict(check: Any, answer: dict[str, Any]) -> str:
    try:
        check(RemoteAction("action_handoff", None), answer)
    except ValidationError as error:
        return error.message
    return "valid"


@pytest.mark.parametrize("answer", VALID + INVALID)
def test_the_verdict_and_the_error_are_rasas(installed: Any, answer: dict[str, Any]) -> None:
    ours = _verdict(RemoteAction._validate_action_result, answer)
    assert ours == _verdict(installed, answer)
    assert (ours == "valid") == (answer in VALID)
    if answer in INVALID:
        assert "Failed to validate Action server response" in ours


def test_the_schema_is_checked_once_not_on_every_answer(
    installed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = validators.validator_for(RemoteAction.action_response_format_spec())
    checked: list[int] = []
    real_check = checker.check_schema

    def counted(schema: dict[str, Any]) -> None:
        checked.append(1)
        real_check(schema)

    monkeypatch.setattr(checker, "check_schema", counted)
    action = RemoteAction("action_handoff", None)
    for _ in range(50):
        for answer in VALID:
            assert RemoteAction._validate_action_result(action, answer)
    assert len(checked) == 1
    # Rasa's own check, for comparison: once per answer.
    for answer in VALID:
        installed(action, answer)
    assert len(checked) == 1 + len(VALID)


def test_the_website_channel_installs_it_when_rasa_builds_its_channels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connectors.website import WebsiteInput

    rasa_own = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", rasa_own)

    async def on_new_message(_message: Any) -> None:
        return None

    WebsiteInput(session_persistence=True).blueprint(on_new_message)
    assert RemoteAction._validate_action_result is action_results._validate_action_result
