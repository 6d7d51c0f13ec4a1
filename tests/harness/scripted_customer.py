"""Simulated customers: each plays one scenario (heldout/scenarios_*.yml) over the website widget's
socket.io channel against the real stack, answering the bot's questions truthfully from its facts.

A scripted customer:
- opens with the scenario's line, in its own words;
- answers each question from its facts (device, since when, error, who is affected, account, the code
  from its mailbox), with "not sure" where it knows nothing;
- says yes to a guide or an answer only when it is about its problem (one of `expect.articles`), and no
  otherwise; in a guide, says each step worked, except the step its facts say fails;
- clicks buttons the way a person would (their titles), types when there are none.

What it measures (`Outcome`): contained with the right answer (the customer confirmed one of the right
articles helped or finished its guide, got its reset link or unlock, its ticket status, or a polite no
for an out-of-scope question, with no handoff); escalated (to which tier, for which reason, at which
priority, read back from the service); stalled (the same question asked a third time, or the bot went
quiet or ran past the turn limit); and the customer's turns to resolution. Every line of each
conversation is kept for reading (`transcript`).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

MAX_TURNS = 16
QUIET_SECONDS = 1.2
FIRST_ANSWER_SECONDS = 30.0

PRIORITY_ORDER = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}
# One customer at a time per directory account: a second one-time code for the same account replaces the
# first, as it would for one person asking twice.
_ACCOUNT_LOCKS: dict[str, asyncio.Lock] = {}
# The demo directory's people: a scenario that needs a locked account gets one nobody unlocked yet (an
# unlock lasts until the service restarts), one that needs an unlocked account takes turns.
LOCKED = [
    ("mlocked", "max.locked@example.com"),
    ("pchen", "priya.chen@example.com"),
    ("tlocked", "tom.locked@example.com"),
    ("rlocked", "rita.locked@example.com"),
]
UNLOCKED = [("jdoe", "jane.doe@example.com"), ("asmith", "alex.smith@example.com")]
_handed_out: dict[str, int] = {"locked": 0, "unlocked": 0}


def demo_account(account: str) -> tuple[str, str]:
    """A demo directory account standing in for the scenario's (jdoe: any unlocked one, mlocked: a locked
    one not unlocked by an earlier scenario of this run)."""
    kind, pool = ("locked", LOCKED) if account == "mlocked" else ("unlocked", UNLOCKED)
    chosen = pool[_handed_out[kind] % len(pool)]
    _handed_out[kind] += 1
    return chosen


# A fault the knowledge base could not fix reaches an engineer with the details collected either way:
# "reported_issue" (no article was tried), "kb_no_answer" (articles were tried, none helped) and
# "flow_failed" (a guide failed at a step) are the same right escalation; the articles and steps tried
# are in the handoff's context whichever it was.
REASON_FAMILY = {"kb_no_answer": "fault", "reported_issue": "fault", "flow_failed": "fault"}


def same_reason(expected: str | None, actual: str | None) -> bool:
    if expected is None:
        return True
    return REASON_FAMILY.get(expected, expected) == REASON_FAMILY.get(str(actual), actual)


@dataclass
class BotMessage:
    text: str
    buttons: list[dict[str, str]]


@dataclass
class Outcome:
    scenario: str
    language: str
    expected: str
    l1_solvable: bool
    result: str = "open"  # contained | escalated | declined | stalled | wrong
    right: bool = False  # contained with the right answer / escalated to the right tier and reason
    article_confirmed: str | None = None
    articles_offered: list[str] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    turns: int = 0
    seconds: float = 0.0
    why: str = ""
    transcript: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


class Articles:
    """Article titles -> ids, as the customer reads them in the chat (a translation -> its original's id)."""

    def __init__(self, titles: dict[str, str], originals: dict[str, str] | None = None) -> None:
        originals = originals or {}
        self._by_title = {
            _norm(title): originals.get(article_id, article_id) for article_id, title in titles.items()
        }

    def find(self, text: str) -> str | None:
        cleaned = _norm(text.strip('"*“”'))
        if cleaned in self._by_title:
            return self._by_title[cleaned]
        for title, article_id in self._by_title.items():
            if f'"{title}"' in _norm(text) or f"“{title}”" in _norm(text) or f"*{title}*" in _norm(text):
                return article_id
        return None


class ScriptedCustomer:
    def __init__(
        self,
        scenario: dict[str, Any],
        rasa_url: str,
        helpdesk_url: str,
        tokens: dict[str, str],
        articles: Articles,
    ) -> None:
        self.scenario = scenario
        self.facts: dict[str, Any] = dict(scenario.get("facts") or {})
        if self.facts.get("account"):
            self.facts["account"], self.facts["email"] = demo_account(str(self.facts["account"]))
        self.expect: dict[str, Any] = scenario.get("expect") or {}
        self.right_articles: list[str] = list(self.expect.get("articles") or [])
        self.rasa_url = rasa_url
        self.helpdesk_url = helpdesk_url
        self.tokens = tokens
        self.articles = articles
        self.session_id = uuid.uuid4().hex
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.client.on("bot_uttered", self._received)
        self.outcome = Outcome(
            scenario=str(scenario["id"]),
            language=str(scenario.get("language", "en")),
            expected=str(self.expect.get("outcome")),
            l1_solvable=bool(scenario.get("l1_solvable")),
        )
        self._asked: dict[str, int] = {}
        self._said_yes_to: str | None = None
        self._failed_once: set[int] = set()
        self._rephrased = False
        self.done = False

    async def _received(self, data: dict[str, Any]) -> None:
        await self.inbox.put(data)

    # -- the conversation ---------------------------------------------------------------------------

    async def play(self) -> Outcome:
        account = str(self.facts.get("account") or "")
        if not account:
            return await self._play()
        lock = _ACCOUNT_LOCKS.setdefault(account, asyncio.Lock())
        async with lock:
            return await self._play()

    async def _play(self) -> Outcome:
        started = time.monotonic()
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.client.connect(self.rasa_url, socketio_path="/socket.io", transports=["websocket"])
        try:
            await self.client.emit("session_request", {"session_id": self.session_id})
            await asyncio.wait_for(confirmed, 10)
            await self._drain(0.3)  # a greeting on connect, if any
            said = str(self.scenario["opening"])
            while not self.done:
                if self.outcome.turns >= MAX_TURNS:
                    self._finish("stalled", why=f"no resolution after {MAX_TURNS} turns")
                    break
                await self._say(said)
                messages = await self._read_turn()
                if not messages:
                    self._finish("stalled", why="the bot said nothing")
                    break
                reply = await self.respond(messages)
                if reply is None:
                    break
                said = reply
            if self.outcome.result in ("open",):
                self._finish("stalled", why="ended without an outcome")
            await self._read_back_handoff()
            self._judge()
        finally:
            self.outcome.seconds = round(time.monotonic() - started, 1)
            await self.client.disconnect()
        return self.outcome

    async def _say(self, text: str) -> None:
        self.outcome.turns += 1
        self.outcome.transcript.append(f"customer: {text}")
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def _read_turn(self) -> list[BotMessage]:
        """Everything the bot says until it has been quiet for a moment."""
        messages: list[BotMessage] = []
        try:
            first = await asyncio.wait_for(self.inbox.get(), FIRST_ANSWER_SECONDS)
        except TimeoutError:
            return messages
        messages.append(self._message(first))
        while True:
            try:
                data = await asyncio.wait_for(self.inbox.get(), QUIET_SECONDS)
            except TimeoutError:
                return messages
            messages.append(self._message(data))

    async def _drain(self, seconds: float) -> None:
        while True:
            try:
                data = await asyncio.wait_for(self.inbox.get(), seconds)
            except TimeoutError:
                return
            self._message(data)

    def _message(self, data: dict[str, Any]) -> BotMessage:
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in data.get("quick_replies") or data.get("buttons") or []
        ]
        message = BotMessage(str(data.get("text") or ""), buttons)
        shown = message.text + (f"  [{' | '.join(b['title'] for b in buttons)}]" if buttons else "")
        self.outcome.transcript.append(f"bot: {shown}")
        return message

    # -- what the customer answers --------------------------------------------------------------

    async def respond(self, messages: list[BotMessage]) -> str | None:
        text = "\n".join(m.text for m in messages)
        lowered = text.lower()
        buttons = [b for m in messages for b in m.buttons]

        if re.search(r"\bHD-\d{5}\b", text) and re.search(
            r"i've opened ticket|i have opened ticket|ticket .* (?:erstellt|angelegt)", lowered
        ):
            self._finish("escalated")
            if buttons and re.search(r"e-mail|email|mail", lowered):
                await self._say_and_read(self._button(buttons, ("no", "nein")) or "no")
            return None
        if self._is_out_of_scope_answer(lowered):
            self._finish("declined")
            return None

        guide = re.search(r"walk you through [\"“*]+(.+?)[\"”*]+", text) or re.search(
            r"(?:durch|Anleitung) [\"„“*]+(.+?)[\"“”*]+", text
        )
        if guide:
            offered = self.articles.find(guide.group(1))
            self._offered(offered)
            if self._question("guide") > 2:
                return self._stall("the guide was offered again and again")
            if offered in self.right_articles:
                self._said_yes_to = offered
                return self._button(buttons, ("yes", "ja", "let's start", "los")) or "yes"
            for button in buttons:
                other = self.articles.find(button["title"])
                if other and other in self.right_articles:
                    self._offered(other)
                    self._said_yes_to = other
                    return button["payload"] or button["title"]
            return (
                self._button(buttons, ("something else", "no", "etwas anderes", "nein"))
                or "no, that's not it"
            )

        step = re.search(r"(?:Step|Schritt) (\d+) (?:of|von) (\d+)", text)
        if step or re.search(r"did (?:that|it) work|hat (?:das|es) geklappt|hat es funktioniert", lowered):
            number = int(step.group(1)) if step else self._current_step
            self._current_step = number
            total = int(step.group(2)) if step else None
            failing = self.facts.get("steps")
            if isinstance(failing, int) and failing == number:
                self._failed_once.add(number)
                return self._button(buttons, ("no", "nein", "still", "immer noch")) or "no, that didn't work"
            if total is not None and number == total and self._said_yes_to:
                self.outcome.article_confirmed = self._said_yes_to
            return self._button(buttons, ("yes", "ja")) or "yes"

        shown = self._shown_article(messages)
        if shown and re.search(r"did (?:this|that) (?:help|answer)|hat (?:das|dies) geholfen", lowered):
            self._offered(shown)
            if self._question(f"article:{shown}") > 2:
                return self._stall("the same article was shown again and again")
            if shown in self.right_articles and isinstance(self.facts.get("steps"), int):
                # Its problem, but this customer's attempt fails (at a step of it): it did not help.
                return (
                    self._button(buttons, ("didn't help", "nicht geholfen", "no", "nein"))
                    or "no, that didn't work"
                )
            if shown in self.right_articles:
                self.outcome.article_confirmed = shown
                return self._button(buttons, ("yes", "ja")) or "yes, thanks"
            return self._button(buttons, ("not what i asked", "no", "nein")) or "no"

        if re.search(r"reset link to|link .* geschickt|link .* gesendet", lowered):
            self._finish("contained", article="password_reset")
            return None
        if re.search(r"account is unlocked|konto ist (?:wieder )?entsperrt", lowered):
            self._finish("contained", article="unlocked")
            return None
        if re.search(
            r"ticket .* (?:is|ist) (?:waiting|assigned|resolved|with|in)"
            r"|no tickets from this chat|can't find ticket .* in this chat|keine tickets"
            r"|finde ich in diesem chat nicht",
            lowered,
        ):
            self._finish("contained", article="ticket_status")
            return None

        if re.search(r"(?:rate|rating|bewert|how did (?:i|we) do|wie zufrieden)", lowered) and buttons:
            self._goal_reached()
            return self._button(buttons, ("4",)) or "4"
        if re.search(r"username or (?:work )?e-?mail|benutzername|e-mail-adresse", lowered):
            if self._question("account") > 2:
                return self._stall("asked for the account again and again")
            return str(self.facts.get("account") or self.facts.get("email") or "I'm not sure")
        if re.search(r"type the code|code (?:here|hier|ein)|6-digit|6-stellig", lowered):
            if self._question("code") > 2:
                return self._stall("asked for the code again and again")
            return await self._code_from_mailbox()
        if re.search(r"reset link\?|reset-link|link zum zurücksetzen", lowered) and buttons:
            return self._button(buttons, ("yes", "ja")) or "yes"
        if re.search(r"which device|operating system|welches gerät|betriebssystem", lowered):
            return self._fact("device_question", self._device_answer(), buttons)
        if re.search(r"since when|seit wann", lowered):
            return self._fact("since", self.facts.get("since"), buttons)
        if re.search(r"error message|fehlermeldung", lowered):
            return self._fact("error", self.facts.get("error") or "none", buttons)
        if re.search(r"who is affected|wer ist betroffen", lowered):
            return self._fact("affected", self.facts.get("affected"), buttons)
        if re.search(r"stop your work|how urgent|wie dringend|an der arbeit", lowered) and buttons:
            return self._fact("urgency", self.facts.get("urgency"), buttons)
        if re.search(r"ticket number|ticketnummer", lowered):
            return self._fact("ticket", self.facts.get("ticket"), buttons)

        if re.search(
            r"anything else|how can i help|what do you need|kann ich (?:sonst )?noch|wie kann ich helfen",
            lowered,
        ):
            if self._goal_met():
                self._finish("contained")
                return None
            if self._rephrased:
                return self._stall("the bot asked what I need again after a rephrase")
            self._rephrased = True
            return self._rephrase()
        if re.search(r"what is it about|not sure i understood|nicht sicher|worum geht", lowered):
            if self._question("clarify") > 2:
                return self._stall("the bot kept asking what it is about")
            return self._rephrase()
        if self._goal_met():
            self._finish("contained")
            return None
        if self._question(_norm(messages[-1].text)[:80]) > 2:
            return self._stall("the bot repeated itself")
        return self._rephrase()

    _current_step = 0

    async def _say_and_read(self, text: str) -> None:
        await self._say(text)
        await self._read_turn()

    def _button(self, buttons: list[dict[str, str]], words: tuple[str, ...]) -> str | None:
        for word in words:
            for button in buttons:
                if _norm(button["title"]).startswith(word):
                    return button["payload"] or button["title"]
        return None

    def _fact(self, question: str, value: Any, buttons: list[dict[str, str]]) -> str:
        if self._question(question) > 2:
            self.done = True
            self._finish("stalled", why=f"asked '{question}' three times")
            return ""
        if value and buttons:
            wanted = _norm(str(value))
            for button in buttons:
                title = _norm(button["title"])
                if title and (title in wanted or wanted in title):
                    return button["payload"] or button["title"]
        if value:
            return str(value)
        return self._button(buttons, ("not sure", "weiß nicht", "ich weiß nicht")) or "not sure"

    def _device_answer(self) -> str | None:
        return self.facts.get("device") or self.facts.get("os")

    def _question(self, key: str) -> int:
        self._asked[key] = self._asked.get(key, 0) + 1
        return self._asked[key]

    def _stall(self, why: str) -> None:
        self._finish("stalled", why=why)
        return None

    def _rephrase(self) -> str:
        parts = [str(self.scenario["opening"])]
        if self._device_answer():
            parts.append(f"({self._device_answer()})")
        return " ".join(parts)

    def _offered(self, article_id: str | None) -> None:
        if article_id and article_id not in self.outcome.articles_offered:
            self.outcome.articles_offered.append(article_id)

    def _shown_article(self, messages: list[BotMessage]) -> str | None:
        for message in messages:
            first_line = message.text.split("\n", 1)[0]
            found = self.articles.find(first_line)
            if found:
                return found
        return None

    def _goal_reached(self) -> None:
        if self._said_yes_to and not self.outcome.article_confirmed and self.facts.get("steps") == "works":
            self.outcome.article_confirmed = self._said_yes_to

    def _goal_met(self) -> bool:
        return self.outcome.article_confirmed is not None

    def _is_out_of_scope_answer(self, lowered: str) -> bool:
        return bool(
            re.search(
                # The bot's own words for "not ours" (an article may well say "außerhalb der Firma").
                r"outside what the it help desk|not something it can help|außerhalb dessen, wobei",
                lowered,
            )
        )

    def _finish(self, result: str, *, article: str | None = None, why: str = "") -> None:
        if self.outcome.result == "open":
            self.outcome.result = result
            self.outcome.why = why
            if article and not self.outcome.article_confirmed:
                self.outcome.article_confirmed = article
        self.done = True

    async def _code_from_mailbox(self) -> str:
        email = str(self.facts.get("email") or "")
        deadline = time.monotonic() + 10
        async with httpx.AsyncClient(base_url=self.helpdesk_url, timeout=10) as http:
            while time.monotonic() < deadline:
                answer = await http.get(
                    "/api/v1/dev/mailbox",
                    params={"to": email},
                    headers={"Authorization": f"Bearer {self.tokens['lead']}"},
                )
                if answer.status_code == 200 and answer.json():
                    match = re.search(r"\b(\d{6})\b", answer.json()[0]["body"])
                    if match:
                        return match.group(1)
                await asyncio.sleep(0.3)
        return "I didn't get a code"

    async def _read_back_handoff(self) -> None:
        async with httpx.AsyncClient(base_url=self.helpdesk_url, timeout=10) as http:
            answer = await http.get(
                f"/api/v1/conversations/{self.session_id}/handoff",
                headers={"Authorization": f"Bearer {self.tokens['bot']}"},
            )
            if answer.status_code == 200 and answer.json():
                body = answer.json()
                self.outcome.handoff = {
                    k: body.get(k) for k in ("number", "tier", "reason", "priority", "category")
                }
                if self.outcome.result not in ("escalated",):
                    self.outcome.result = "escalated"

    def _judge(self) -> None:
        outcome, expect = self.outcome, self.expect
        expected = outcome.expected
        if expected == "handoff":
            handoff = outcome.handoff or {}
            tier_ok = handoff.get("tier") == expect.get("tier", "l2")
            reason_ok = same_reason(expect.get("reason"), handoff.get("reason"))
            floor = expect.get("priority_at_least")
            priority_ok = (
                floor is None or PRIORITY_ORDER.get(str(handoff.get("priority")), 9) <= PRIORITY_ORDER[floor]
            )
            outcome.right = outcome.result == "escalated" and tier_ok and reason_ok and priority_ok
            if outcome.result == "escalated" and not outcome.right:
                outcome.why = (
                    f"handoff {handoff} expected tier {expect.get('tier')} reason {expect.get('reason')}"
                )
            return
        if outcome.result == "escalated":
            outcome.why = (
                outcome.why or f"handed over ({(outcome.handoff or {}).get('reason')}) instead of {expected}"
            )
            return
        if expected == "declined":
            outcome.right = outcome.result == "declined"
        elif expected == "answered":
            outcome.right = outcome.result == "contained" and outcome.article_confirmed in self.right_articles
            if outcome.result == "contained" and not outcome.right:
                outcome.result = "wrong"
        elif expected in ("password_reset", "unlocked", "ticket_status"):
            outcome.right = outcome.result == "contained" and outcome.article_confirmed == expected
        if not outcome.right and not outcome.why:
            outcome.why = f"{outcome.result}, offered {outcome.articles_offered}"


async def article_titles(helpdesk_url: str, token: str) -> Articles:
    async with httpx.AsyncClient(base_url=helpdesk_url, timeout=30) as http:
        answer = await http.get(
            "/api/v1/kb/articles", params={"limit": 500}, headers={"Authorization": f"Bearer {token}"}
        )
        answer.raise_for_status()
        body = answer.json()
        items = body.get("items", body) if isinstance(body, dict) else body
        # A translation is the same answer in the customer's language: it counts as the article it translates.
        return Articles(
            {str(item["id"]): str(item["title"]) for item in items},
            {str(item["id"]): str(item["translation_of"]) for item in items if item.get("translation_of")},
        )


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    solvable = [o for o in outcomes if o.l1_solvable]
    handoffs = [o for o in outcomes if o.expected == "handoff"]
    contained_right = [o for o in solvable if o.right]
    return {
        "scenarios": len(outcomes),
        "l1_solvable": len(solvable),
        "contained_right": len(contained_right),
        "contained_right_share": share(len(contained_right), len(solvable)),
        "escalations_expected": len(handoffs),
        "escalated_right": sum(o.right for o in handoffs),
        "escalated_right_share": share(sum(o.right for o in handoffs), len(handoffs)),
        "stalls": sum(o.result == "stalled" for o in outcomes),
        "wrong_answers": sum(o.result == "wrong" for o in outcomes),
        "unneeded_handoffs": sum(o.result == "escalated" and o.expected != "handoff" for o in outcomes),
        "turns_to_resolution_mean": round(sum(o.turns for o in contained_right) / len(contained_right), 2)
        if contained_right
        else None,
    }
