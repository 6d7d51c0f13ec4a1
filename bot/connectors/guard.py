"""What the customers' chat channels accept from a client, before the bot sees it.

A customer's message is a string of at most `MAX_MESSAGE_CHARS` characters (the widget lets people type
2000; an engineer's transcript line holds 4000) with neither NUL characters nor lone surrogates (no
database stores them). The conversation id (`sender` / `session_id`) is 1-200 characters without control
characters, as the helpdesk service wants it for a handoff.

- REST (`RestInput`, `POST /webhooks/rest/webhook`): only with REST_CHANNEL_TOKEN as a bearer token, or
  in demo mode (`rest_access_problem`); a body over `MAX_BODY_BYTES` is 413; a body that is
  not a JSON object, or a field that breaks the rules above (`metadata` must be an object), is 422 with
  the problem named. The input channel is always `rest` (a client cannot claim to be another channel).
- socket.io (`guard_socketio`, installed by `connectors.website.WebsiteInput`): a conversation id is
  the widget's (32 random hex characters), never a guessable one; a refused message does not reach the
  bot; the customer gets a `bot_uttered` saying why (`{"text", "error"}`). An Engine.IO
  frame over `MAX_FRAME_BYTES` closes that one connection.

Without it, Rasa answered an empty or non-object REST body with 500, logged a failure for a message that
is not a string, and spent ~30 s of its event loop (every conversation waits) on a 200 kB message.
"""

import hmac
import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic.exceptions import SanicException
from sanic.request import Request

MAX_MESSAGE_CHARS = 4000
MAX_BODY_BYTES = 64 * 1024
# A 4000-character message JSON-escaped (12 bytes for an emoji as "\\ud83d\\ude00") plus the envelope.
MAX_FRAME_BYTES = 64 * 1024
MAX_ID_CHARS = 200
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def message_problem(message: Any) -> str | None:
    """Why `message` cannot go to the bot, or None."""
    if not isinstance(message, str):
        return "message: must be a string"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"message: at most {MAX_MESSAGE_CHARS} characters (this one has {len(message)})"
    if _UNSTORABLE.search(message):
        return "message: must not contain NUL characters or invalid Unicode (lone surrogates)"
    return None


def id_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS or _CONTROL.search(value):
        return f"{name}: must be 1-{MAX_ID_CHARS} characters without control characters"
    return None


def metadata_problem(metadata: Any) -> str | None:
    if metadata is not None and not isinstance(metadata, dict):
        return "metadata: must be an object"
    return None


def rest_access_problem(authorization: str | None, env: Mapping[str, str]) -> tuple[int, str] | None:
    """Who may use the REST channel: it trusts any `sender`, so whoever can post to it can speak as any
    customer. With REST_CHANNEL_TOKEN set, callers that send it as a bearer token (a trusted backend);
    without it, nobody outside demo mode (HELPDESK_DEMO=true: tests, benchmarks, trying the desk)."""
    token = env.get("REST_CHANNEL_TOKEN", "").strip()
    if not token:
        if env.get("HELPDESK_DEMO", "").strip().lower() in ("1", "true", "yes", "on"):
            return None
        return 403, "the REST channel is off: set REST_CHANNEL_TOKEN and send it as a bearer token"
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return 401, "the REST channel needs its bearer token (REST_CHANNEL_TOKEN)"
    return None


class RestInput(RasaRestInput):
    """Rasa's REST channel (still named `rest`) that checks its caller and the body first."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        refused = rest_access_problem(req.headers.get("Authorization"), os.environ)
        if refused is not None:
            raise SanicException(refused[1], status_code=refused[0])
        # The first thing Rasa's handler reads: checking the whole body here refuses it before anything runs.
        if len(req.body or b"") > MAX_BODY_BYTES:
            raise SanicException(f"the body is larger than {MAX_BODY_BYTES} bytes", status_code=413)
        try:
            body = req.json
        except Exception:  # Sanic's own 400, said the same way as the other problems
            body = None
        if not isinstance(body, dict):
            raise SanicException(
                'the body must be a JSON object: {"sender": ..., "message": ...}', status_code=422
            )
        problem = (
            message_problem(body.get("message"))
            or (id_problem("sender", body["sender"]) if body.get("sender") is not None else None)
            or metadata_problem(body.get("metadata"))
        )
        if problem:
            raise SanicException(problem, status_code=422)
        sender: str | None = body.get("sender")
        return sender

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()


def socketio_problem(data: Any, metadata_key: str = "metadata") -> str | None:
    if not isinstance(data, dict):
        return "the event must be an object with `message` and `session_id`"
    metadata = data.get(metadata_key)
    if isinstance(metadata, str):  # Rasa reads a string as JSON
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return f"{metadata_key}: must be an object"
    return (
        message_problem(data.get("message"))
        or widget_id_problem(data.get("session_id"))
        or metadata_problem(metadata)
    )


# What the widget makes (16 random bytes, in hex) and what Rasa makes for a session without one.
WIDGET_ID = re.compile(r"^[0-9a-f]{32}$")


def widget_id_problem(session_id: Any) -> str | None:
    """A socket.io conversation id is one nobody can guess. Rasa takes any `session_id`, and a
    conversation is keyed by it alone: with a Telegram chat id or a Slack user id (public, or easy to
    find) a socket would continue that person's conversation, verified status included."""
    if session_id is None:
        return None
    if not isinstance(session_id, str) or not WIDGET_ID.match(session_id):
        return "session_id: must be the widget's conversation id (32 hexadecimal characters)"
    return None


def guard_socketio(channel: SocketIOInput) -> None:
    """Wraps the handler Rasa registered for the channel's `user_message_evt` with the checks above."""
    sio = channel.sio
    if sio is None:
        return
    sio.eio.max_http_buffer_size = MAX_FRAME_BYTES
    namespace = channel.namespace or "/"
    original: Callable[[str, Any], Awaitable[Any]] = sio.handlers[namespace][channel.user_message_evt]

    async def guarded(sid: str, data: Any) -> Any:
        problem = socketio_problem(data, channel.metadata_key or "metadata")
        if problem is None:
            return await original(sid, data)
        text = f"Sorry, I could not take that message ({problem}). Please send it again, shorter or retyped."
        await sio.emit(
            channel.bot_message_evt, {"text": text, "error": problem}, room=sid, namespace=namespace
        )
        return None

    sio.on(channel.user_message_evt, guarded, namespace=namespace)

    # A session asked for with an id that is not a widget's gets a fresh one (as Rasa does for none),
    # never the room, and so never the replies, of the conversation it named.
    requested: Callable[[str, Any], Awaitable[Any]] | None = sio.handlers[namespace].get("session_request")
    if requested is None:
        return

    async def session_request(sid: str, data: Any) -> Any:
        if isinstance(data, dict) and widget_id_problem(data.get("session_id")) is not None:
            data = {**data, "session_id": None}
        return await requested(sid, data)

    sio.on("session_request", session_request, namespace=namespace)
