"""The channel connectors: the effective credentials file, the widget's socket.io output, Telegram pushes."""

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from connectors import credentials
from connectors.messengers import SECRET_HEADER, CallbackInput, TelegramInput, telegram_request_problem
from connectors.website import WebsiteInput, WebsiteOutput
from rasa.core.channels.telegram import TelegramOutput
from rasa.core.run import create_http_input_channels
from sanic import Sanic

MESSENGERS_ENV = {
    "TELEGRAM_ACCESS_TOKEN": "123456:test-token",
    "TELEGRAM_BOT_NAME": "helpdesk_bot",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
    "TELEGRAM_SECRET_TOKEN": "telegram-secret",
    "FACEBOOK_VERIFY_TOKEN": "verify-me",
    "FACEBOOK_APP_SECRET": "app-secret",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "page-token",
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "CALLBACK_URL": "http://127.0.0.1:9/messages",
    "CALLBACK_SECRET": "bridge-secret",
}


def test_no_messenger_unless_configured(tmp_path: Path) -> None:
    out = tmp_path / "credentials.yml"
    credentials.write(credentials.effective(credentials.BASE, {}), out)
    channels = create_http_input_channels(None, str(out))
    assert sorted(channel.name() for channel in channels) == ["rest", "socketio"]
    assert any(isinstance(channel, WebsiteInput) for channel in channels)


def test_every_messenger_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "credentials.yml"
    credentials.write(credentials.effective(credentials.BASE, MESSENGERS_ENV), out)
    assert out.stat().st_mode & 0o777 == 0o600, "the file holds secrets"
    document = yaml.safe_load(out.read_text())
    assert document["connectors.messengers.TelegramInput"]["access_token"] == "123456:test-token"
    assert document["slack"] == {"slack_token": "xoxb-test", "slack_signing_secret": "signing-secret"}
    channels = {channel.name(): channel for channel in create_http_input_channels(None, str(out))}
    assert sorted(channels) == ["callback", "facebook", "rest", "slack", "socketio", "telegram"]
    assert isinstance(channels["telegram"], TelegramInput)
    assert isinstance(channels["callback"], CallbackInput) and channels["callback"].secret == "bridge-secret"


def test_a_half_configured_messenger_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(credentials.PartialConfiguration, match="SLACK_SIGNING_SECRET"):
        credentials.configured({"SLACK_BOT_TOKEN": "xoxb-test"})
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": " ", "CALLBACK_URL": "http://x"}
    with pytest.raises(credentials.PartialConfiguration):
        credentials.configured(env)


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in MESSENGERS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLBACK_URL", "http://127.0.0.1:9/messages")
    monkeypatch.setenv("CALLBACK_TOKEN", "shared-secret")
    out = tmp_path / "var" / "credentials.yml"
    # Without the secret the bridge would take anyone's messages: a half-configured channel.
    assert credentials.main(["--out", str(out)]) == 2
    monkeypatch.setenv("CALLBACK_SECRET", "bridge-secret")
    assert credentials.main(["--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["connectors.messengers.CallbackInput"] == {
        "url": "http://127.0.0.1:9/messages",
        "secret": "bridge-secret",
        "token": "shared-secret",
    }
    assert "callback" in capsys.readouterr().err
    monkeypatch.setenv("TELEGRAM_ACCESS_TOKEN", "123456:test-token")
    assert credentials.main(["--out", str(out)]) == 2


class FakeSocketServer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str]] = []

    async def emit(self, event: str, data: Any = None, room: str = "", **_: Any) -> None:
        self.sent.append((event, data, room))


@pytest.mark.asyncio
async def test_the_widget_gets_the_engineers_name_with_the_message() -> None:
    sio = FakeSocketServer()
    output = WebsiteOutput(sio, "bot_uttered")  # type: ignore[arg-type]
    # What Rasa makes of the service's event: BotUttered.message() merges metadata into the message.
    alice = {"name": "alice", "tier": "l2"}
    reply = "Hi, Alice here.\n\nWhat's up?"
    await output.send_response("conv-1", {"text": reply, "agent": alice, "helpdesk_message_id": 3})
    await output.send_response("conv-1", {"text": "Hello!\n\nHow can I help?"})
    # The service's notice that the ticket waits in a queue again: the widget shows the customer waiting.
    queued = {"ticket": "HD-01001", "tier": "l3", "queue_position": 2}
    notice = "Your ticket HD-01001 has gone to our L3 engineers."
    await output.send_response("conv-1", {"text": notice, "handoff": queued, "helpdesk_message_id": 4})
    assert sio.sent == [
        ("bot_uttered", {"text": reply, "agent": alice, "helpdesk_message_id": 3}, "conv-1"),
        ("bot_uttered", {"text": "Hello!"}, "conv-1"),
        ("bot_uttered", {"text": "How can I help?"}, "conv-1"),
        ("bot_uttered", {"text": notice, "handoff": queued, "helpdesk_message_id": 4}, "conv-1"),
    ]
    channel = WebsiteInput.from_credentials({"session_persistence": True})
    assert channel.name() == "socketio"
    with pytest.warns(UserWarning, match="cannot be recreated"):
        assert channel.get_output_channel() is None  # no socket.io server yet
    channel.sio = sio  # type: ignore[assignment]
    assert isinstance(channel.get_output_channel(), WebsiteOutput)


@pytest.mark.asyncio
async def test_telegram_pushes_from_inside_the_running_server(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[tuple[str, dict[str, Any]]] = []

    async def request(_self: TelegramOutput, method: str, data: dict[str, Any]) -> bool:
        registered.append((method, data))
        return True

    monkeypatch.setattr(TelegramOutput, "request", request)
    channel = TelegramInput.from_credentials(
        {
            "access_token": "123456:test-token",
            "verify": "helpdesk_bot",
            "webhook_url": "https://bot.example.com/hook",
            "secret_token": "telegram-secret",
        }
    )
    # Start-up (no running loop): the webhook is registered, with the secret Telegram sends back.
    await asyncio.to_thread(channel.get_output_channel)
    hook = {"url": "https://bot.example.com/hook", "secret_token": "telegram-secret"}
    assert registered == [("setWebhook", hook)]
    # An engineer's reply, inside the server's loop: Rasa's own class would call asyncio.run here.
    output = channel.get_output_channel()
    assert isinstance(output, TelegramOutput) and registered == [("setWebhook", hook)]


def test_telegram_updates_come_from_telegram_only() -> None:
    """Rasa's own channel took any POST: with a customer's chat id anyone spoke as them."""
    secret = "telegram-secret"
    path = "/webhooks/telegram/webhook"
    assert telegram_request_problem(path, "POST", secret, secret) is None
    for given in (None, "", "guess"):
        refused = telegram_request_problem(path, "POST", given, secret)
        assert refused is not None and refused[0] == 401, given
    # No secret configured: nothing is taken.
    assert telegram_request_problem(path, "POST", "", "") is not None
    # Registering again would drop the secret: closed to everyone.
    set_again = telegram_request_problem("/webhooks/telegram/set_webhook", "GET", secret, secret)
    assert set_again is not None and set_again[0] == 403
    assert telegram_request_problem("/webhooks/telegram/", "GET", None, secret) is None
    with pytest.raises(ValueError, match="TELEGRAM_SECRET_TOKEN"):
        TelegramInput.from_credentials({"access_token": "1:x", "verify": "b", "webhook_url": "https://x"})


@pytest.mark.asyncio
async def test_the_telegram_webhook_refuses_what_telegram_did_not_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The channel in a real Sanic server, as Rasa mounts it (Telegram's API itself stands in)."""

    async def request(_self: TelegramOutput, _method: str, _data: dict[str, Any]) -> bool:
        return True

    monkeypatch.setattr(TelegramOutput, "request", request)
    channel = TelegramInput.from_credentials(
        {"access_token": "1:x", "verify": "bot", "webhook_url": "https://x/hook", "secret_token": "s3cret"}
    )

    async def on_new_message(_message: Any) -> None:
        raise AssertionError("nothing may reach the bot")

    app = Sanic(f"telegram{uuid.uuid4().hex[:8]}")
    # Rasa builds channels before its loop runs (the webhook is registered then, with asyncio.run).
    blueprint = await asyncio.to_thread(channel.blueprint, on_new_message)
    app.blueprint(blueprint, url_prefix="/webhooks/telegram")
    port = _free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/webhooks/telegram") as client:
            forged = await client.post("/webhook", json={"update_id": 1, "message": {"text": "it is me"}})
            wrong = await client.post("/webhook", json={"update_id": 2}, headers={SECRET_HEADER: "guess"})
            again = await client.get("/set_webhook")
            health = await client.get("/")
        assert (forged.status_code, wrong.status_code, again.status_code, health.status_code) == (
            401,
            401,
            403,
            200,
        )
    finally:
        server.close()
        await server.wait_closed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
