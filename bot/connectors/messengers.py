"""Messenger connectors that need a fix over Rasa 3.6's own: Telegram to receive an engineer's pushed
messages, the callback bridge to know who is calling."""

import hmac
from typing import Any

from rasa.core.channels.callback import CallbackInput as RasaCallbackInput
from rasa.core.channels.channel import InputChannel
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput
from rasa.utils.endpoints import EndpointConfig
from sanic.exceptions import SanicException
from sanic.request import Request


class TelegramInput(RasaTelegramInput):
    """Rasa's Telegram channel, able to push messages sent later through `tracker/events`.

    Rasa's `get_output_channel` registers the webhook with `asyncio.run` every time it is called. That
    works once, at start-up, and fails inside the running server, which is exactly where an engineer's
    reply arrives (`output_channel=latest`). The webhook is registered once; later calls only build the
    sender.
    """

    webhook_registered = False

    def get_output_channel(self) -> TelegramOutput:
        if self.webhook_registered:
            return TelegramOutput(self.access_token)
        channel = super().get_output_channel()
        self.webhook_registered = True
        return channel


class CallbackInput(RasaCallbackInput):
    """Rasa's callback bridge (still named `callback`), for a messenger Rasa has no channel for, that
    takes a message only from the bridge: `Authorization: Bearer <CALLBACK_SECRET>`.

    Rasa's own takes any `sender` from anyone who can reach the URL: whoever knew a customer's messenger
    id spoke as them, inherited their verified status, and, with replies going to the channel the id
    last wrote on, received the engineer's answers."""

    def __init__(self, endpoint: EndpointConfig, secret: str = "") -> None:
        super().__init__(endpoint)
        self.secret = secret

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        values = dict(credentials or {})
        secret = str(values.pop("secret", "") or "")
        if not secret:
            raise ValueError("the callback channel needs `secret` (CALLBACK_SECRET): callers must send it")
        return cls(EndpointConfig.from_dict(values), secret)

    async def _extract_sender(self, req: Request) -> str | None:
        given = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise SanicException(
                "the callback channel needs its bearer token (CALLBACK_SECRET)", status_code=401
            )
        sender: str | None = await super()._extract_sender(req)
        return sender
