"""Guided device setup from the knowledge base's step lists: one step at a time, "did that work?".

On a "no" the bot helps once with that step (its check and the article's troubleshooting section);
a second "no" hands over with every step tried and the failing one in the handoff's context.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.conversation.devices import canonical_device
from actions.knowledge.format import step_text, trouble_section
from actions.service import knowledge as kb_client

SETUP_SLOTS = ("setup_article", "setup_step", "setup_help_given")


class ValidateDeviceForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_device_form"

    async def validate_device(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not value:
            return {"device": None}
        device = canonical_device(str(value))
        if device is None:
            dispatcher.utter_message(response="utter_device_unknown")
        return {"device": device}


async def _pick_article(query: str, device: str | None) -> kb_client.Article | None:
    """The best matching article with steps, preferring one that applies to the device."""
    hits, abstain = await kb_client.search(query)
    if abstain:
        return None
    fetched = [a for a in [await kb_client.article(h.article_id) for h in hits if h.has_steps][:3] if a]
    with_steps = [a for a in fetched if a.steps]
    if device:
        for article in with_steps:
            if device in article.applies_to:
                return article
    return with_steps[0] if with_steps else None


class ActionDeviceSetup(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_device_setup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        device = tracker.get_slot("device")
        asked = flow.text_of_latest_intent(tracker, {"device_setup"})
        query = " ".join(part for part in (asked, tracker.get_slot("topic"), device) if part)
        article = await _pick_article(query or "set up a new device", device)
        if article is None:
            # No guided setup for this: answer from the knowledge base instead.
            return [SlotSet("kb_query", query), flow.outcome(flow.USE_KB)]
        dispatcher.utter_message(response="utter_setup_start", title=article.title, count=len(article.steps))
        dispatcher.utter_message(text=step_text(article, 0))
        dispatcher.utter_message(response="utter_did_step_work")
        return [
            SlotSet("setup_article", article.id),
            SlotSet("setup_step", 0),
            SlotSet("setup_help_given", False),
            flow.outcome(flow.CONTINUE),
        ]


class ActionDeviceStep(Action):  # type: ignore[misc]
    """The customer's yes/no to "did that work?" for the current step."""

    def name(self) -> str:
        return "action_device_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        article_id = tracker.get_slot("setup_article")
        article = await kb_client.article(article_id) if article_id else None
        index = int(tracker.get_slot("setup_step") or 0)
        if article is None or index >= len(article.steps):
            dispatcher.utter_message(response="utter_how_can_i_help")
            return [*(SlotSet(name, None) for name in SETUP_SLOTS), flow.outcome(flow.CONTINUE)]

        worked = flow.latest_intent(tracker) == "affirm"
        helped_before = bool(tracker.get_slot("setup_help_given"))
        label = (
            f"{article.id} step {index + 1} of {len(article.steps)}: {article.steps[index]['instruction']}"
        )
        verdict = "worked" if worked else ("did not work after help" if helped_before else "did not work")
        tried = [*flow.slot_list(tracker, "steps_tried"), f"{label} -> {verdict}"]
        events: list[EventType] = [SlotSet("steps_tried", tried)]

        if worked:
            if index + 1 == len(article.steps):
                dispatcher.utter_message(response="utter_setup_done", title=article.title)
                return [*events, *(SlotSet(name, None) for name in SETUP_SLOTS), *flow.ask_rating(dispatcher)]
            dispatcher.utter_message(text=step_text(article, index + 1))
            dispatcher.utter_message(response="utter_did_step_work")
            return [
                *events,
                SlotSet("setup_step", index + 1),
                SlotSet("setup_help_given", False),
                flow.outcome(flow.CONTINUE),
            ]

        if not helped_before:
            dispatcher.utter_message(response="utter_step_help_intro")
            check = article.steps[index].get("check")
            if check:
                dispatcher.utter_message(response="utter_step_expected", check=check)
            trouble = trouble_section(article)
            if trouble:
                dispatcher.utter_message(text=f"From the article: {trouble}")
            dispatcher.utter_message(text=step_text(article, index))
            dispatcher.utter_message(response="utter_did_step_work_now")
            return [*events, SlotSet("setup_help_given", True), flow.outcome(flow.CONTINUE)]

        dispatcher.utter_message(response="utter_setup_handover")
        failing = {
            "article_id": article.id,
            "step": index + 1,
            "of": len(article.steps),
            "instruction": article.steps[index]["instruction"],
        }
        return [
            *events,
            SlotSet("failing_step", failing),
            *(SlotSet(name, None) for name in SETUP_SLOTS),
            *flow.hand_over("flow_failed", category="devices"),
        ]
