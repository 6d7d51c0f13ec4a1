"""The background loops: who holds the lease, and the database away (one warning, no tracebacks, one line when
it is back)."""

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from handoff_api.core.config import Settings
from handoff_api.core.db import make_engine, make_session_factory
from handoff_api.workers import loops as background


def test_an_outage_is_logged_once_and_the_recovery_once(monkeypatch: pytest.MonkeyPatch) -> None:
    outage = iter(range(3))  # the database is away for three passes, then back
    steps = 0

    def acquire(*_args: Any) -> bool:
        if next(outage, None) is not None:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return True

    async def step() -> int:
        nonlocal steps
        steps += 1
        if steps == 2:
            raise asyncio.CancelledError  # two passes as the leader are enough
        return 0

    monkeypatch.setattr(background.lease, "acquire", acquire)
    monkeypatch.setattr(background, "DATABASE_DOWN_RETRY_SECONDS", 0.01)
    with structlog.testing.capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        asyncio.run(background._leader_loop(None, "outbox", 0.01, step))  # type: ignore[arg-type]
    assert steps == 2
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("background.database_unavailable", "warning"),
        ("background.database_back", "info"),
    ]
    assert "connection refused" in logs[0]["error"]


def test_a_worker_without_the_lease_asks_for_it_once_a_second_however_often_it_is_woken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = 0

    def acquire(*_args: Any) -> bool:
        nonlocal asked
        asked += 1
        return False  # another worker holds it

    async def step() -> int:
        raise AssertionError("only the lease holder delivers")

    async def woken_for_every_reply() -> None:
        wakeup = asyncio.Event()
        loop = asyncio.create_task(background._leader_loop(None, "outbox", 0.5, step, wakeup))  # type: ignore[arg-type]
        for _ in range(40):  # 40 replies queued on other workers within 0.4 s
            wakeup.set()
            await asyncio.sleep(0.01)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    monkeypatch.setattr(background.lease, "acquire", acquire)
    asyncio.run(woken_for_every_reply())
    assert asked == 1


async def _outbox_passes(gap: float, delivered: int, wake_at: list[float], run_for: float) -> list[float]:
    """When each pass of a lease holder's outbox loop started, woken at `wake_at` (seconds from start);
    each pass reports `delivered` items."""
    started: list[float] = []

    async def step() -> int:
        started.append(time.monotonic())
        return delivered

    wakeup = asyncio.Event()
    begin = time.monotonic()
    loop = asyncio.create_task(
        background._leader_loop(None, "outbox", 5, step, wakeup, pass_gap=gap)  # type: ignore[arg-type]
    )
    for at in wake_at:
        await asyncio.sleep(max(0.0, begin + at - time.monotonic()))
        wakeup.set()
    await asyncio.sleep(max(0.0, begin + run_for - time.monotonic()))
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    return [t - begin for t in started]


def test_outbox_passes_woken_by_every_reply_start_a_gap_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background.lease, "acquire", lambda *_args: True)
    replies = [i * 0.005 for i in range(50)]  # a reply every 5 ms for 0.25 s, each waking the deliverer
    started = asyncio.run(_outbox_passes(0.05, 1, replies, 0.25))
    assert 4 <= len(started) <= 7  # 0.25 s / 0.05 s: not a pass per reply, nor one per event-loop turn
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(started))


def test_a_reply_after_a_quiet_spell_is_delivered_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background.lease, "acquire", lambda *_args: True)
    # The first pass at start finds nothing; the reply comes after more than the gap.
    started = asyncio.run(_outbox_passes(0.5, 0, [0.6], 0.9))
    assert len(started) == 2 and started[0] < 0.1 and 0.6 <= started[1] < 0.7


def _dispose_when_returned(engine: Engine) -> None:
    """A loop cancelled while its lease query ran in a worker thread leaves the thread to finish it (the
    task does not wait): its connection comes back a moment later, and must not come back to a disposed
    pool (it would be dropped unclosed)."""
    deadline = time.monotonic() + 10
    while engine.pool.checkedout() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    engine.dispose()


Step = Callable[[], Awaitable[int]]


def _counted(passes: dict[str, int], holder: str, seconds: float, found: int) -> Step:
    """A pass that takes `seconds` and reports `found` items done (non-zero: more may be waiting)."""

    async def step() -> int:
        passes[holder] += 1
        await asyncio.sleep(seconds)
        return found

    return step


def _compete(settings: Settings, a: Step, a_interval: float, b: Step, seconds: float) -> None:
    """Worker a takes the outbox lease, 0.15 s later worker b asks for it too; `seconds` later both stop."""
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)

    async def run() -> None:
        first = asyncio.create_task(background._leader_loop(factory, "outbox", a_interval, a, holder="a"))
        await asyncio.sleep(0.15)
        second = asyncio.create_task(background._leader_loop(factory, "outbox", 0.05, b, holder="b"))
        await asyncio.sleep(seconds)
        for task in (first, second):
            task.cancel()
        await asyncio.gather(first, second, return_exceptions=True)

    try:
        asyncio.run(run())
    finally:
        _dispose_when_returned(engine)


def test_a_holder_busy_pass_after_pass_keeps_its_lease(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy outbox runs passes back to back; the holder must renew meanwhile, or the lease lapses and a
    second worker delivers the same items alongside it."""
    monkeypatch.setattr(background, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(background, "LEASE_ASK_SECONDS", 0.05)
    passes = {"a": 0, "b": 0}
    # a always finds more to deliver; b asks for the lease for four of its terms
    _compete(settings, _counted(passes, "a", 0.01, 1), 0.05, _counted(passes, "b", 0.01, 1), 1.2)
    assert passes["b"] == 0
    assert passes["a"] > 40


def test_a_holder_keeps_its_lease_through_a_pass_longer_than_the_term(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass waiting on a slow Rasa outlasts the lease's term; the holder renews meanwhile."""
    monkeypatch.setattr(background, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(background, "LEASE_ASK_SECONDS", 0.05)
    passes = {"a": 0, "b": 0}
    # a's one pass lasts four terms; b asks all along
    _compete(settings, _counted(passes, "a", 1.2, 0), 5, _counted(passes, "b", 0, 0), 1.0)
    assert passes == {"a": 1, "b": 0}


def test_a_holder_that_lost_its_lease_mid_pass_stops_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "LEASE_SECONDS", 0.3)
    answers = iter([True, False])  # taken, then lost at the first renewal (the database said so)
    finished = False

    def acquire(*_args: Any) -> bool:
        return next(answers, False)

    async def step() -> int:
        nonlocal finished
        await asyncio.sleep(1.0)
        finished = True
        return 0

    async def run() -> None:
        loop = asyncio.create_task(background._leader_loop(None, "outbox", 5, step))  # type: ignore[arg-type]
        await asyncio.sleep(1.3)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    monkeypatch.setattr(background.lease, "acquire", acquire)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(run())
    assert not finished
    assert [entry["event"] for entry in logs] == ["background.lease_lost"]
