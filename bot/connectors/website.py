"""The website widget's socket.io channel: Rasa's own, plus the engineer's name on an engineer's message.

The helpdesk service appends an engineer's reply to the conversation as a bot event whose metadata
carries `agent` (name and tier) and pushes it with `output_channel=latest`. Rasa's socketio output
sends only the text; this one sends `{"text", "agent"}` in one `bot_uttered` message, so the widget can
show who is writing. The bot's own messages, buttons and every other channel are unchanged.
"""

from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput


class WebsiteOutput(SocketIOOutput):
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        agent = kwargs.get("agent")
        if isinstance(agent, dict) and agent.get("name"):
            who = {"name": str(agent["name"]), "tier": str(agent.get("tier") or "")}
            await self._send_message(recipient_id, {"text": text, "agent": who})
            return
        await super().send_text_message(recipient_id, text, **kwargs)


class WebsiteInput(SocketIOInput):
    """Registered as `socketio` (its name), so handoffs and `output_channel=latest` see no difference."""

    def get_output_channel(self) -> OutputChannel | None:
        output = super().get_output_channel()
        if output is None or self.sio is None:
            return output
        return WebsiteOutput(self.sio, self.bot_message_evt)
