"""Ticket status: by number (only tickets opened from this conversation), or all of this chat's."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from urllib.parse import quote

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import flow
from actions.service.client import HelpdeskClient, HelpdeskUnavailable

logger = logging.getLogger(__name__)
_NUMBER = re.compile(r"\bHD[-\s]?(\d{4,6})\b", re.I)
STATUS_WORDS = {
    "waiting": "is waiting for an engineer",
    "assigned": "is being worked on",
    "resolved": "is resolved",
}


def ticket_number(tracker: Tracker) -> str | None:
    found = flow.latest_entity(tracker, "ticket_number") or flow.latest_text(tracker)
    match = _NUMBER.search(found or "")
    return f"HD-{int(match.group(1)):05d}" if match else None


def describe(ticket: dict[str, object]) -> str:
    status = str(ticket.get("status"))
    tier = str(ticket.get("tier", "")).upper()
    words = STATUS_WORDS.get(status, f"is {status}")
    where = f" ({tier})" if status != "resolved" and tier else ""
    return f"{ticket.get('number')} {words}{where}, last updated {_ago(str(ticket.get('updated_at', '')))}."


def _ago(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "recently"
    minutes = int((datetime.now(timezone.utc) - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago" if minutes < 48 * 60 else moment.strftime("on %d %b %Y")


class ActionTicketStatus(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = ticket_number(tracker)
        conversation = {"conversation_id": tracker.sender_id}
        client = HelpdeskClient.from_env()
        try:
            if number:
                status, body = await client.call(
                    "GET", f"/api/v1/tickets/{quote(number)}", params=conversation
                )
            else:
                status, body = await client.call("GET", "/api/v1/tickets", params=conversation)
        except HelpdeskUnavailable as exc:
            logger.warning("ticket lookup failed: %s", exc)
            dispatcher.utter_message(response="utter_tickets_unavailable")
            return []
        if number and status == 200:
            dispatcher.utter_message(text=describe(body))
        elif number:
            dispatcher.utter_message(response="utter_ticket_not_found", ticket_number=number)
        else:
            tickets = body.get("tickets") or []
            if not tickets:
                dispatcher.utter_message(response="utter_no_tickets")
            else:
                dispatcher.utter_message(text="\n".join(describe(ticket) for ticket in tickets[:5]))
        return [SlotSet("ticket_number", number)]
