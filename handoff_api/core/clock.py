"""The service's notion of now (UTC, naive), which tests can move forward to reach SLA deadlines."""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) + _offset


def travel(by: timedelta) -> None:
    global _offset
    _offset += by


def reset() -> None:
    global _offset
    _offset = timedelta(0)
