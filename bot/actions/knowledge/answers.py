"""Answers from the knowledge base: the best article by its title first, "did this help?", the next one.

Every article shown and the customer's verdict ("helped", "did_not_help", or "not_asked": not what
they asked) go into `kb_articles_tried`, which the handoff sends to the engineer. Only articles that
answer about as well as the first are offered next; after those, a question is asked once in other
words, then a person takes over. Unclear messages (`nlu_fallback`) try the knowledge base first, then
ask one clarifying question; a second unclear message in a row goes to a person.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.conversation.language import language_of
from actions.knowledge.format import answer_text
from actions.service import knowledge as kb_client

MAX_ARTICLES_SHOWN = 3
# The next article is offered only when it scores at least this share of the first one's: a VPN
# question gets the other VPN article, not "Your computer is slow".
CLOSE_TO_BEST = 0.8
PROBLEM_INTENTS = {"report_issue"}


def consecutive_misses(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row the bot did not understand."""
    misses = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != "nlu_fallback":
            break
        misses += 1
    return misses


async def show(
    dispatcher: CollectingDispatcher, tried: list[Any], hit: kb_client.Hit, language: str = "en"
) -> list[EventType]:
    """Shows one article and asks whether it helped; records it as tried."""
    # The summary is the short answer; the steps are fetched only when there is no summary
    # (one service call per turn instead of two: the KB turn's latency budget is 150 ms).
    article = await kb_client.article(hit.article_id) if hit.has_steps and not hit.summary else None
    if hit.language != language:
        dispatcher.utter_message(response="utter_article_in_other_language")
    dispatcher.utter_message(text=answer_text(hit, article, language))
    dispatcher.utter_message(response="utter_did_that_help")
    tried = [*tried, {"article_id": hit.article_id, "title": hit.title, "verdict": "shown"}]
    return [
        SlotSet("kb_articles_tried", tried),
        SlotSet("kb_current", hit.article_id),
        flow.outcome(flow.CONTINUE),
    ]


class ActionAnswerFromKb(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = flow.latest_intent(tracker)
        misses = consecutive_misses(tracker) if intent == "nlu_fallback" else 0
        if misses >= 2:
            dispatcher.utter_message(response="utter_still_not_understood")
            return flow.hand_over("low_confidence")

        query = tracker.get_slot("kb_query") or flow.latest_text(tracker)
        hits, abstain = (
            await kb_client.search(query, language=language_of(tracker))
            if query and not query.startswith("/")
            else ([], True)
        )
        # Never the same article twice once the customer said no to it.
        declined = flow.turned_down(tracker)
        hits = [hit for hit in hits if hit.article_id not in declined]
        events: list[EventType] = [SlotSet("kb_query", None), SlotSet("kb_flow", _flow_of(tracker, intent))]
        if hits and not abstain and hits[0].article_id in kb_client.NEEDS_AN_ENGINEER:
            # However it was put ("stolen from my car, what now?"), an engineer locks the device now.
            return [*events, FollowupAction("action_security_incident")]
        if hits and not abstain:
            best = hits[0].score
            close = [hit for hit in hits[1:MAX_ARTICLES_SHOWN] if hit.score >= best * CLOSE_TO_BEST]
            candidates = [asdict(hit) for hit in close]
            tried = flow.slot_list(tracker, "kb_articles_tried")
            return [
                *events,
                SlotSet("kb_candidates", candidates),
                *await show(dispatcher, tried, hits[0], language_of(tracker)),
            ]

        if intent == "nlu_fallback":
            dispatcher.utter_message(response="utter_clarify")
            return [*events, flow.outcome(flow.CONTINUE)]
        if intent in PROBLEM_INTENTS:
            dispatcher.utter_message(response="utter_collect_details")
            return [*events, SlotSet("issue_summary", query[:500]), flow.outcome(flow.COLLECT_DETAILS)]
        if not tracker.get_slot("kb_rephrased"):
            dispatcher.utter_message(response="utter_kb_rephrase")
            return [*events, SlotSet("kb_rephrased", True), flow.outcome(flow.CONTINUE)]
        dispatcher.utter_message(response="utter_kb_no_answer")
        return [*events, SlotSet("kb_rephrased", False), *flow.hand_over("kb_no_answer")]


class ActionKbFeedback(Action):  # type: ignore[misc]
    """The customer's yes/no to "did this help?"."""

    def name(self) -> str:
        return "action_kb_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = tracker.get_slot("kb_current")
        if not current:
            dispatcher.utter_message(response="utter_how_can_i_help")
            return [flow.outcome(flow.CONTINUE)]
        helped = flow.latest_intent(tracker) == "affirm"
        verdict = (
            "helped"
            if helped
            else ("not_asked" if flow.latest_entity(tracker, "verdict") == "not_asked" else "did_not_help")
        )
        tried = [
            _with_verdict(item, current, verdict) for item in flow.slot_list(tracker, "kb_articles_tried")
        ]
        events: list[EventType] = [SlotSet("kb_articles_tried", tried), SlotSet("kb_current", None)]
        if helped:
            dispatcher.utter_message(response="utter_glad_it_helped")
            return [
                *events,
                SlotSet("kb_candidates", None),
                SlotSet("kb_rephrased", False),
                *flow.ask_rating(dispatcher, tracker),
            ]

        candidates = flow.slot_list(tracker, "kb_candidates")
        if candidates:
            dispatcher.utter_message(response="utter_try_another_article")
            shown = await show(dispatcher, tried, kb_client.Hit.from_api(candidates[0]), language_of(tracker))
            return [*events, SlotSet("kb_candidates", candidates[1:]), *shown]
        if tracker.get_slot("kb_flow") == "problem":
            dispatcher.utter_message(response="utter_collect_details")
            summary = flow.text_of_latest_intent(tracker, PROBLEM_INTENTS)
            return [
                *events,
                SlotSet("issue_summary", summary[:500] or None),
                flow.outcome(flow.COLLECT_DETAILS),
            ]
        if not tracker.get_slot("kb_rephrased"):
            # One more try in the customer's own other words before a person takes over.
            dispatcher.utter_message(response="utter_kb_rephrase")
            return [*events, SlotSet("kb_rephrased", True), flow.outcome(flow.CONTINUE)]
        dispatcher.utter_message(response="utter_kb_exhausted")
        return [*events, SlotSet("kb_rephrased", False), *flow.hand_over("kb_no_answer")]


def _with_verdict(item: Any, current: str, verdict: str) -> Any:
    if isinstance(item, dict) and item.get("article_id") == current and item.get("verdict") == "shown":
        return {**item, "verdict": verdict}
    return item


def _flow_of(tracker: Tracker, intent: str | None) -> str:
    return "problem" if intent in PROBLEM_INTENTS else "question"


# A message the NLU placed outside IT is answered from the knowledge base after all when an article
# answers it this well (a hybrid score clearly above the search's own abstention threshold): declining
# an IT question costs the customer more than an article they can say "no" to.
OUT_OF_SCOPE_BUT_ANSWERED = 0.4


class ActionOutOfScope(Action):  # type: ignore[misc]
    """Outside what IT helps with, unless the knowledge base clearly answers it."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = flow.latest_text(tracker)
        hits, abstain = (
            await kb_client.search(text, language=language_of(tracker))
            if text and not text.startswith("/")
            else ([], True)
        )
        if hits and not abstain and hits[0].score >= OUT_OF_SCOPE_BUT_ANSWERED:
            return [FollowupAction("action_answer_from_kb")]
        dispatcher.utter_message(response="utter_out_of_scope")
        return []
