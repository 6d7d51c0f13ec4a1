"""Guided setup from the knowledge base's step lists: the right guide, confirmed, then one step at a time.

The guide is picked by what the customer asked, the device second: the knowledge base ranks guides for
the question alone, and the device only chooses among guides that answer it about as well (the VPN guide
for Windows over the one for macOS), never a guide about something else that happens to mention the
device ("Install Windows updates" for a VPN question). When the closest guides differ only by system and
the device is unknown, the bot asks which device first.

Before step 1 the customer confirms the guide by its title ("I can walk you through ..."), with the
next best guides as buttons and "Something else". A "no" asks once what they want to set up; a second
miss answers from the knowledge base, which ends with a person when nothing helps.

In the guide, a "no" to a step shows what the step should look like when it works and asks again; a
second "no" hands over with every step tried and the failing one in the handoff's context.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.conversation.devices import device_in_message, device_of
from actions.conversation.language import language_of, text
from actions.knowledge.format import step_text
from actions.service import knowledge as kb_client

SETUP_SLOTS = ("setup_article", "setup_step", "setup_help_given", "setup_offered")
# A guide answers "about as well" as the best article when its score is at least this share of the
# best's: only those are offered, and the device picks among them.
CLOSE_TO_BEST = 0.85
# The system's own version of a close guide (VPN on macOS beside VPN on Windows) may rank a little lower
# for a question that does not name the system; once the customer has said it, it comes first if it is
# at least this close.
SAME_GUIDE_OTHER_SYSTEM = 0.7
MAX_OFFERED = 3
ASK_DEVICE = "ask_device"


class ValidateDeviceForm(FormValidationAction):  # type: ignore[misc]
    """Which device: a known system, or "not sure"; anything else once more, then the bot moves on."""

    def name(self) -> str:
        return "validate_device_form"

    async def validate_device(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if flow.latest_intent(tracker) == "dont_know":
            return {"device": "unknown"}
        device = device_of(str(value or ""))
        if device is not None:
            return {"device": device}
        if flow.retried(tracker, "device"):
            # An error message or a description instead of a device: the guide search still has the
            # question; the engineer, if one is needed, gets the answer in the transcript.
            return {"device": "unknown", **flow.retry_reset("device", tracker)}
        dispatcher.utter_message(response="utter_device_unknown")
        return {"device": None, **flow.retry_counted("device", tracker)}


async def guides(
    query: str, language: str = "en", skip: frozenset[str] | set[str] = frozenset()
) -> tuple[list[tuple[kb_client.Article, float]], float]:
    """Articles with steps among the answers to `query`, best first, with their search scores, and the
    best answer's score (with steps or not: an article without steps may answer best). Articles in
    `skip` (the customer already said no to them) are left out."""
    hits, abstain = await kb_client.search(query, k=min(20, 6 + len(skip)), language=language)
    hits = [hit for hit in hits if hit.article_id not in skip]
    if abstain or not hits:
        return [], 0.0
    best = hits[0].score
    found: list[tuple[kb_client.Article, float]] = []
    for hit in hits:
        if not hit.has_steps or hit.score < best * SAME_GUIDE_OTHER_SYSTEM or len(found) >= MAX_OFFERED + 2:
            continue
        article = await kb_client.article(hit.article_id)
        if article and article.steps:
            found.append((article, hit.score))
    return found, best


def choose(
    candidates: list[tuple[kb_client.Article, float]], device: str | None, best: float
) -> list[kb_client.Article]:
    """The guides to offer, in order: those close to the best answer, by the question; the ones for the
    device first, including the device's version of a close guide that ranks a little lower."""
    close = [article for article, score in candidates if score >= best * CLOSE_TO_BEST]
    if not device or device == "unknown":
        return close
    variants = [
        article
        for article, score in candidates
        if article not in close
        and device in article.applies_to
        and score >= best * SAME_GUIDE_OTHER_SYSTEM
        and any(_same_topic(article, other) for other in close)
    ]
    return sorted(close + variants, key=lambda article: 0 if device in article.applies_to else 1)


def _same_topic(article: kb_client.Article, other: kb_client.Article) -> bool:
    """Two guides for the same thing on different systems ("vpn-windows", "vpn-macos")."""
    return article.id.split("-")[0] == other.id.split("-")[0] and article.applies_to != other.applies_to


def needs_device(candidates: list[tuple[kb_client.Article, float]], device: str | None, best: float) -> bool:
    """The close guides are for different systems, and the customer has not said which one they use."""
    if device:
        return False
    systems = {
        tuple(sorted(article.applies_to))
        for article, score in candidates
        if score >= best * SAME_GUIDE_OTHER_SYSTEM and article.applies_to
    }
    close_topics = {
        article.id.split("-")[0] for article, score in candidates if score >= best * CLOSE_TO_BEST
    }
    variants = [
        a
        for a, score in candidates
        if score >= best * SAME_GUIDE_OTHER_SYSTEM and a.id.split("-")[0] in close_topics
    ]
    return len(systems) > 1 and len({tuple(sorted(a.applies_to)) for a in variants}) > 1


def offer(
    dispatcher: CollectingDispatcher, guides_in_order: list[kb_client.Article], language: str
) -> list[EventType]:
    """Names the guide and lets the customer confirm it before step 1 (or pick another)."""
    top = guides_in_order[0]
    buttons = [{"title": text(language, "guide_yes"), "payload": "/affirm"}]
    for other in guides_in_order[1:MAX_OFFERED]:
        payload = "/choose_article" + json.dumps({"article_id": other.id})
        buttons.append({"title": other.title, "payload": payload})
    buttons.append({"title": text(language, "guide_other"), "payload": "/deny"})
    dispatcher.utter_message(
        text=text(language, "guide_offer", title=top.title, count=len(top.steps)), buttons=buttons
    )
    return [
        SlotSet("setup_article", top.id),
        SlotSet("setup_step", None),
        SlotSet("setup_help_given", False),
        SlotSet("setup_offered", [article.id for article in guides_in_order[:MAX_OFFERED]]),
        flow.outcome(flow.CONTINUE),
    ]


def setup_query(tracker: Tracker) -> str:
    """What the customer asked to set up: their latest setup request, not their answer to "which
    device?" (kept in `setup_query` while the device question is open)."""
    kept = tracker.get_slot("setup_query")
    if kept and flow.active_loop_just_ended(tracker, "device_form"):
        return str(kept)
    asked = flow.text_of_latest_intent(tracker, {"device_setup"}) or flow.latest_text(tracker)
    topic = tracker.get_slot("topic")
    return " ".join(
        part for part in (asked, topic if topic and topic.lower() not in asked.lower() else None) if part
    )


class ActionDeviceSetup(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    """Finds the guide for what the customer asked and offers it (or asks the device first)."""

    def name(self) -> str:
        return "action_device_setup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        asking_again = flow.active_loop_just_ended(tracker, "device_form")
        # A device named in this request, or answered just now; never one left over from an earlier flow.
        device = device_in_message(tracker) or (tracker.get_slot("device") if asking_again else None)
        query = setup_query(tracker)
        candidates, best = await guides(
            query or "set up a new device", language_of(tracker), skip=flow.turned_down(tracker)
        )
        events: list[EventType] = [SlotSet("device", device)]
        in_order = choose(candidates, device, best)
        if not in_order:
            # The best answer has no steps (or there is none): the knowledge base answers instead.
            dispatcher.utter_message(response="utter_setup_no_guide")
            return [
                *events,
                SlotSet("kb_query", query),
                SlotSet("setup_query", None),
                flow.outcome(flow.USE_KB),
            ]
        if not asking_again and needs_device(candidates, device, best):
            return [*events, SlotSet("setup_query", query), flow.outcome(ASK_DEVICE)]
        return [*events, SlotSet("setup_query", None), *offer(dispatcher, in_order, language_of(tracker))]


class ActionDeviceStep(Action):  # type: ignore[misc]
    """The customer's answer to the guide offer, or to "did that work?" for the current step."""

    def name(self) -> str:
        return "action_device_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        article_id = tracker.get_slot("setup_article")
        chose = flow.latest_intent(tracker) == "choose_article"
        if chose or (article_id and tracker.get_slot("setup_step") is None):
            return await self._offer_answered(dispatcher, tracker)
        article = await kb_client.article(article_id) if article_id else None
        index = int(tracker.get_slot("setup_step") or 0)
        if article is None or index >= len(article.steps):
            dispatcher.utter_message(response="utter_how_can_i_help")
            return [*(SlotSet(name, None) for name in SETUP_SLOTS), flow.outcome(flow.CONTINUE)]
        return await self._step_answered(dispatcher, tracker, article, index)

    async def _offer_answered(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        intent = flow.latest_intent(tracker)
        chosen = flow.latest_entity(tracker, "article_id") if intent == "choose_article" else None
        if intent == "affirm" or chosen:
            article = await kb_client.article(chosen or tracker.get_slot("setup_article"))
            if article is None or not article.steps:
                dispatcher.utter_message(response="utter_how_can_i_help")
                return [*(SlotSet(name, None) for name in SETUP_SLOTS), flow.outcome(flow.CONTINUE)]
            dispatcher.utter_message(
                response="utter_setup_start", title=article.title, count=len(article.steps)
            )
            dispatcher.utter_message(
                text=step_text(article, 0, language=language_of(tracker)),
                buttons=flow.yes_no_buttons(tracker),
            )
            return [
                SlotSet("setup_article", article.id),
                SlotSet("setup_step", 0),
                SlotSet("setup_help_given", False),
                flow.outcome(flow.CONTINUE),
            ]
        # Not this guide.
        tried = [*flow.slot_list(tracker, "kb_articles_tried")]
        tried += [
            {"article_id": a, "verdict": "guide_declined"} for a in flow.slot_list(tracker, "setup_offered")
        ]
        events: list[EventType] = [
            SlotSet("kb_articles_tried", tried),
            *(SlotSet(name, None) for name in SETUP_SLOTS),
        ]
        if not tracker.get_slot("setup_rephrased"):
            dispatcher.utter_message(response="utter_setup_clarify")
            return [*events, SlotSet("setup_rephrased", True), flow.outcome(flow.CONTINUE)]
        # Asked once already: the knowledge base's answer for what they said, then a person.
        query = flow.text_of_latest_intent(tracker, {"device_setup"})
        return [
            *events,
            SlotSet("setup_rephrased", False),
            SlotSet("kb_query", query),
            flow.outcome(flow.USE_KB),
        ]

    async def _step_answered(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, article: kb_client.Article, index: int
    ) -> list[EventType]:
        worked = flow.latest_intent(tracker) == "affirm"
        helped_before = bool(tracker.get_slot("setup_help_given"))
        label = (
            f"{article.id} step {index + 1} of {len(article.steps)}: {article.steps[index]['instruction']}"
        )
        verdict = "worked" if worked else ("did not work after help" if helped_before else "did not work")
        events: list[EventType] = [
            SlotSet("steps_tried", [*flow.slot_list(tracker, "steps_tried"), f"{label} -> {verdict}"])
        ]

        if worked:
            if index + 1 == len(article.steps):
                dispatcher.utter_message(response="utter_setup_done", title=article.title)
                tried = [
                    *flow.slot_list(tracker, "kb_articles_tried"),
                    {"article_id": article.id, "title": article.title, "verdict": "guide_completed"},
                ]
                return [
                    *events,
                    SlotSet("kb_articles_tried", tried),
                    SlotSet("setup_rephrased", False),
                    *(SlotSet(name, None) for name in SETUP_SLOTS),
                    *flow.ask_rating(dispatcher, tracker),
                ]
            dispatcher.utter_message(
                text=step_text(article, index + 1, language=language_of(tracker)),
                buttons=flow.yes_no_buttons(tracker),
            )
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
            dispatcher.utter_message(
                text=step_text(article, index, with_check=False, language=language_of(tracker))
            )
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
            SlotSet("setup_rephrased", False),
            *(SlotSet(name, None) for name in SETUP_SLOTS),
            *flow.hand_over("flow_failed", category="devices"),
        ]
