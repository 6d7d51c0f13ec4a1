"""When Rasa cannot run a custom action, the customer is told and handed to an engineer: never silence.

Rasa 3.6 runs a custom action by posting to the action server (`RemoteAction.run` ->
`EndpointConfig.request`). When that fails, `MessageProcessor._run_action` logs the exception and drops
the action's events, so the turn ends with nothing said. Rasa has no hook for this: no pluggable
action executor, no fallback in endpoints.yml. What it does have is the agent's action endpoint, an
`EndpointConfig` object; `install` replaces it, once the agent is loaded, by `FallbackActionEndpoint`.
Its `request` is Rasa's own; only when the action server cannot be reached (refused, reset, timed
out) or answers an error other than a form's 400 rejection does it answer in the action server's
place, in the action server's format (`{"events", "responses"}`), from inside the Rasa process:

- `action_session_start` and `action_restart` run the bot's own overrides (conversation/session.py) here:
  they need only the helpdesk service, so new chats still start and `/restart` still works.
- any other action (the turn's `action_handoff`, `action_answer_from_kb`, a form's validation...): the
  handoff is created directly with the service (`POST /api/v1/handoffs`, the bot token from
  `HELPDESK_BOT_TOKEN`, the same payload `action_handoff` sends, reason `action_server_unavailable`
  or `action_failed`), the customer is told the ticket number, any form is left, and the conversation
  is paused for the engineer. When the service cannot be reached either, the customer is told that
  and to try again later; the bot keeps the conversation.

Being in the processor, it covers every channel (the website's socket.io, REST, `callback`, the
messengers) and the HTTP API's `trigger_intent`. The website channel (connectors.website) installs it
when the server starts, and checks again before each of its messages (`Installer`), so a model replaced
through the HTTP API is covered too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

import aiohttp
from rasa.core.channels.channel import UserMessage
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sanic import Blueprint, Sanic

if TYPE_CHECKING:
    from rasa.core.agent import Agent

# The one piece of the bot's actions meant for the Rasa process (bot/actions/in_rasa.py, next to connectors/
# in Rasa's working directory). A Rasa image without it runs without the fallback.
try:
    from actions.in_rasa import (
        ActionRestart,
        ActionSessionStart,
        Handoff,
        HelpdeskClient,
        HelpdeskUnavailable,
        build_handoff_payload,
    )
except ImportError as missing:
    BOT_ACTIONS_MISSING: ImportError | None = missing
else:
    BOT_ACTIONS_MISSING = None

logger = logging.getLogger(__name__)

UNREACHABLE = "action_server_unavailable"
FAILED = "action_failed"
# What the action server answers when a form's validation rejects the input: Rasa's own business.
REJECTED_STATUS = 400
# Rasa's defaults, overridden by the bot; they need the service only, so they run here.
IN_PROCESS = ("action_session_start", "action_restart")
# Custom slot mappings Rasa runs on every message, before it chooses what to do: without the action server
# the slot keeps its value (the conversation stays in its language) and the action that follows decides.
# Handing over here would open a handoff for every "hello" while Rasa drops the pause (slot mappings may
# only set slots and say things).
SLOT_MAPPINGS = ("action_detect_language",)

SORRY = "Sorry, something on my side isn't working right now, so I can't help with this myself."
NO_TICKET = (
    f"{SORRY} I couldn't reach the engineers' queue either, so no ticket was opened. Please try again "
    "in a few minutes, or email the help desk at helpdesk@example.com."
)

ActionCall = Mapping[str, Any]
ActionResult = dict[str, Any]


class FallbackActionEndpoint(EndpointConfig):
    """Rasa's action endpoint, answering in the action server's place when that server fails."""

    @classmethod
    def wrapping(cls, endpoint: EndpointConfig) -> FallbackActionEndpoint:
        wrapped = cls(
            url=endpoint.url,
            params=endpoint.params,
            headers=endpoint.headers,
            basic_auth=endpoint.basic_auth,
            token=endpoint.token,
            token_name=endpoint.token_name,
            cafile=endpoint.cafile,
            **endpoint.kwargs,
        )
        wrapped.type = endpoint.type
        return wrapped

    async def request(
        self,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        call = kwargs.get("json")
        try:
            return await super().request(method, subpath, content_type, compress, **kwargs)
        except ClientResponseError as error:
            if error.status == REJECTED_STATUS or not is_action_call(call):
                raise
            return await _answer_or_raise(call, FAILED, error)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as error:
            if not is_action_call(call):
                raise
            return await _answer_or_raise(call, UNREACHABLE, error)


async def _answer_or_raise(call: ActionCall, reason: str, error: Exception) -> ActionResult:
    logger.error(
        "action server failed on %s for conversation %s (%s: %s): answering in its place",
        call.get("next_action"),
        call.get("sender_id"),
        type(error).__name__,
        error,
    )
    try:
        return await answer_in_place(call, reason)
    except Exception:
        # Never worse than Rasa alone: it logs the original error and carries on.
        logger.exception("the action fallback failed too")
        raise error from None


def is_action_call(body: Any) -> TypeGuard[ActionCall]:
    """A custom action call from Rasa (`RemoteAction._action_call_format`)."""
    return (
        isinstance(body, Mapping)
        and bool(body.get("next_action"))
        and isinstance(body.get("tracker"), Mapping)
    )


async def answer_in_place(
    call: ActionCall, reason: str = UNREACHABLE, client: HelpdeskClient | None = None
) -> ActionResult:
    """What the action server would answer: events and responses, without the action server."""
    action = str(call["next_action"])
    if action in SLOT_MAPPINGS:
        return {"events": [], "responses": []}
    tracker = Tracker.from_dict(dict(call["tracker"]))
    if action in IN_PROCESS:
        dispatcher = CollectingDispatcher()
        domain: dict[str, Any] = dict(call.get("domain") or {})
        override = ActionSessionStart() if action == "action_session_start" else ActionRestart()
        events = await override.run(dispatcher, tracker, domain)
        return {"events": events, "responses": dispatcher.messages}
    return await hand_over(tracker, action, reason, client or HelpdeskClient.from_env())


async def hand_over(tracker: Tracker, action: str, reason: str, client: HelpdeskClient) -> ActionResult:
    payload = build_handoff_payload(tracker, reason=reason)
    payload["context"]["failed_action"] = action
    try:
        handoff = await client.create_handoff(payload)
    except HelpdeskUnavailable as exc:
        logger.error("no handoff for conversation %s either: %s", tracker.sender_id, exc)
        return {"events": [], "responses": [{"text": NO_TICKET}]}
    logger.warning("conversation %s handed to %s (%s)", tracker.sender_id, handoff.number, reason)
    events: list[dict[str, Any]] = [SlotSet("handoff_ticket", handoff.number)]
    if (tracker.active_loop or {}).get("name"):
        # A form stops here (Rasa ends a form whose validation sets requested_slot to None).
        events += [SlotSet("requested_slot", None), ActiveLoop(None)]
    # Paused like `action_handoff` does, with the closing listen Rasa would not log once paused.
    events += [ConversationPaused(), ActionExecuted("action_listen")]
    return {"events": events, "responses": [{"text": handed_over_text(handoff)}]}


def handed_over_text(handoff: Handoff) -> str:
    tier = handoff.tier.upper()
    told = f"{SORRY} I've passed our conversation to an engineer: your ticket is {handoff.number}."
    if handoff.status != "waiting":
        return f"{told} An {tier} engineer already has it and will answer you in this chat."
    if handoff.agents_online == 0:
        return (
            f"{told} No {tier} engineer is online right now, so it may take longer; the ticket stays "
            "queued and the engineer will answer you in this chat. You can keep writing here."
        )
    place = f"; you are number {handoff.queue_position} in the queue" if handoff.queue_position else ""
    return f"{told} An {tier} engineer will join this chat shortly{place}. You can keep writing here."


@functools.cache
def _warn_missing() -> None:
    logger.warning("no action fallback: the bot's actions package is missing (%s)", BOT_ACTIONS_MISSING)


def install(agent: Agent | None) -> None:
    """Puts the fallback in front of the agent's action endpoint; idempotent."""
    if agent is None or agent.action_endpoint is None:
        return
    if BOT_ACTIONS_MISSING is not None:
        _warn_missing()
        return
    if not isinstance(agent.action_endpoint, FallbackActionEndpoint):
        agent.action_endpoint = FallbackActionEndpoint.wrapping(agent.action_endpoint)
        logger.info("action fallback installed for %s", agent.action_endpoint.url)
    # The processor keeps its own reference (it is rebuilt from the agent's when a model loads).
    if agent.processor is not None and agent.processor.action_endpoint is not agent.action_endpoint:
        agent.processor.action_endpoint = agent.action_endpoint


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class Installer:
    """Installs the fallback once the server has loaded its agent (`listen_on` a channel's blueprint),
    and again before each message of that channel (`guard`): a model loaded later through the HTTP API
    comes with a new agent."""

    def __init__(self) -> None:
        self._app: Sanic | None = None

    def guard(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> Any:
            if self._app is not None:
                install(getattr(self._app.ctx, "agent", None))
            return await on_new_message(message)

        return handle

    def listen_on(self, blueprint: Blueprint) -> None:
        async def on_start(app: Sanic, _loop: Any) -> None:
            self._app = app
            install(getattr(app.ctx, "agent", None))

        blueprint.listener("after_server_start")(on_start)
