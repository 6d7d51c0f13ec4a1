"""What the code running inside the Rasa process (bot/connectors) may use of the actions, and nothing else:
the handoff payload and the service client (the action fallback hands a customer over when the action
server is down) and the session overrides (a new chat and `/restart` still work then)."""

from actions.conversation.session import ActionRestart, ActionSessionStart
from actions.handoff.payload import build_handoff_payload
from actions.service.client import Handoff, HelpdeskClient, HelpdeskUnavailable

__all__ = [
    "ActionRestart",
    "ActionSessionStart",
    "Handoff",
    "HelpdeskClient",
    "HelpdeskUnavailable",
    "build_handoff_payload",
]
