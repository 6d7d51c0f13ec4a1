"""Reporting a problem the knowledge base could not solve: the essentials, then an engineer.

Collected by `issue_form`: since when, the error text, the device, how many people are affected
(impact) and how badly it stops their work (urgency). Priority = impact x urgency (see PRIORITY).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.conversation.devices import device_of

# The team first: "my whole team" is a team, "the whole office" is many.
IMPACT_WORDS = {
    "team": r"team|department|colleagues|several|some|a few|few people|group",
    "many": r"every(one|body)|whole|all of us|company|office|building|site|floor|many|lots",
    "me": r"\bme\b|myself|only|just|single|one person|\bi\b",
}
URGENCY_WORDS = {
    "high": r"can'?t work|cannot work|(?:nobody|no one) can work|blocked|stopped|nothing works|urgent"
    r"|asap|critical|down|high|deadline|month[- ]end|closing today|due today|in (?:an|one) hour"
    r"|before (?:my|the|a) (?:meeting|presentation)|dringend|sofort|kann nicht arbeiten"
    r"|monatsabschluss|frist",
    "medium": r"slow|partly|partially|workaround|some things|annoying|medium|degraded",
    "low": r"wait|not urgent|whenever|no rush|low|minor|cosmetic",
}
# (impact, urgency) -> priority: p1 = the whole company cannot work ... p4 = one person, can wait.
PRIORITY = {
    ("many", "high"): "p1",
    ("many", "medium"): "p2",
    ("many", "low"): "p3",
    ("team", "high"): "p2",
    ("team", "medium"): "p3",
    ("team", "low"): "p3",
    ("me", "high"): "p3",
    ("me", "medium"): "p3",
    ("me", "low"): "p4",
}
CATEGORY_WORDS = {
    "network": r"vpn|wi-?fi|wifi|network|internet|hotspot|ethernet",
    "email": r"e-?mail|outlook|mailbox|calendar",
    "printing": r"print|scan",
    "accounts": r"password|account|login|log in|sign in|mfa|authenticator|sso",
    "collaboration": r"teams|zoom|meeting|headset|camera|audio|microphone",
    "files": r"onedrive|sharepoint|shared drive|network drive|file",
    "devices": r"laptop|computer|pc|mac|iphone|android|phone|monitor|dock|keyboard|mouse|disk|slow",
    "software": r"install|software|app|licen[cs]e|update",
}


def _match(table: dict[str, str], text: str) -> str | None:
    lowered = text.lower()
    return next((key for key, pattern in table.items() if re.search(pattern, lowered)), None)


# What a slot holds when the customer could not say: the form moves on, the engineer sees "unknown".
UNKNOWN = "unknown"


def _one_of(
    tracker: Tracker,
    dispatcher: CollectingDispatcher,
    slot: str,
    table: dict[str, str],
    text: str,
    rephrase: str,
) -> dict[str, Any]:
    """One of the table's answers; "not sure", or a second answer the bot cannot read, moves on as
    unknown (a person reads the words in the transcript); the first such answer is asked once more."""
    if flow.latest_intent(tracker) == "dont_know" or flow.not_sure(text):
        return {slot: UNKNOWN, **flow.retry_reset(slot, tracker)}
    found = _match(table, text)
    if found is not None:
        return {slot: found, **flow.retry_reset(slot, tracker)}
    if not text or flow.retried(tracker, slot):
        return {slot: UNKNOWN, **flow.retry_reset(slot, tracker)}
    dispatcher.utter_message(response=rephrase)
    return {slot: None, **flow.retry_counted(slot, tracker)}


def priority_for(impact: str | None, urgency: str | None) -> str:
    impact = impact if impact and impact != UNKNOWN else "me"
    urgency = urgency if urgency and urgency != UNKNOWN else "medium"
    return PRIORITY.get((impact, urgency), "p3")


def category_for(*texts: str | None) -> str:
    joined = " ".join(text for text in texts if text)
    return _match(CATEGORY_WORDS, joined) or "incidents"


class ValidateIssueForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_issue_form"

    async def validate_issue_impact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _one_of(
            tracker, dispatcher, "issue_impact", IMPACT_WORDS, str(value or ""), "utter_choose_impact"
        )

    async def validate_issue_urgency(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _one_of(
            tracker, dispatcher, "issue_urgency", URGENCY_WORDS, str(value or ""), "utter_choose_urgency"
        )

    async def validate_device(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Any answer is useful to an engineer ("the big printer on floor 2"); keep it short.
        text = str(value or "").strip()[:200]
        return {"device": device_of(text) or text or None}

    async def validate_issue_since(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"issue_since": str(value or "").strip()[:200] or None}

    async def validate_issue_error(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"issue_error": str(value or "").strip()[:500] or None}


class ActionSubmitIssue(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """Category and priority for the handoff; `action_handoff` runs next (rules.yml)."""

    def name(self) -> str:
        return "action_submit_issue"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        summary = tracker.get_slot("issue_summary") or flow.text_of_latest_intent(tracker, {"report_issue"})
        category = category_for(summary, tracker.get_slot("topic"), tracker.get_slot("device"))
        impact, urgency = tracker.get_slot("issue_impact"), tracker.get_slot("issue_urgency")
        # "Not sure" is no answer: what the customer wrote about the problem still tells ("the whole
        # finance team", "month-end closing today").
        if impact in (None, UNKNOWN):
            impact = _match(IMPACT_WORDS, summary or "") or impact
        if urgency in (None, UNKNOWN):
            urgency = _match(URGENCY_WORDS, summary or "") or urgency
        priority = priority_for(impact, urgency)
        reason = "kb_no_answer" if flow.slot_list(tracker, "kb_articles_tried") else "reported_issue"
        dispatcher.utter_message(response="utter_issue_thanks")
        return flow.hand_over(reason, priority=priority, category=category)
