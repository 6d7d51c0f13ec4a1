"""Messenger connectors that need a fix over Rasa 3.6's own: Telegram to receive an engineer's pushed
messages, the callback bridge to know who is calling."""

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.utils.exceptions import TelegramAPIError
from rasa.core.channels.callback import CallbackInput as RasaCallbackInput
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse


class TelegramInput(RasaTelegramInput):
    """Rasa's Telegram channel, able to push messages sent later through `tracker/events`, and taking
    updates only from Telegram.

    Rasa's `get_output_channel` registers the webhook with `asyncio.run` every time it is called. That
    works once, at start-up, and fails inside the running server, which is exactly where an engineer's
    reply arrives. The webhook is registered once; later calls only build the sender.

    Rasa's own takes any POST to the webhook (the bot's name is all it checks, and that is public): anyone
    could post an update with a customer's chat id and speak as them. The webhook is registered with a
    secret token (TELEGRAM_SECRET_TOKEN), which Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`
    with every update; an update without it is refused, and `/set_webhook` (which would register it again
    without the secret, for anyone who calls it) is closed.
    """

    webhook_registered = False
    secret_token = ""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        values = dict(credentials or {})
        secret = str(values.pop("secret_token", "") or "")
        if not secret:
            raise ValueError("the Telegram channel needs `secret_token` (TELEGRAM_SECRET_TOKEN)")
        channel = cls(values.get("access_token"), values.get("verify"), values.get("webhook_url"))
        channel.secret_token = secret
        return channel

    def get_output_channel(self) -> TelegramOutput:
        channel = TelegramOutput(self.access_token)
        if self.webhook_registered:
            return channel
        try:
            asyncio.run(register_webhook(channel, self.webhook_url, self.secret_token))
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set channel webhook: {error}") from error
        self.webhook_registered = True
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook: Blueprint = super().blueprint(on_new_message)

        async def only_from_telegram(request: Request) -> HTTPResponse | None:
            refused = telegram_request_problem(
                request.path, request.method, request.headers.get(SECRET_HEADER), self.secret_token
            )
            return response.text(refused[1], status=refused[0]) if refused else None

        telegram_webhook.middleware(only_from_telegram, "request")
        return telegram_webhook


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def register_webhook(bot: TelegramOutput, url: str | None, secret: str) -> Any:
    """Bot API's setWebhook with a secret token (aiogram 2.15, which Rasa pins, predates the parameter)."""
    payload: dict[str, Any] = {"url": url}
    if secret:
        payload["secret_token"] = secret
    return await bot.request("setWebhook", payload)


def telegram_request_problem(
    path: str, method: str, given: str | None, secret: str
) -> tuple[int, str] | None:
    """Why a request to the Telegram channel is refused, or None."""
    if path.rstrip("/").endswith("/set_webhook"):
        return 403, "the webhook is registered at start-up, with its secret"
    posted = method == "POST" and path.rstrip("/").endswith("/webhook")
    if posted and (not secret or not hmac.compare_digest((given or "").encode(), secret.encode())):
        return 401, f"updates come from Telegram only ({SECRET_HEADER})"
    return None


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
