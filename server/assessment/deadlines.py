"""Deadlines in Chinese working days (工作日): statutory holidays off, make-up weekend days on.

The feedback deadline is counted with the State Council's published holiday arrangement
(through the chinese_calendar package), never as Monday to Friday. A year whose
arrangement the installed package does not know yet is refused, not guessed: the package
is updated each year once the arrangement is published.
"""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from server.errors import RuleViolation


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError as exc:
        raise RuleViolation(f"尚无{day.year}年法定节假日安排数据，请更新 chinese_calendar 后重试",
                            code="HOLIDAY_CALENDAR_UNAVAILABLE", details={"year": day.year}) from exc


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (the start day itself does not count)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day
