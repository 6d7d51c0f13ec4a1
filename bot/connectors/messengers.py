"""Messenger connectors that need a fix over Rasa 3.6's own to receive an engineer's pushed messages."""

from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput


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
