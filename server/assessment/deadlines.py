"""Deadlines in Chinese working days (工作日): statutory holidays off, make-up weekend days on.

The feedback deadline is counted with the State Council's published holiday arrangement,
never as Monday to Friday: through the chinese_calendar package for the years it knows,
and for a year published after the installed release, from the arrangement bureau staff
entered (`HolidayArrangement`). A year known to neither is refused, not guessed.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import chinese_calendar
import sqlalchemy as sa

from server.errors import RuleViolation
from server.extensions import db
from server.regions.models import HolidayArrangement

# year → {day: is_working_day} for the days a published arrangement moves off the weekday rule.
Arrangements = Mapping[int, Mapping[date, bool]]


def package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date, arrangements: Arrangements | None = None) -> bool:
    if package_knows(day.year):
        return chinese_calendar.is_workday(day)
    published = (arrangements or {}).get(day.year)
    if published is None:
        raise RuleViolation(f"尚无{day.year}年法定节假日安排数据，请录入国务院办公厅公布的安排或更新 chinese_calendar",
                            code="HOLIDAY_CALENDAR_UNAVAILABLE", details={"year": day.year})
    return published.get(day, day.weekday() < 5)


def add_working_days(start: date, days: int, arrangements: Arrangements | None = None) -> date:
    """The `days`-th working day after `start` (the start day itself does not count)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, arrangements):
            counted += 1
    return day


def published_arrangements(from_year: int) -> dict[int, dict[date, bool]]:
    """The entered arrangements of `from_year` and later years that the package does not know."""
    rows = db.session.execute(sa.select(HolidayArrangement.day, HolidayArrangement.is_working_day)
                              .where(HolidayArrangement.year >= from_year))
    result: dict[int, dict[date, bool]] = {}
    for day, working in rows:
        if not package_knows(day.year):
            result.setdefault(day.year, {})[day] = working
    return result
