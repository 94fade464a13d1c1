"""Time rules: store UTC, show Asia/Shanghai, keep contract and assessment years as dates.

Every service reads the time through `utcnow()` and `local_today()`, which ask one clock:
the system's in production; the tests install their own with `use_clock`, so "today" is a
day they choose.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_clock: Clock = SystemClock()


def use_clock(clock: Clock) -> Clock:
    """Make `clock` the one every service reads; returns the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def utcnow() -> datetime:
    return _clock.now()


def local_today() -> date:
    """Today's date in China, which is what a contract year or a deadline is counted in."""
    return utcnow().astimezone(SHANGHAI).date()
