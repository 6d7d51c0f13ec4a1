"""The website widget's socket.io channel: Rasa's own, plus the engineer's name on an engineer's message.

The helpdesk service appends an engineer's reply to the conversation as a bot event whose metadata
carries `agent` (name and tier) and pushes it with `output_channel=latest`. Rasa's socketio output
sends only the text; this one sends `{"text", "agent", "helpdesk_message_id"}` in one `bot_uttered`
message, so the widget can show who is writing and knows which replies it has (it fetches the ones it
missed from the service by that id). The service's notice that a ticket waits in a queue again
(escalated, released) carries `handoff` (ticket, tier, place in the queue) instead of `agent`: sent as
`{"text", "handoff", "helpdesk_message_id"}`, it shows the customer waiting again. The bot's own
messages, buttons and every other channel are unchanged.

It also installs the action fallback (connectors.action_fallback) in the Rasa process: when the action
server is down, the customer is told and handed to an engineer instead of getting no answer; and the
action server's answers are checked by a validator built once (connectors.action_results).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from connectors import action_results
from connectors.action_fallback import Installer
from connectors.guard import guard_socketio
from connectors.shared_rooms import share_rooms_through_redis


class WebsiteOutput(SocketIOOutput):
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        agent, queued = kwargs.get("agent"), kwargs.get("handoff")
        message: dict[str, Any] = {"text": text}
        if isinstance(agent, dict) and agent.get("name"):
            message["agent"] = {"name": str(agent["name"]), "tier": str(agent.get("tier") or "")}
        elif isinstance(queued, dict) and queued.get("ticket"):
            position = queued.get("queue_position")
            message["handoff"] = {
                "ticket": str(queued["ticket"]),
                "tier": str(queued.get("tier") or ""),
                "queue_position": position if _is_int(position) else None,
            }
        else:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        reply_id = kwargs.get("helpdesk_message_id")
        if _is_int(reply_id):
            # The widget's key for the line: it catches up on the ones it missed by this id.
            message["helpdesk_message_id"] = reply_id
        await self._send_message(recipient_id, message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class WebsiteInput(SocketIOInput):
    """Registered as `socketio` (its name), so handoffs and `output_channel=latest` see no difference."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # The action fallback (connectors.action_fallback): never silence when the action server is down.
        installer = Installer()
        action_results.install()
        blueprint: Blueprint = super().blueprint(installer.guard(on_new_message))
        installer.listen_on(blueprint)
        if self.sio is not None:
            share_rooms_through_redis(self.sio)
        guard_socketio(self)  # What a client may send (connectors/guard.py)
        return blueprint

    def get_output_channel(self) -> OutputChannel | None:
        output = super().get_output_channel()
        if output is None or self.sio is None:
            return output
        return WebsiteOutput(self.sio, self.bot_message_evt)
