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
    rest_access_problem,
    socketio_problem,
)
from connectors.website import WebsiteInput
from rasa.core.channels.channel import UserMessage
from rasa.core.run import create_http_input_channels

WIDGET = "0123456789abcdef0123456789abcdef"


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
        ({"message": "hi", "session_id": WIDGET}, None),
        ({"message": "hi", "session_id": WIDGET, "metadata": {"a": 1}}, None),
        ({"message": "hi", "session_id": WIDGET, "metadata": '{"a": 1}'}, None),
        ("hi", "must be an object"),
        (["hi"], "must be an object"),
        ({"message": "hi", "session_id": WIDGET, "metadata": "{oops"}, "metadata"),
        ({"message": "hi", "session_id": WIDGET, "metadata": [1]}, "metadata"),
        ({"message": "hi", "session_id": "x" * 201}, "session_id"),
        ({"message": "hi", "session_id": "a\nb"}, "session_id"),
        # Guessable ids: a Telegram chat id, a Slack user id, anything not the widget's.
        ({"message": "hi", "session_id": "123456789"}, "session_id"),
        ({"message": "hi", "session_id": "U024BE7LH"}, "session_id"),
        ({"message": "hi", "session_id": WIDGET.upper()}, "session_id"),
        ({"session_id": WIDGET}, "message"),
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
    await handler("sid-1", {"message": "x" * 5000, "session_id": WIDGET})
    await handler("sid-1", {"message": 7, "session_id": WIDGET})
    assert reached == []
    assert [(event, room) for event, _, room in emitted] == [("bot_uttered", "sid-1")] * 2
    assert (
        "at most 4000 characters" in emitted[0][1]["text"]
        and emitted[1][1]["error"] == "message: must be a string"
    )
    await handler("sid-1", {"message": "<b>hi</b>", "session_id": WIDGET})
    assert [(m.text, m.sender_id) for m in reached] == [("<b>hi</b>", WIDGET)]

    # Someone else's id (a Telegram chat id): the message never reaches the bot under it, and asking
    # for that session gives a fresh one, not its room.
    await handler("sid-2", {"message": "it is me", "session_id": "123456789"})
    assert len(reached) == 1 and "session_id" in emitted[-1][1]["error"]
    entered: list[tuple[str, str]] = []
    monkeypatch.setattr(sio, "enter_room", lambda sid, room, **_: entered.append((sid, room)))
    await sio.handlers["/"]["session_request"]("sid-2", {"session_id": "123456789"})
    assert len(entered) == 1 and entered[0][1] != "123456789" and len(entered[0][1]) == 32
    confirmed = [data for event, data, room in emitted if event == "session_confirm" and room == "sid-2"]
    assert confirmed == [entered[0][1]]
    await sio.handlers["/"]["session_request"]("sid-3", {"session_id": WIDGET})
    assert entered[-1] == ("sid-3", WIDGET)


def test_the_rest_channel_keeps_its_name_and_address() -> None:
    channel = RestInput()
    assert channel.name() == "rest"
    channels = create_http_input_channels(None, str(credentials.BASE))
    assert any(isinstance(c, RestInput) for c in channels), (
        "bot/credentials.yml names connectors.guard.RestInput"
    )


def test_the_rest_channel_is_off_outside_demo_mode_unless_its_token_is_sent() -> None:
    """It trusts any `sender`: open to the world, anyone could speak as any customer."""
    off = rest_access_problem(None, {})
    assert off is not None and off[0] == 403 and "REST_CHANNEL_TOKEN" in off[1]
    assert rest_access_problem(None, {"HELPDESK_DEMO": "true"}) is None
    with_token = {"REST_CHANNEL_TOKEN": "a-backend-secret"}
    assert rest_access_problem("Bearer a-backend-secret", with_token) is None
    for wrong in (None, "Bearer nope", "a-backend-secret-but-longer"):
        refused = rest_access_problem(wrong, with_token)
        assert refused is not None and refused[0] == 401, wrong
    # Set, the token is needed in demo mode too.
    assert rest_access_problem(None, {**with_token, "HELPDESK_DEMO": "true"}) is not None
