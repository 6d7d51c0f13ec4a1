"""Sections 1 and 1.1: bot turn latency vs concurrent conversations, and with paced customers.

From bench/bot_latency.py (bot_latency.json, and bot_latency_paced.json with `--think`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.report.common import BOT_TARGET_CONCURRENCY, BOT_TARGET_MS, COLORS, NA, find, met, ms, table

FLOW_NAMES = {
    "baseline": "plain greeting (a response)",
    "kb": "knowledge-base answer",
    "device": "device setup",
    "ticket": "ticket status",
    "identity": "identity (account -> code)",
    "handoff": "handoff to a human",
}


def bot_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records; the earlier file (one level, ours only, `flows.{flow}.{rest,socketio}`) too."""
    if "records" in data:
        return [r for r in data["records"] if r.get("n")]
    out = []
    for flow, channels in data.get("flows", {}).items():
        for channel in ("rest", "socketio"):
            if isinstance(channels, dict) and channels.get(channel, {}).get("n"):
                out.append(
                    {"bot": "ours", "flow": flow, "channel": channel, "concurrency": 1, **channels[channel]}
                )
    return out


def bot_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """One row per flow, channel and level: ours beside the stock bot, and the target where it applies."""
    rows = []
    keys = sorted(
        {(r["flow"], r["channel"], r["concurrency"]) for r in records},
        key=lambda k: (list(FLOW_NAMES).index(k[0]) if k[0] in FLOW_NAMES else 99, k[1], k[2]),
    )
    for flow, channel, level in keys:
        ours = find(records, bot="ours", flow=flow, channel=channel, concurrency=level)
        stock = find(records, bot="stock", flow=flow, channel=channel, concurrency=level)
        trio = lambda r: f"{ms(r['p50_ms'])} / {ms(r['p95_ms'])} / {ms(r.get('p99_ms'))}" if r else NA  # noqa: E731
        ok = None
        if ours and level == BOT_TARGET_CONCURRENCY:
            ok = ours["p95_ms"] <= BOT_TARGET_MS and not ours.get("failed")
        failed = sum((ours.get("failed") or {}).values()) if ours else 0
        rows.append(
            [
                FLOW_NAMES.get(flow, flow),
                channel,
                str(level),
                trio(ours),
                trio(stock),
                str((ours or {}).get("turns_per_second") or NA),
                str(failed),
                met(ok),
            ]
        )
    return rows


def section_bot(data: dict[str, Any], out: Path) -> tuple[list[str], list[list[str]]]:
    records = bot_records(data)
    lines = ["## 1. Bot turn latency per flow vs concurrent conversations", ""]
    lines.append(
        "Baseline: a stock Rasa bot (`bench/stock_bot`: the same intents, NLU components and policies, "
        "responses only, no action server), started like ours and sent the same texts. "
        f"Target: p95 <= {BOT_TARGET_MS} ms at {BOT_TARGET_CONCURRENCY} concurrent conversations. "
        "REST: the webhook call; socket.io: `user_uttered` -> the turn's last `bot_uttered`. "
        "Every conversation is new, so a timed first message includes the session start (ours runs a "
        "custom `action_session_start` on the action server: even the greeting calls it). "
        "Latencies in ms (p50 / p95 / p99)."
    )
    lines.append("")
    settings = data.get("settings", {})
    if settings:
        lines.append(
            f"Closed loop: each of the C clients starts a new conversation as soon as its last one "
            f"ended (think time {settings.get('think_seconds', 0)} s), so C turns are in flight at once. "
            f"Timed turns per flow, channel and level: {settings.get('turns')} (at least one per client); "
            f"warm-up turns: {settings.get('warmup')}."
        )
        lines.append("")
    rows = bot_rows(records)
    header = ["flow", "channel", "concurrent", "ours", "stock Rasa", "ours turns/s", "failed", "target"]
    lines += table(header, rows, "---|---|---:|---:|---:|---:|---:|---")
    lines.append("")
    memory_lines = []
    for bot, info in data.get("bots", {}).items():
        start = info.get("startup_seconds_together")
        if start:
            names = {"rasa": "Rasa", "actions": "action server", "helpdesk": "service"}
            each = ", ".join(f"{names.get(k, k)} {v} s" for k, v in start.items())
            whose = "our bot's processes, started together" if bot == "ours" else f"the {bot} bot"
            memory_lines.append(f"- Start-up of {whose} (process start -> ready): {each}.")
    lines += memory_lines + ([""] if memory_lines else [])
    if plot_bot(records, out / "bot_latency.png"):
        lines += ["![bot turn p95 vs concurrent conversations](bot_latency.png)", ""]

    headline = []
    for channel in ("rest", "socketio"):
        ours = find(records, bot="ours", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            headline.append(
                [
                    f"bot turn, knowledge-base answer, {BOT_TARGET_CONCURRENCY} concurrent conversations, "
                    f"{'REST' if channel == 'rest' else 'socket.io'}: p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"p95 <= {BOT_TARGET_MS} ms: {met(ours['p95_ms'] <= BOT_TARGET_MS)}; "
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    for flow in ("baseline", "handoff"):
        ours = find(records, bot="ours", flow=flow, channel="socketio", concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow=flow, channel="socketio", concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            headline.append(
                [
                    f"bot turn, {FLOW_NAMES[flow]}, {BOT_TARGET_CONCURRENCY} concurrent, socket.io: "
                    "p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    levels = sorted({r["concurrency"] for r in records})
    kb = [find(records, bot="ours", flow="kb", channel="socketio", concurrency=c) for c in levels]
    if len(levels) > 1 and all(kb):
        headline.append(
            [
                "bot turn, knowledge-base answer, socket.io p95 at "
                + " / ".join(str(c) for c in levels)
                + " concurrent",
                " / ".join(ms(r["p95_ms"]) for r in kb if r) + " ms",
                "stock Rasa "
                + " / ".join(
                    ms(s["p95_ms"])
                    if (s := find(records, bot="stock", flow="kb", channel="socketio", concurrency=c))
                    else NA
                    for c in levels
                )
                + " ms",
            ]
        )
    return lines, headline


def plot_bot(records: list[dict[str, Any]], path: Path) -> bool:
    flows = [f for f in FLOW_NAMES if any(r["flow"] == f for r in records)]
    if not flows:
        return False
    cols = 3
    rows = (len(flows) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False, sharey=True)
    for ax, flow in zip(axes.flat, flows, strict=False):
        for bot in ("ours", "stock"):
            for channel, style in (("rest", "-"), ("socketio", "--")):
                series = sorted(
                    (r["concurrency"], r["p95_ms"])
                    for r in records
                    if r["bot"] == bot and r["flow"] == flow and r["channel"] == channel
                )
                if series:
                    xs, ys = zip(*series, strict=True)
                    ax.plot(xs, ys, style, marker="o", color=COLORS[bot], label=f"{bot}, {channel}")
        ax.axhline(
            BOT_TARGET_MS, color="tab:red", linewidth=0.8, linestyle=":", label=f"target {BOT_TARGET_MS} ms"
        )
        ax.set_title(FLOW_NAMES[flow])
        ax.set_xscale("log")
        ax.set_yscale("log")
        levels = sorted({r["concurrency"] for r in records})
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.minorticks_off()
        ax.set_xlabel("concurrent conversations")
        ax.set_ylabel("p95 turn latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(flows) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Bot turn p95: ours vs a stock Rasa bot (responses only)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def section_bot_paced(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The same turns with customers who read and type: turns meet only by chance."""
    records = bot_records(data)
    think = data.get("settings", {}).get("think_seconds", 0)
    lines = ["## 1.1 Bot turn latency with paced customers", ""]
    lines.append(
        f"From `bench/bot_latency.py --think {think}`: each of the C customers starts at random within "
        f"{think} s and waits {0.5 * think:g}-{1.5 * think:g} s (at random) between conversations, as "
        "people read and type, where section 1 sends the next turn the moment the last one ended. "
        "Same bots, texts and timing; ms (p50 / p95 / p99). "
        f"Target: p95 <= {BOT_TARGET_MS} ms at {BOT_TARGET_CONCURRENCY} concurrent conversations."
    )
    lines.append("")
    rows = bot_rows(records)
    headline = []
    for channel in ("rest", "socketio"):
        ours = find(records, bot="ours", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        stock = find(records, bot="stock", flow="kb", channel=channel, concurrency=BOT_TARGET_CONCURRENCY)
        if ours:
            ok = ours["p95_ms"] <= BOT_TARGET_MS and not ours.get("failed")
            headline.append(
                [
                    f"bot turn, knowledge-base answer, {BOT_TARGET_CONCURRENCY} conversations paced "
                    f"({think:g} s apart on average), "
                    f"{'REST' if channel == 'rest' else 'socket.io'}: p50 / p95",
                    f"{ms(ours['p50_ms'])} / {ms(ours['p95_ms'])} ms",
                    f"p95 <= {BOT_TARGET_MS} ms: {met(ok)}; "
                    f"stock Rasa {ms(stock['p95_ms']) if stock else NA} ms",
                ]
            )
    header = ["flow", "channel", "concurrent", "ours", "stock Rasa", "ours turns/s", "failed", "target"]
    lines += table(header, rows, "---|---|---:|---:|---:|---:|---:|---")
    lines.append("")
    return lines, headline
