"""Bot turn latency per flow and per number of concurrent conversations, ours vs a stock Rasa bot.

Run:  .venv/bin/python bench/bot_latency.py [--concurrency 1,10,50] [--turns 100] [--quick]
                                            [--bots ours,stock] [--channels rest,socketio]

Two bots, one after the other, each alone on the machine:

* ours:  the service, the action server and Rasa with the trained model (tests/harness/stack.py);
* stock: bench/stock_bot, a Rasa project with responses only (no custom action, no action server),
         the same NLU components and policies, trained by the bench into $HELPDESK_DATA_DIR/bench/.

Both get the same customer texts, each conversation new, per flow:

* baseline    "hello": a response (in a new conversation ours also runs its custom
              action_session_start on the action server; the stock bot runs Rasa's default);
* kb          a problem -> action_answer_from_kb (knowledge-base search, maybe an article fetch);
* device      a setup request -> device_form + action_device_setup (search + article fetches);
* ticket      a ticket question -> action_ticket_status (one service call);
* identity    a username typed into the verification form (directory lookup, code, mail);
* handoff     "talk to a person" -> action_handoff (a handoff is created).

(The stock bot answers each with one response.) For each number of concurrent conversations C,
C clients run conversations side by side until the level's turns are done (at least one each):
a closed loop with no think time, so C turns are in flight at every moment. `--think T` paces the
customers instead: each starts at random within T seconds and waits 0.5-1.5 x T between its
conversations, as people read and type (`make bench` runs both: bot_latency.json closed, and
bot_latency_paced.json with 10 conversations and T = 5 s).
REST: the time of the POST /webhooks/rest/webhook call (the whole turn). socket.io: the time from
`user_uttered` to the turn's last `bot_uttered` (the number of messages is counted beforehand from
the REST answer to the same texts). Only the last text of a flow is timed; the ones before set the
conversation up. Also recorded: each process's memory (RSS and PSS, with its children) idle and
after the run, and the stack's start-up. Target: p95 <= 150 ms at 10 concurrent conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    BenchStack,
    StockRasa,
    data_dir,
    default_out,
    load_average,
    machine_info,
    memory_mib,
    now_iso,
    quick_mode,
    stack_memory,
    stock_model,
    summary,
    wait_kb,
    write_json,
)
from tests.harness.stack import trained_model  # noqa: E402

TARGET_MS = 150
TARGET_CONCURRENCY = 10
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
FLOW_NAMES = {
    "baseline": "plain greeting (a response)",
    "kb": "knowledge-base answer",
    "device": "device setup",
    "ticket": "ticket status",
    "identity": "identity (account -> code)",
    "handoff": "handoff to a human",
}
SOCKET_TIMEOUT = 90.0


async def rest_turn(http: httpx.AsyncClient, sender: str, text: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await http.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, len(response.json())


async def rest_conversation(http: httpx.AsyncClient, texts: list[str]) -> tuple[float, list[int]]:
    sender = f"bench-{uuid.uuid4().hex}"
    counts, elapsed = [], 0.0
    for text in texts:
        elapsed, count = await rest_turn(http, sender, text)
        counts.append(count)
    return elapsed, counts


async def socket_conversation(url: str, texts: list[str], expected: list[int]) -> float:
    """Seconds from the last text's `user_uttered` to its last `bot_uttered`."""
    client = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue[float] = asyncio.Queue()
    confirmed = asyncio.Event()

    async def received(_data: dict[str, Any]) -> None:
        await inbox.put(time.perf_counter())

    client.on("bot_uttered", received)
    client.on("session_confirm", lambda _sid: confirmed.set())
    session = uuid.uuid4().hex
    await client.connect(url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=30)
    try:
        await client.emit("session_request", {"session_id": session})
        await asyncio.wait_for(confirmed.wait(), SOCKET_TIMEOUT)
        elapsed = 0.0
        for text, count in zip(texts, expected, strict=True):
            started = time.perf_counter()
            await client.emit("user_uttered", {"message": text, "session_id": session})
            last = started
            for _ in range(count):
                last = await asyncio.wait_for(inbox.get(), SOCKET_TIMEOUT)
            elapsed = last - started
        return elapsed
    finally:
        await client.disconnect()


async def run_level(
    url: str,
    http: httpx.AsyncClient,
    flow: str,
    channel: str,
    concurrency: int,
    turns: int,
    expected: dict[tuple[str, ...], list[int]],
    think: float = 0.0,
) -> dict[str, Any]:
    """`turns` conversations of one flow, `concurrency` at a time; the last text of each is timed.

    Closed loop: each client starts its next conversation as soon as the last one ended, so with no
    think time `concurrency` turns are in flight at every moment. With `think`, customers pace
    themselves: each client starts at a random point of the first `think` seconds and waits 0.5-1.5 x
    `think` (at random, seeded per client) after each conversation, so turns meet only by chance.
    """
    texts_for = TURNS[flow]
    todo = iter(range(turns))
    samples: list[float] = []
    failures: dict[str, int] = {}

    async def client(index: int) -> None:
        pace = random.Random(index)
        if think:
            await asyncio.sleep(pace.uniform(0, think))
        for n, i in enumerate(todo):
            if think and n:
                await asyncio.sleep(pace.uniform(0.5 * think, 1.5 * think))
            texts = texts_for(i)
            try:
                if channel == "rest":
                    elapsed, _ = await rest_conversation(http, texts)
                else:
                    elapsed = await socket_conversation(url, texts, expected[tuple(texts)])
            except Exception as error:  # a failed turn is counted, not fatal
                key = type(error).__name__
                failures[key] = failures.get(key, 0) + 1
                continue
            samples.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(client(index) for index in range(concurrency)))
    wall = time.perf_counter() - started
    return {
        **summary(samples),
        "failed": failures,
        "wall_seconds": round(wall, 2),
        "turns_per_second": round(len(samples) / wall, 2) if wall else None,
    }


def turns_at(level: int, turns: int) -> int:
    """At least `turns` conversations, and at least one per concurrent client."""
    return max(turns, level)


async def measure_bot(bot: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    size = max(args.levels) + 10
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        for flow in args.flows:
            texts_for = TURNS[flow]
            # The number of messages each text sequence gets (socket.io waits for them), and a warm-up.
            needed = {tuple(texts_for(i)) for i in range(max(turns_at(c, args.turns) for c in args.levels))}
            expected = {texts: (await rest_conversation(http, list(texts)))[1] for texts in needed}
            for i in range(args.warmup):
                texts = texts_for(i)
                await rest_conversation(http, texts)
                if "socketio" in args.channels:
                    await socket_conversation(url, texts, expected[tuple(texts)])
            for level in args.levels:
                for channel in args.channels:
                    result = await run_level(
                        url, http, flow, channel, level, turns_at(level, args.turns), expected, args.think
                    )
                    record = {
                        "bot": bot,
                        "flow": flow,
                        "channel": channel,
                        "concurrency": level,
                        "load_average_1m": load_average()[0],
                        **result,
                    }
                    records.append(record)
                    p50, p95, p99 = (result.get(f"p{q}_ms", float("nan")) for q in (50, 95, 99))
                    print(
                        f"{bot:5s} {flow:8s} {channel:8s} C={level:<3d} n={result['n']:<4d} "
                        f"p50 {p50:7.1f} p95 {p95:7.1f} p99 {p99:7.1f} ms  {result['turns_per_second']}/s"
                        f"{'  failed ' + str(result['failed']) if result['failed'] else ''}"
                        f"  load {load_average()[0]}",
                        flush=True,
                    )
    return records


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    model = trained_model(data_dir() / "models")
    with tempfile.TemporaryDirectory(prefix="bot-latency-") as tmp:
        # Every identity turn mails a code and every turn calls the service with the bot's one token:
        # lift the per-account code limit and the per-token rate limit for the benchmark's service.
        stack = BenchStack(
            data_dir=Path(tmp),
            model=model,
            extra_env={"OTP_MAX_CODES_PER_WINDOW": "1000000", "HELPDESK_TOKEN_RATE_LIMIT_PER_MINUTE": "0"},
        )
        started = time.monotonic()
        stack.start()
        print(f"ours: stack ready in {time.monotonic() - started:.1f} s {stack.ready_seconds}", flush=True)
        try:
            kb_seconds = wait_kb(stack.helpdesk_url, stack.tokens["bot"])
            time.sleep(2)
            idle = stack_memory(stack.processes)
            records = asyncio.run(measure_bot("ours", stack.rasa_url, args))
            after = stack_memory(stack.processes)
        finally:
            stack.stop()
    return {
        "model": model.name,
        "startup_seconds_together": stack.ready_seconds,
        "knowledge_base_ready_after_start_seconds": round(kb_seconds, 2),
        "memory": {"idle": idle, "after_run": after},
        "records": records,
    }


def run_stock(args: argparse.Namespace) -> dict[str, Any]:
    model = stock_model()
    with tempfile.TemporaryDirectory(prefix="bot-latency-stock-") as tmp:
        rasa = StockRasa(data_dir=Path(tmp), model=model)
        rasa.start()
        print(f"stock: rasa ready in {rasa.ready_seconds} s", flush=True)
        try:
            time.sleep(2)
            assert rasa.process is not None and rasa.process.popen is not None
            idle = {"rasa": memory_mib(rasa.process.popen.pid)}
            records = asyncio.run(measure_bot("stock", rasa.url, args))
            after = {"rasa": memory_mib(rasa.process.popen.pid)}
        finally:
            rasa.stop()
    return {
        "model": model.name,
        "startup_seconds_together": {"rasa": rasa.ready_seconds},
        "memory": {"idle": idle, "after_run": after},
        "records": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (also BENCH_QUICK=1)")
    parser.add_argument("--concurrency", default="1,10,50", help="concurrent conversations, comma-separated")
    parser.add_argument("--turns", type=int, default=None, help="timed turns per flow, channel and level")
    parser.add_argument("--warmup", type=int, default=None, help="untimed turns per flow first")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds (on average) a client waits between its conversations (default 0: closed loop)",
    )
    parser.add_argument("--bots", default="ours,stock")
    parser.add_argument("--channels", default="rest,socketio")
    parser.add_argument("--flows", default=",".join(TURNS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.quick = quick_mode(args.quick)
    args.turns = args.turns or (6 if args.quick else 100)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    args.levels = [int(x) for x in args.concurrency.split(",")]
    args.channels = args.channels.split(",")
    args.flows = args.flows.split(",")
    out = args.out or default_out("bot_latency.json", args.quick)

    load_at_start = load_average()
    bots: dict[str, Any] = {}
    for bot in args.bots.split(","):
        bots[bot] = run_ours(args) if bot == "ours" else run_stock(args)

    records = [r for b in bots.values() for r in b.pop("records")]
    target_rows = [
        r for r in records if r["bot"] == "ours" and r["concurrency"] == TARGET_CONCURRENCY and r["n"]
    ]
    report = {
        "benchmark": "bot turn latency per flow vs concurrent conversations, ours vs stock Rasa",
        "date": now_iso(),
        "machine": machine_info(load_at_start),
        "quick": args.quick,
        "settings": {
            "concurrency": args.levels,
            "turns": args.turns,
            "warmup": args.warmup,
            "think_seconds": args.think,
            "channels": args.channels,
            "flows": args.flows,
            "bots": list(bots),
        },
        "flows": {f: FLOW_NAMES[f] for f in args.flows},
        "target": {
            "p95_ms": TARGET_MS,
            "concurrency": TARGET_CONCURRENCY,
            "text": f"bot turn p95 <= {TARGET_MS} ms at {TARGET_CONCURRENCY} concurrent conversations",
        },
        "target_met": {
            f"{r['flow']}/{r['channel']}": r["p95_ms"] <= TARGET_MS and not r["failed"] for r in target_rows
        },
        "bots": bots,
        "records": records,
    }
    write_json(out, report)


if __name__ == "__main__":
    main()
