"""The clock the tests run on: each test starts at 10:00 Shanghai time on a chosen day.

A pinned day makes the world the tests build the same on every run, whatever the calendar
says. Time still flows within a test, because token expiry, sign-in windows, payment
deadlines and the freshness of a notification compare moments.
"""
from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day

from server.common.timeutil import SHANGHAI, local_today

# An ordinary day: mid-year, mid-month, a weekday, not in a leap year.
DEFAULT_TODAY = date(2026, 6, 15)
# The days a date rule tends to break on: a year's first days, its last, and a leap day.
CALENDAR_EDGES = (date(2027, 1, 2), date(2027, 12, 31), date(2028, 2, 29))
MORNING = time_of_day(10)  # Shanghai time; the UTC date is the same day


class PinnedClock:
    """10:00 Shanghai time on `day` when made, then running as real time runs."""

    def __init__(self, day: date) -> None:
        self.start = datetime.combine(day, MORNING, SHANGHAI).astimezone(timezone.utc)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._started)


def this_morning() -> datetime:
    """The moment today's clock was pinned at: one fixed "now" for a test that needs it twice."""
    return datetime.combine(local_today(), MORNING, SHANGHAI).astimezone(timezone.utc)


def day_of_the_run() -> date:
    """`JIAYI_TEST_TODAY` (YYYY-MM-DD) runs the whole suite on another day."""
    value = os.environ.get("JIAYI_TEST_TODAY")
    return date.fromisoformat(value) if value else DEFAULT_TODAY
