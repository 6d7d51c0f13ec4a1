"""Rasa's check of the action server's answers, with the checker built once instead of on every answer.

Rasa 3.6 checks every answer of the action server against its JSON schema with `jsonschema.validate`
(`RemoteAction._validate_action_result`), which first checks the schema itself against JSON Schema's
metaschema and builds a new validator, on every call. The schema never changes. Profiled here, that
check was a sixth of a handoff turn's time in Rasa, and a turn calls the action server at least twice
(the session start and the turn's action), on Rasa's one event loop.

`install` puts a validator built once in front: an answer it accepts is accepted as before; one it
rejects goes to Rasa's own method, so the error and its message are Rasa's.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import validators
from rasa.core.actions.action import RemoteAction

_rasa_validate = RemoteAction._validate_action_result


@functools.cache
def _validator() -> Any:  # jsonschema 3.2 (Rasa's pin) has no validator type
    schema = RemoteAction.action_response_format_spec()
    checker = validators.validator_for(schema)
    checker.check_schema(schema)  # once, as jsonschema.validate does on each call
    return checker(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if _validator().is_valid(result):
        return True
    return bool(_rasa_validate(self, result))  # raises Rasa's ValidationError, with Rasa's message


def install() -> None:
    """Idempotent; for the whole Rasa process."""
    RemoteAction._validate_action_result = _validate_action_result
