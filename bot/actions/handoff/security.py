"""A suspected attack or compromise (ransomware, a password typed into a phishing page, a stolen laptop):
what to do right now, then an engineer, urgently. Never the account-unlock flow, whatever words
("my files are locked") the customer uses."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow

# Impact unknown but possibly wide, and it cannot wait: p2 at least (the queue's second rank; p1 is kept
# for a whole company that cannot work, which the engineer can raise it to).
PRIORITY = "p2"


class ActionSecurityIncident(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_security_incident"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_security_incident")
        return flow.hand_over("security_incident", priority=PRIORITY, category="security")
