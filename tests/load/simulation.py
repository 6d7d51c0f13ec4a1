"""Simulated customers (socket.io, the widget's channel) and agents (the HTTP API) for the load test.

Customers connect within the first `CONNECT_SPREAD` seconds and stay until the deadline, so all of them
are on line together. Meanwhile conversations start at a steady random pace (`turns_per_second`), each by
a customer who has not talked yet (once all have, one comes back on a new connection). A conversation: a
knowledge-base question, then "yes, thanks" or (`human_share` of them) "I want to talk to a human". During
the handoff the customer writes while nobody has answered (up to `WAITING_LINES` lines), answers every
engineer message, and after the last one waits to be handed back to the bot. Every line a customer writes
during a handoff is unique (`[c7.1] answer 2 u1a2b3c4d`), so it can be counted at the other end.

An agent sets itself online, claims with `POST /api/v1/queues/l2/next` while it holds fewer than its
capacity, and works each claimed handoff: a burst of `BURST` messages, then (once the customer's answers
to them are in the transcript) a last message, and (once that one is answered) it resolves with
`return_to_bot`. So every customer line is written while the handoff is open, and the agent resolves only
after seeing it. Both sides record what they sent, what they received and when; the test compares.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

KB_QUESTIONS = [
    "outlook keeps crashing when I open it",
    "I can't connect to the vpn from home",
    "onedrive is not syncing my files",
    "I can't print anything",
    "my laptop is really slow",
    "teams video is frozen",
    "my disk is full",
    "single sign-on keeps looping",
]
ASK_HUMAN = "I want to talk to a human"
HANDED_BACK = "back with the virtual assistant"
TICKET = re.compile(r"HD-\d+")
BURST = 2  # agent messages sent back to back, before the last one
WAITING_LINES = 3  # at most, written while nobody has answered yet
CONNECT_TIMEOUT = 20
CONNECT_SPREAD = 20.0  # customers arrive within this many seconds


def tag() -> str:
    """A unique word that redaction leaves alone (6-8 digits alone would be masked as a one-time code)."""
    return "u" + uuid.uuid4().hex[:8]


@dataclass
class Settings:
    customers: int
    agents: int
    seconds: float
    turns_per_second: float  # the pace: conversations start so the bot gets about this many turns a second
    think: float = 4.0  # mean pause between a customer's turns with the bot
    human_share: float = 0.4
    capacity: int = 5
    reply_think: tuple[float, float] = (0.3, 1.5)  # a customer answering an engineer
    waiting_every: tuple[float, float] = (3.0, 6.0)
    turn_timeout: float = 180.0  # generous: the machine is shared and Rasa runs on 2 cores
    poll_seconds: float = 1.0
    seed: int = 8


@dataclass
class Visitor:
    """A customer: connected from their arrival until the deadline or the end of their conversation."""

    index: int
    socket: Socket | None = None  # connected, waiting for their conversation
    lingering: Socket | None = None  # after their conversation: the page stays open until the deadline
    busy: bool = False
    visits: int = 0


@dataclass
class Conversation:
    customer: int
    number: int
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    asked_human: bool = False
    ticket: str | None = None
    handed_back: int = 0
    written: list[str] = field(default_factory=list)  # customer lines written during the handoff
    agent_lines: list[str] = field(default_factory=list)  # engineer messages received, in order
    bot_during_handoff: list[str] = field(default_factory=list)
    done: bool = False

    def tag(self) -> str:
        return f"[c{self.customer}.{self.number}]"


@dataclass
class Claim:
    handoff_id: int
    number: str
    conversation_id: str
    agent: str
    sent: list[str] = field(default_factory=list)
    resolved: bool = False


@dataclass
class Stats:
    bot_latency: list[float] = field(default_factory=list)  # customer says -> first bot message
    kb_latency: list[float] = field(default_factory=list)  # the same, for knowledge-base questions
    agent_to_customer: list[float] = field(default_factory=list)  # POST /messages sent -> customer has it
    customer_to_agent: list[float] = field(default_factory=list)  # customer writes -> agent's poll sees it
    customer_lines: int = 0  # everything customers wrote
    bot_messages: int = 0
    agent_messages: int = 0
    api_statuses: Counter[int] = field(default_factory=Counter)
    connections: int = 0
    peak_connections: int = 0
    open_connections: int = 0


def is_bot(data: dict[str, Any]) -> bool:
    return not data.get("agent")


def anything(_data: dict[str, Any]) -> bool:
    return True


class Inbox:
    """What a customer's socket received, in order. A turn with the bot takes only the bot's messages, so
    an engineer's message that overtakes the bot's answer (an agent may claim and write before the bot
    has told the customer the ticket) waits for the handoff part instead of being swallowed."""

    def __init__(self) -> None:
        self.items: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    def put(self, at: float, data: dict[str, Any]) -> None:
        self.items.append((at, data))
        self.changed.set()

    def drop(self, want: Any) -> None:
        self.items = [item for item in self.items if not want(item[1])]

    async def take(self, want: Any, timeout: float) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for index, (_, data) in enumerate(self.items):
                if want(data):
                    return self.items.pop(index)
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))


class Run:
    def __init__(self, settings: Settings, rasa_url: str, helpdesk_url: str, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.rasa_url = rasa_url
        self.helpdesk_url = helpdesk_url
        self.tokens = tokens
        self.random = random.Random(settings.seed)
        self.stats = Stats()
        self.errors: list[str] = []
        self.conversations: list[Conversation] = []
        self.claims: list[Claim] = []
        self.sent_at: dict[str, float] = {}  # agent message text -> when it was posted
        self.written_at: dict[str, float] = {}  # customer line -> when it was written
        self.deadline = 0.0
        self.started = 0.0
        self.customers_done = asyncio.Event()
        self.closing_time = False  # the deadline passed: who is done leaves

    def error(self, what: str) -> None:
        self.errors.append(f"{time.monotonic() - self.started:7.1f}s {what}")

    # --- the whole run ------------------------------------------------------------------------

    async def run(self, agent_names: list[str], drain_timeout: float) -> float:
        """Returns the seconds from start to the last conversation finishing."""
        self.started = time.monotonic()
        self.deadline = self.started + self.settings.seconds
        async with httpx.AsyncClient(
            base_url=self.helpdesk_url,
            timeout=60,
            # A new connection per request: no race with the server closing an idle kept-alive one.
            limits=httpx.Limits(max_connections=4 * self.settings.agents + 4, max_keepalive_connections=0),
            event_hooks={"response": [self._count]},
        ) as http:
            agents = [asyncio.create_task(self.agent(http, name)) for name in agent_names]
            talks = await self.customers()
            try:
                await asyncio.wait_for(
                    asyncio.gather(*talks), max(1.0, self.deadline - time.monotonic()) + drain_timeout
                )
            except TimeoutError:
                self.error(
                    f"conversations still open {drain_timeout:.0f} s after the deadline: "
                    f"{sum(not t.done() for t in talks)} of {len(talks)}"
                )
                for task in talks:
                    task.cancel()
                await asyncio.gather(*talks, return_exceptions=True)
            finished = time.monotonic() - self.started
            self.customers_done.set()
            await asyncio.gather(*agents, return_exceptions=False)
        return finished

    async def _count(self, response: httpx.Response) -> None:
        self.stats.api_statuses[response.status_code] += 1
        if response.status_code >= 500:
            await response.aread()
            request = response.request
            self.error(f"{request.method} {request.url.path}: {response.status_code} {response.text[:200]}")

    # --- customers ----------------------------------------------------------------------------

    def _think(self) -> float:
        return self.random.uniform(0.5, 1.5) * self.settings.think

    async def customers(self) -> list[asyncio.Task[None]]:
        """All customers arrive within `CONNECT_SPREAD` s and stay connected until the deadline (or the end
        of their conversation, if later); meanwhile conversations start one after the other at random
        (Poisson) moments, at the pace `turns_per_second` asks, each by a connected customer who has not
        talked yet (or, once all have, by one coming back on a new connection), until the last moment one
        can still end by the deadline. Returns the conversations (tasks) started."""
        visitors = [Visitor(index) for index in range(self.settings.customers)]
        arrivals = [asyncio.create_task(self.arrive(visitor)) for visitor in visitors]
        talks: list[asyncio.Task[None]] = []
        # A conversation costs the bot two turns, and a handoff's lines and messages about four more.
        per_second = self.settings.turns_per_second / (2 + 4 * self.settings.human_share)
        last_start = self.deadline - 2 * self.settings.think
        while True:
            await asyncio.sleep(self.random.expovariate(per_second))
            if time.monotonic() >= last_start:
                break
            waiting = [v for v in visitors if v.socket is not None and not v.busy]
            idle = waiting or [v for v in visitors if v.visits and not v.busy]
            if idle:
                visitor = self.random.choice(idle)
                visitor.busy = True
                talks.append(asyncio.create_task(self.talk(visitor)))
        await asyncio.gather(*arrivals)
        await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
        self.closing_time = True
        for visitor in visitors:
            if visitor.busy:
                continue  # their conversation closes its connection when it ends
            for socket in (visitor.socket, visitor.lingering):
                if socket is not None:
                    await socket.close()
            visitor.socket = visitor.lingering = None
        return talks

    async def arrive(self, visitor: Visitor) -> None:
        await asyncio.sleep(self.random.uniform(0, min(CONNECT_SPREAD, self.settings.seconds / 4)))
        socket = Socket(self, Conversation(customer=visitor.index, number=1))
        try:
            await socket.open()
        except Exception as exc:
            self.error(f"customer {visitor.index} could not connect: {type(exc).__name__} {exc}")
            await socket.close()
            return
        visitor.socket = socket

    async def talk(self, visitor: Visitor) -> None:
        visitor.visits += 1
        socket = visitor.socket
        visitor.socket = None
        if socket is None:  # back for another conversation: a new visit, a new connection
            if visitor.lingering is not None:
                await visitor.lingering.close()
                visitor.lingering = None
            socket = Socket(self, Conversation(customer=visitor.index, number=visitor.visits))
        conv = socket.conv
        self.conversations.append(conv)
        try:
            if not socket.opened:
                await socket.open()
            await self.conversation(conv, socket)
        except Exception as exc:  # counted; the run goes on
            self.error(f"customer {conv.tag()} {conv.session_id}: {type(exc).__name__} {exc}")
        finally:
            if self.closing_time or not socket.opened:
                await socket.close()
            else:
                visitor.lingering = socket
            visitor.busy = False

    async def conversation(self, conv: Conversation, socket: Socket) -> None:
        """A knowledge-base question, then "yes, thanks", or a human: the handoff, until handed back."""
        await socket.turn(self.random.choice(KB_QUESTIONS), kb=True)
        await asyncio.sleep(self._think())
        if self.random.random() < self.settings.human_share:
            conv.asked_human = True
            told = await socket.turn(ASK_HUMAN)
            ticket = next((m.group() for t in told if (m := TICKET.search(t))), None)
            if ticket is None:
                self.error(f"{conv.tag()} asked for a human and got no ticket: {told}")
                return
            conv.ticket = ticket
            if await self.during_handoff(conv, socket):
                conv.done = True
        else:
            said = await socket.turn("yes, thanks")
            if any(TICKET.search(t) for t in said):
                self.error(f"{conv.tag()} got a ticket without asking: {said}")
            conv.done = True

    async def during_handoff(self, conv: Conversation, socket: Socket) -> bool:
        """Writes while waiting, answers each engineer message, until handed back (True)."""
        waiting = 0
        answered = 0
        next_waiting = time.monotonic() + self.random.uniform(*self.settings.waiting_every)
        deadline = time.monotonic() + self.settings.turn_timeout * 3
        while True:
            timeout = deadline - time.monotonic()
            if answered == 0 and waiting < WAITING_LINES:
                timeout = min(timeout, max(0.0, next_waiting - time.monotonic()))
            try:
                got_at, data = await socket.inbox.take(anything, max(0.01, timeout))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    self.error(f"{conv.tag()} {conv.ticket}: nobody finished the handoff in time")
                    return False
                waiting += 1
                await self.write(conv, socket, f"{conv.tag()} still waiting ({waiting}) {tag()}")
                next_waiting = time.monotonic() + self.random.uniform(*self.settings.waiting_every)
                continue
            text = str(data.get("text", ""))
            if data.get("agent"):
                conv.agent_lines.append(text)
                if text in self.sent_at:
                    self.stats.agent_to_customer.append(got_at - self.sent_at[text])
                answered += 1
                await asyncio.sleep(self.random.uniform(*self.settings.reply_think))
                await self.write(conv, socket, f"{conv.tag()} answer {answered} {tag()}")
            elif HANDED_BACK in text:
                conv.handed_back += 1
                return True
            else:
                conv.bot_during_handoff.append(text)

    async def write(self, conv: Conversation, socket: Socket, line: str) -> None:
        conv.written.append(line)
        self.written_at[line] = await socket.say(line, drain=False)  # engineer messages may be on their way

    # --- agents -------------------------------------------------------------------------------

    async def agent(self, http: httpx.AsyncClient, name: str) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        presence = await http.put(
            "/api/v1/agents/me/presence",
            json={"presence": "online", "capacity": self.settings.capacity},
            headers=headers,
        )
        if presence.status_code != 200:
            self.error(f"{name}: presence {presence.status_code}")
        working: set[asyncio.Task[None]] = set()
        while not (self.customers_done.is_set() and not working):
            if self.customers_done.is_set() or len(working) >= self.settings.capacity:
                await asyncio.sleep(self.settings.poll_seconds)
                working = {t for t in working if not t.done()}
                continue
            try:
                response = await http.post("/api/v1/queues/l2/next", headers=headers)
            except httpx.TransportError as exc:
                self.error(f"{name}: next: {type(exc).__name__} {exc}")
                await asyncio.sleep(self.settings.poll_seconds)
                continue
            if response.status_code == 200:
                handoff = response.json()
                claim = Claim(handoff["id"], handoff["number"], handoff["conversation_id"], name)
                self.claims.append(claim)
                task = asyncio.create_task(self.work(http, headers, claim))
                working.add(task)
            elif response.status_code in (404, 409):  # nothing waiting / at capacity
                await asyncio.sleep(self.settings.poll_seconds * self.random.uniform(0.5, 1.5))
            else:
                self.error(f"{name}: next {response.status_code} {response.text[:200]}")
                await asyncio.sleep(self.settings.poll_seconds)
            working = {t for t in working if not t.done()}

    async def work(self, http: httpx.AsyncClient, headers: dict[str, str], claim: Claim) -> None:
        try:
            burst = [f"[{claim.number}] {claim.agent} message {i} {tag()}" for i in range(1, BURST + 1)]
            for text in burst:
                await self.send(http, headers, claim, text)
            await self.wait_for_answers(http, headers, claim, BURST)
            await self.send(http, headers, claim, f"[{claim.number}] {claim.agent} last message {tag()}")
            await self.wait_for_answers(http, headers, claim, BURST + 1)
            resolved = await http.post(
                f"/api/v1/handoffs/{claim.handoff_id}/resolve",
                json={"resolution": "load test: answered", "return_to_bot": True},
                headers=headers,
            )
            if resolved.status_code != 200:
                self.error(f"{claim.number}: resolve {resolved.status_code} {resolved.text[:200]}")
            claim.resolved = resolved.status_code == 200
        except Exception as exc:
            self.error(f"{claim.number} ({claim.agent}): {type(exc).__name__} {exc}")

    async def send(self, http: httpx.AsyncClient, headers: dict[str, str], claim: Claim, text: str) -> None:
        self.sent_at[text] = time.monotonic()
        response = await http.post(
            f"/api/v1/handoffs/{claim.handoff_id}/messages", json={"text": text}, headers=headers
        )
        if response.status_code != 201:
            self.error(f"{claim.number}: message {response.status_code} {response.text[:200]}")
            return
        claim.sent.append(text)
        self.stats.agent_messages += 1

    async def wait_for_answers(
        self, http: httpx.AsyncClient, headers: dict[str, str], claim: Claim, answers: int
    ) -> None:
        """Polls the handoff until the customer has answered `answers` agent messages."""
        deadline = time.monotonic() + self.settings.turn_timeout * 2
        seen: set[str] = set()
        while True:
            response = await http.get(f"/api/v1/handoffs/{claim.handoff_id}", headers=headers)
            if response.status_code != 200:
                self.error(f"{claim.number}: read {response.status_code} {response.text[:200]}")
            else:
                now = time.monotonic()
                lines = [t["text"] for t in response.json()["transcript"] if t["role"] == "customer"]
                for line in lines:
                    if line not in seen and line in self.written_at:
                        seen.add(line)
                        self.stats.customer_to_agent.append(now - self.written_at[line])
                if sum(" answer " in line for line in lines) >= answers:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the customer's answer {answers} never reached the transcript")
            await asyncio.sleep(self.settings.poll_seconds)


class Socket:
    """One customer's socket.io connection (the widget's channel) and session."""

    def __init__(self, run: Run, conv: Conversation) -> None:
        self.run = run
        self.conv = conv
        # 20 s to connect, as the socket.io JavaScript client allows (python-socketio's default is 5 s).
        self.client = socketio.AsyncClient(reconnection=False, request_timeout=CONNECT_TIMEOUT)
        self.inbox = Inbox()
        self.closing = False
        self.opened = False
        self.client.on("bot_uttered", self._received)
        self.client.on("disconnect", self._disconnected)

    async def _received(self, data: dict[str, Any]) -> None:
        self.run.stats.bot_messages += 1
        self.inbox.put(time.monotonic(), data)

    async def _disconnected(self, *reason: Any) -> None:
        if not self.closing:
            self.run.error(f"socket of {self.conv.tag()} closed by the server or the network: {reason}")

    async def open(self) -> None:
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.client.connect(
            self.run.rasa_url,
            socketio_path="/socket.io",
            transports=["websocket"],
            wait_timeout=CONNECT_TIMEOUT,
        )
        self.opened = True
        # python-socketio gives up writing when the server's ping is 5 s late; a browser waits for the ping
        # interval plus the ping timeout (45 s). The same patience here: a busy Rasa is slow, not gone.
        self.client.eio.ping_timeout = max(self.client.eio.ping_timeout, 40)
        stats = self.run.stats
        stats.connections += 1
        stats.open_connections += 1
        stats.peak_connections = max(stats.peak_connections, stats.open_connections)
        await self.client.emit("session_request", {"session_id": self.conv.session_id})
        await asyncio.wait_for(confirmed, self.run.settings.turn_timeout)

    async def close(self) -> None:
        self.closing = True
        if self.opened:
            self.run.stats.open_connections -= 1
            self.opened = False
        await self.client.disconnect()

    async def say(self, text: str, drain: bool = True) -> float:
        if drain:  # what is left of the previous turn with the bot
            self.inbox.drop(is_bot)
        self.run.stats.customer_lines += 1
        sent = time.monotonic()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.conv.session_id})
        return sent

    async def turn(self, text: str, kb: bool = False) -> list[str]:
        """Says `text`; returns the bot's answer (all its messages)."""
        stats = self.run.stats
        sent = await self.say(text)
        got_at, data = await self.inbox.take(is_bot, self.run.settings.turn_timeout)
        stats.bot_latency.append(got_at - sent)
        if kb:
            stats.kb_latency.append(got_at - sent)
        texts = [str(data.get("text", ""))]
        while True:  # the rest of this answer's messages
            try:
                _, more = await self.inbox.take(is_bot, 1.0)
            except TimeoutError:
                return texts
            texts.append(str(more.get("text", "")))
