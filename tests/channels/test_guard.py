"""What the chat channels accept from a client (connectors/guard.py), without a running Rasa.

The same rules on the real stack: tests/e2e/test_abuse.py.
"""

from typing import Any

import pytest
from connectors import credentials
from connectors.guard import (
    MAX_FRAME_BYTES,
    MAX_MESSAGE_CHARS,
    RestInput,
    message_problem,
    socketio_problem,
)
from connectors.website import WebsiteInput
from rasa.core.channels.channel import UserMessage
from rasa.core.run import create_http_input_channels


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("hello", None),
        ("<script>alert(1)</script> '; DROP TABLE x; -- \u202eRTL \x07\x1b[31m", None),
        ("w" * MAX_MESSAGE_CHARS, None),
        ("w" * (MAX_MESSAGE_CHARS + 1), "at most 4000 characters (this one has 4001)"),
        ("nul\x00", "NUL"),
        ("lone \udfff", "lone surrogates"),
        (None, "must be a string"),
        (42, "must be a string"),
        (["hi"], "must be a string"),
    ],
)
def test_what_a_message_may_be(message: Any, problem: str | None) -> None:
    found = message_problem(message)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"message": "hi", "session_id": "abc"}, None),
        ({"message": "hi", "session_id": "abc", "metadata": {"a": 1}}, None),
        ({"message": "hi", "session_id": "abc", "metadata": '{"a": 1}'}, None),
        ("hi", "must be an object"),
        (["hi"], "must be an object"),
        ({"message": "hi", "session_id": "abc", "metadata": "{oops"}, "metadata"),
        ({"message": "hi", "session_id": "abc", "metadata": [1]}, "metadata"),
        ({"message": "hi", "session_id": "x" * 201}, "session_id"),
        ({"message": "hi", "session_id": "a\nb"}, "session_id"),
        ({"session_id": "abc"}, "message"),
    ],
)
def test_what_a_socketio_event_may_be(data: Any, problem: str | None) -> None:
    found = socketio_problem(data)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.asyncio
async def test_the_widget_channel_passes_good_messages_on_and_answers_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reached: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        reached.append(message)

    channel = WebsiteInput.from_credentials({"session_persistence": True})
    channel.blueprint(on_new_message)
    sio = channel.sio
    assert sio is not None and sio.eio.max_http_buffer_size == MAX_FRAME_BYTES
    emitted: list[tuple[str, Any, str]] = []

    async def emit(event: str, data: Any = None, room: str = "", **_: Any) -> None:
        emitted.append((event, data, room))

    monkeypatch.setattr(sio, "emit", emit)
    handler = sio.handlers["/"]["user_uttered"]
    await handler("sid-1", {"message": "x" * 5000, "session_id": "conv-1"})
    await handler("sid-1", {"message": 7, "session_id": "conv-1"})
    assert reached == []
    assert [(event, room) for event, _, room in emitted] == [("bot_uttered", "sid-1")] * 2
    assert (
        "at most 4000 characters" in emitted[0][1]["text"]
        and emitted[1][1]["error"] == "message: must be a string"
    )
    await handler("sid-1", {"message": "<b>hi</b>", "session_id": "conv-1"})
    assert [(m.text, m.sender_id) for m in reached] == [("<b>hi</b>", "conv-1")]


def test_the_rest_channel_keeps_its_name_and_address() -> None:
    channel = RestInput()
    assert channel.name() == "rest"
    channels = create_http_input_channels(None, str(credentials.BASE))
    assert any(isinstance(c, RestInput) for c in channels), (
        "bot/credentials.yml names connectors.guard.RestInput"
    )
