"""Talks to Rasa's HTTP API: appends events to a conversation and lets Rasa push them to the customer."""

from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    pass


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._token = token

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        # execute_side_effects + output_channel=latest: Rasa delivers bot events through the channel the
        # customer last wrote on (socket.io, callback, messengers).
        params = {"execute_side_effects": "true", "output_channel": "latest", "token": self._token}
        try:
            response = await self._client.post(
                f"/conversations/{quote(conversation_id, safe='')}/tracker/events", params=params, json=events
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:300]}")

    async def trigger_intent(self, conversation_id: str, name: str, entities: dict[str, Any]) -> None:
        """The bot reacts to an intent as if the customer had said it, replying on their channel."""
        params = {"output_channel": "latest", "token": self._token}
        try:
            response = await self._client.post(
                f"/conversations/{quote(conversation_id, safe='')}/trigger_intent",
                params=params,
                json={"name": name, "entities": entities},
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:300]}")

    async def has_outbox_item(self, conversation_id: str, item_id: int) -> bool:
        """Whether a bot event of this outbox item is in the conversation already (a retry after an
        attempt whose answer was lost must not reach the customer twice)."""
        try:
            response = await self._client.get(
                f"/conversations/{quote(conversation_id, safe='')}/tracker",
                params={"include_events": "ALL", "token": self._token},
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:300]}")
        for event in response.json().get("events") or []:
            if (event.get("metadata") or {}).get("helpdesk_outbox_id") == item_id:
                return True
        return False

    async def aclose(self) -> None:
        await self._client.aclose()
