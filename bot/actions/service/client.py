"""Small async client for the helpdesk service's bot API (role `bot`)."""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_HELPDESK_URL = "http://127.0.0.1:8000"

# Rasa waits for the action server while the customer waits for an answer: fail fast and tell them.
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
RETRY_DELAY_SECONDS = 0.3


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle, loaded once per process: httpx loads it for every new client otherwise, about
    30 ms of CPU per call to the service, more than the service takes to answer (bench/bot_latency.py)."""
    return httpx.create_ssl_context()


class HelpdeskUnavailable(Exception):
    """The service could not be reached or did not answer as the contract says."""


@dataclass(frozen=True)
class Handoff:
    """The parts of a service handoff the bot tells the customer about."""

    id: int
    number: str
    status: str
    tier: str
    queue_position: int | None
    agents_online: int | None
    first_response_due: str | None = None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Handoff:
        try:
            return cls(
                id=int(body["id"]),
                number=str(body["number"]),
                status=str(body.get("status", "waiting")),
                tier=str(body.get("tier", "l2")),
                queue_position=_optional_int(body.get("queue_position")),
                agents_online=_optional_int(body.get("agents_online")),
                first_response_due=(body.get("sla") or {}).get("first_response_due"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HelpdeskUnavailable(f"unexpected handoff body: {exc!r}") from exc


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class HelpdeskClient:
    """The handoff calls, and `call()` for the other bot routes (identity, knowledge base, tickets...)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._transport = transport

    @classmethod
    def from_env(cls) -> HelpdeskClient:
        # Read at call time, not import time, so one action server process follows its environment.
        return cls(
            base_url=os.environ.get("HELPDESK_URL", DEFAULT_HELPDESK_URL),
            token=os.environ.get("HELPDESK_BOT_TOKEN", ""),
        )

    async def create_handoff(self, payload: dict[str, Any]) -> Handoff:
        """Open a handoff, or get the conversation's open one (the service makes this idempotent)."""
        response = await self._request("POST", "/api/v1/handoffs", json=payload)
        if response.status_code not in (200, 201):
            raise HelpdeskUnavailable(_describe(response))
        return Handoff.from_api(_json_object(response))

    async def open_handoff(self, conversation_id: str) -> Handoff | None:
        """The conversation's open (waiting or assigned) handoff, or None when there is none."""
        path = f"/api/v1/conversations/{quote(conversation_id, safe='')}/handoff"
        response = await self._request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise HelpdeskUnavailable(_describe(response))
        return Handoff.from_api(_json_object(response))

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Any bot route: (status code, JSON object body or {}); transport failures raise."""
        response = await self._request(method, path, **kwargs)
        if response.status_code >= 500:
            raise HelpdeskUnavailable(_describe(response))
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"}
        # One retry on transport errors only: both calls are safe to repeat because the service
        # returns the open handoff instead of creating a second one.
        for attempt in (1, 2):
            try:
                async with httpx.AsyncClient(
                    base_url=self._base_url,
                    timeout=self._timeout,
                    transport=self._transport,
                    verify=tls_context(),
                ) as client:
                    return await client.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if attempt == 2:
                    raise HelpdeskUnavailable(f"{method} {path}: {exc!r}") from exc
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        raise AssertionError("unreachable")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise HelpdeskUnavailable(f"not JSON: {_describe(response)}") from exc
    if not isinstance(body, dict):
        raise HelpdeskUnavailable(f"not a JSON object: {_describe(response)}")
    return body


def _describe(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:200]}"
