"""A suspected attack or compromise (ransomware, a password typed into a phishing page, a stolen laptop):
what to do right now, then an engineer, urgently. Never the account-unlock flow, whatever words
("my files are locked") the customer uses."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.conversation.language import language_of
from actions.service import knowledge as kb_client

# It cannot wait: p2 at least. Malware that encrypts or spreads (ransomware, a virus) can take the whole
# company down within the hour: p1, the top of the queue.
PRIORITY = "p2"
# An urgent handoff costs an engineer's attention at once: when the NLU is unsure it was an incident and
# the knowledge base clearly answers the message ("print a PDF from my iPad before a meeting", or "how do
# I report this phishing mail, I didn't click anything"), the answer comes first; the customer can still
# ask for a person.
UNSURE = 0.5
CLEAR_ANSWER = 0.45
SPREADING = re.compile(r"ransom|encrypt|bitcoin|malware|virus|trojan|worm|spread", re.IGNORECASE)
# What an incident report names, in English and German. A message with none of it ("my laptop won't join
# the company Wi-Fi, the guest one works") is treated as unsure, whatever the NLU's confidence.
SECURITY_CUES = re.compile(
    r"phish|scam|fake|suspicious|hack|compromis|breach|malware|virus|ransom|encrypt|trojan"
    r"|stolen|theft|lost|clicked|link|attachment|spoof|impersonat|bitcoin|gift ?card|teamviewer|anydesk"
    r"|remote (?:access|control)|someone (?:else )?(?:logged|signed|accessed|is using)|not me|unknown"
    r"|push|approve|mfa request|sign[- ]in request|verdächtig|betrug|gefälscht|gehackt"
    r"|schadsoftware|erpress|verschlüsselt|gestohlen|geklaut|verloren|angeklickt|anhang|fremd|unbekannt",
    re.IGNORECASE,
)


class ActionSecurityIncident(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_security_incident"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        said = flow.latest_text(tracker) or ""
        cued = bool(SECURITY_CUES.search(said))
        if confidence < UNSURE or not cued:
            hits, abstain = (
                await kb_client.search(said, language=language_of(tracker)) if said else ([], True)
            )
            # Unsure but worded like an incident: only a clear answer goes first. Nothing of an incident in
            # the words: any answer the knowledge base stands behind does.
            if (
                hits
                and not abstain
                and (hits[0].score >= CLEAR_ANSWER or not cued)
                and hits[0].article_id not in kb_client.NEEDS_AN_ENGINEER
            ):
                return [FollowupAction("action_answer_from_kb")]
        dispatcher.utter_message(response="utter_security_incident")
        priority = (
            "p1" if SPREADING.search(flow.text_of_latest_intent(tracker, {"security_incident"})) else PRIORITY
        )
        return flow.hand_over("security_incident", priority=priority, category="security")
