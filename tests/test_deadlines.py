"""Feedback deadlines count Chinese working days: holidays off, make-up Saturdays and Sundays on."""
from datetime import date

import pytest

from server.assessment.deadlines import add_working_days
from server.errors import RuleViolation

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize("published, deadline, why", [
    # Just before National Day 2026 (1–7 Oct off, Sat 10 Oct worked):
    # 8, 9, 10(Sat), 12–16, 19–23, 26, 27 Oct.
    (date(2026, 9, 30), date(2026, 10, 27), "the holiday week is skipped, the make-up Saturday counts"),
    # Just before Spring Festival 2026 (15–23 Feb off; Sat 14 Feb and Sat 28 Feb worked):
    # 14(Sat), 24–27, 28(Sat) Feb, 2–6, 9–12 Mar.
    (date(2026, 2, 13), date(2026, 3, 12), "make-up Saturdays on both sides of the holiday count"),
    # Published on the make-up Saturday itself: it does not count; 12–16, 19–23, 26–30 Oct.
    (date(2026, 10, 10), date(2026, 10, 30), "a make-up working day as the start"),
    # Dragon Boat Festival (Fri 19 Jun 2026) on the way: 2–5, 8–12, 15–18, 22, 23 Jun.
    (date(2026, 6, 1), date(2026, 6, 23), "a single weekday holiday is skipped"),
    # No holiday at all: three weeks of Monday to Friday.
    (date(2026, 3, 2), date(2026, 3, 23), "an ordinary three weeks"),
])
def test_fifteen_working_days_follow_the_statutory_calendar(published, deadline, why):
    assert add_working_days(published, 15) == deadline, why


def test_a_make_up_saturday_is_a_working_day_a_weekday_holiday_is_not():
    assert add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)   # Friday → make-up Saturday
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)    # 1–7 Oct are off


# A year no calendar release knows, so these tests hold whatever the installed release is.
UNKNOWN_YEAR = 2099


def test_a_year_without_a_published_arrangement_is_refused_not_guessed():
    with pytest.raises(RuleViolation) as refused:
        add_working_days(date(UNKNOWN_YEAR - 1, 12, 20), 15)
    assert refused.value.code == "HOLIDAY_CALENDAR_UNAVAILABLE"


def test_an_entered_arrangement_counts_its_holidays_off_and_its_make_up_days_on():
    # 1 Jan (Thu) and 2 Jan (Fri) off, Sunday 4 Jan worked; then the ordinary weekday rule.
    entered = {UNKNOWN_YEAR: {date(UNKNOWN_YEAR, 1, 1): False, date(UNKNOWN_YEAR, 1, 2): False,
                              date(UNKNOWN_YEAR, 1, 4): True}}
    assert add_working_days(date(UNKNOWN_YEAR - 1, 12, 31), 1, entered) == date(UNKNOWN_YEAR, 1, 4)
    assert add_working_days(date(UNKNOWN_YEAR, 1, 4), 5, entered) == date(UNKNOWN_YEAR, 1, 9)
