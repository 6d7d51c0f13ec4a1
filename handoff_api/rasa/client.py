"""Talks to Rasa's HTTP API: appends events to a conversation and lets Rasa push them to the customer.

aiohttp, not httpx: every engineer's reply is one call here, on the worker that also serves the desk.
Measured against the bench's stand-in Rasa, a call cost 0.73 ms of CPU with httpx and 0.20 ms with aiohttp,
and httpx was most of the outbox deliverer's CPU (bench/service_throughput.py, message phase).
"""

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp


class RasaUnavailable(Exception):
    pass


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop that runs it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _unavailable(self, what: str) -> RasaUnavailable:
        # Rasa's token travels in the query string (its token auth): an error naming the URL must not
        # carry it into the outbox's last_error or a log line.
        return RasaUnavailable(what.replace(self._token, "***") if self._token else what)

    async def _call(
        self, method: str, path: str, params: dict[str, str], payload: Any = None, *, answer: bool = False
    ) -> Any:
        """Rasa's JSON answer when `answer` (else None: a delivery needs only the status); RasaUnavailable
        when Rasa cannot be reached or answers with an error."""
        try:
            async with self._http().request(
                method, self._base_url + path, params=params, json=payload
            ) as response:
                if response.status >= 400:
                    text = await response.text(errors="replace")
                    raise self._unavailable(f"Rasa answered {response.status}: {text[:300]}")
                if not answer:
                    await response.read()  # the connection goes back to the pool
                    return None
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe='')}"

    async def append_events(
        self, conversation_id: str, events: list[dict[str, Any]], channel: str | None = None
    ) -> None:
        # execute_side_effects + output_channel: Rasa delivers bot events through `channel`, the one the
        # handoff was opened on, never "the channel the conversation id last wrote on": a stranger who
        # writes with the same id on another channel must not receive the engineer's replies.
        params = {"execute_side_effects": "true", "output_channel": _output(channel), "token": self._token}
        await self._call("POST", f"{self._conversation(conversation_id)}/tracker/events", params, events)

    async def trigger_intent(
        self, conversation_id: str, name: str, entities: dict[str, Any], channel: str | None = None
    ) -> None:
        """The bot reacts to an intent as if the customer had said it, replying on their channel."""
        params = {"output_channel": _output(channel), "token": self._token}
        payload = {"name": name, "entities": entities}
        await self._call("POST", f"{self._conversation(conversation_id)}/trigger_intent", params, payload)

    async def outbox_item_arrived(
        self, conversation_id: str, item_id: int, trigger: str | None
    ) -> tuple[bool, bool]:
        """(whether the item's events are in the conversation, whether the intent `trigger` was
        triggered after them). A retry after an attempt whose answer was lost must not reach the customer
        twice; and a hand-back whose `resume` arrived but whose trigger did not is completed on the retry
        instead of being taken for delivered."""
        params = {"include_events": "ALL", "token": self._token}
        path = f"{self._conversation(conversation_id)}/tracker"
        tracker = await self._call("GET", path, params, answer=True)
        events = tracker.get("events") if isinstance(tracker, dict) else None
        stamped, triggered = False, False
        for event in events or []:
            if not isinstance(event, dict):
                continue
            if (event.get("metadata") or {}).get("helpdesk_outbox_id") == item_id:
                stamped = True
            elif stamped and trigger and event.get("event") == "user":
                intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
                triggered = triggered or intent == trigger
        return stamped, triggered

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            # Lets the connector's transports close before the loop goes (aiohttp's advice).
            await asyncio.sleep(0)


# What the bot sends when Rasa did not say which channel a message came on.
UNKNOWN_CHANNEL = "unknown"


def _output(channel: str | None) -> str:
    """Rasa's output_channel: the handoff's channel by name; unknown, the one last written on."""
    return channel if channel and channel != UNKNOWN_CHANNEL else "latest"
