"""Bot turn latency per flow, through the REST and socket.io channels, on the real stack.

Run:  .venv/bin/python bench/bot_latency.py [--turns 40] [--warmup 5]

Starts the service, the action server and Rasa with the trained model (tests/e2e/stack.py), then
times one customer turn per flow, each in a new conversation:

* baseline    "hello": a response only, no custom action (what Rasa itself costs);
* kb          a problem -> action_answer_from_kb (knowledge-base search, maybe an article fetch);
* device      a setup request -> device_form + action_device_setup (search + article fetches);
* ticket      a ticket question -> action_ticket_status (one service call);
* identity    a username typed into the verification form (directory lookup, code, mail);
* handoff     "talk to a person" -> action_handoff (a handoff is created).

REST: the time of the POST /webhooks/rest/webhook call (the whole turn). socket.io: the time from
`user_uttered` to the turn's last `bot_uttered` (the expected number of messages is counted from
the REST answer to the same text). Writes bench/results/bot_latency.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.stack import Stack, trained_model  # noqa: E402

PROBLEMS = [
    "outlook keeps crashing when I open it",
    "I can't connect to the vpn from home",
    "the wifi in the office is slow",
    "my headset microphone doesn't work in teams",
    "onedrive is not syncing my files",
    "I can't print anything",
    "my laptop is really slow",
    "the shared drive disappeared",
    "teams video is frozen",
    "zoom has no sound",
    "my disk is full",
    "the browser says access denied on the intranet",
    "single sign-on keeps looping",
    "I got a suspicious login alert",
    "my screen sharing does not work on mac",
    "scan to email fails",
]
SETUPS = [
    "set up the vpn on my windows laptop",
    "set up email on my iphone",
    "add a printer on my mac",
    "set up mfa on my android phone",
    "set up outlook on windows",
    "connect to the corporate wifi on windows",
    "enrol my mac in device management",
    "set up the vpn on my mac",
    "set up email on my android phone",
]
ACCOUNTS = ["jdoe", "asmith", "jane.doe@example.com", "alex.smith@example.com", "max.locked@example.com"]
TURNS: dict[str, Callable[[int], list[str]]] = {
    "baseline": lambda i: ["hello"],
    "kb": lambda i: [PROBLEMS[i % len(PROBLEMS)]],
    "device": lambda i: [SETUPS[i % len(SETUPS)]],
    "ticket": lambda i: ["what's the status of my ticket"],
    # Only the last message of a list is timed; the ones before set the conversation up.
    "identity": lambda i: ["I forgot my password", ACCOUNTS[i % len(ACCOUNTS)]],
    "handoff": lambda i: ["I want to talk to a person"],
}


def summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.5) * 1000, 1),
        "p95_ms": round(pick(0.95) * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def rest_turn(http: httpx.AsyncClient, sender: str, text: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await http.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, len(response.json())


async def socket_turn(url: str, texts: list[str], expected: list[int]) -> float:
    client = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue[float] = asyncio.Queue()

    async def received(_data: dict[str, Any]) -> None:
        await inbox.put(time.perf_counter())

    client.on("bot_uttered", received)
    session = uuid.uuid4().hex
    await client.connect(url, socketio_path="/socket.io", transports=["websocket"])
    await client.emit("session_request", {"session_id": session})
    await asyncio.sleep(0.05)
    try:
        elapsed = 0.0
        for text, count in zip(texts, expected, strict=True):
            started = time.perf_counter()
            await client.emit("user_uttered", {"message": text, "session_id": session})
            last = started
            for _ in range(count):
                last = await asyncio.wait_for(inbox.get(), 30)
            elapsed = last - started
        return elapsed
    finally:
        await client.disconnect()


async def measure(stack: Stack, turns: int, warmup: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    failures: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=stack.rasa_url, timeout=60) as http:
        for flow, texts_for in TURNS.items():
            rest: list[float] = []
            sock: list[float] = []
            for i in range(warmup + turns):
                texts = texts_for(i)
                sender = f"bench-{uuid.uuid4().hex}"
                counts = []
                elapsed = 0.0
                for text in texts:
                    elapsed, count = await rest_turn(http, sender, text)
                    counts.append(count)
                try:
                    socket_elapsed: float | None = await socket_turn(stack.rasa_url, texts, counts)
                except TimeoutError:
                    socket_elapsed = None
                if i >= warmup:
                    rest.append(elapsed)
                    if socket_elapsed is None:
                        failures[flow] = failures.get(flow, 0) + 1
                    else:
                        sock.append(socket_elapsed)
            results[flow] = {
                "rest": summary(rest),
                "socketio": summary(sock),
                "socketio_timeouts": failures.get(flow, 0),
            }
            rest_s, sock_s = results[flow]["rest"], results[flow]["socketio"]
            print(
                f"{flow:9s} rest p50 {rest_s['p50_ms']:7.1f} p95 {rest_s['p95_ms']:7.1f}"
                f" | socket.io p50 {sock_s['p50_ms']:7.1f} p95 {sock_s['p95_ms']:7.1f}"
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bot_latency.json")
    args = parser.parse_args()
    # Every identity turn mails a code: lift the per-account limit for the benchmark's service.
    os.environ["OTP_MAX_CODES_PER_WINDOW"] = "1000000"
    model = trained_model(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory(prefix="bot-latency-") as tmp:
        stack = Stack(data_dir=Path(tmp), model=model)
        started = time.monotonic()
        stack.start()
        print(f"stack ready in {time.monotonic() - started:.1f} s")
        try:
            # The knowledge base indexes the starter articles after start-up: wait for it.
            httpx.get(
                f"{stack.helpdesk_url}/api/v1/kb/search",
                params={"q": "vpn"},
                headers={"Authorization": f"Bearer {stack.tokens['bot']}"},
                timeout=300,
            )
            flows: Awaitable[dict[str, Any]] = measure(stack, args.turns, args.warmup)
            results = asyncio.run(flows)
        finally:
            stack.stop()
    report = {
        "benchmark": "bot turn latency per flow (bench/bot_latency.py)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.system(),
            # Other work on the machine inflates the figures: the 1-minute load average at the end.
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "turns_per_flow": args.turns,
        "warmup_turns": args.warmup,
        "target": "p95 <= 150 ms for a turn that calls the knowledge base (kb)",
        "kb_target_met": {ch: results["kb"][ch]["p95_ms"] <= 150 for ch in ("rest", "socketio")},
        "flows": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
