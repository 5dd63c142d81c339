"""What "75% of the time limit used" means (supervision/deadlines.py), by unit."""

from __future__ import annotations

from datetime import datetime

import pytest

from minsheng.supervision.deadlines import remaining_share, yellow_at
from tests.supervision.helpers import SH

pytestmark = pytest.mark.django_db


def test_hours_count_on_the_wall_clock():
    due = datetime(2026, 3, 9, 12, 0, tzinfo=SH)
    assert yellow_at(due, 2, "hours", 0.75) == datetime(2026, 3, 9, 11, 30, tzinfo=SH)
    assert yellow_at(due, 24, "hours", 0.5) == datetime(2026, 3, 9, 0, 0, tzinfo=SH)


def test_working_days_skip_the_weekend():
    # 5 working days ending Monday 16 March: 1.25 days left at Friday 13 March 18:00
    due = datetime(2026, 3, 17, 0, 0, tzinfo=SH)
    assert yellow_at(due, 5, "working_days", 0.75) == datetime(2026, 3, 13, 18, 0, tzinfo=SH)


def test_a_whole_number_of_days_left_is_reached_when_the_working_day_before_ends():
    # 4 working days ending Monday 16 March: exactly 1 day (Monday) is left from the end of
    # Friday 13 March on, through the weekend.
    due = datetime(2026, 3, 17, 0, 0, tzinfo=SH)
    assert yellow_at(due, 4, "working_days", 0.75) == datetime(2026, 3, 14, 0, 0, tzinfo=SH)


def test_holidays_do_not_count():
    # Qingming 2026: Saturday 4 to Monday 6 April off. 4 working days ending Wednesday 8 April
    # leave exactly one day (Wednesday) from the end of Tuesday 7 April; 8 days leave two
    # (Tuesday, Wednesday) from the end of Friday 3 April, across the long weekend.
    due = datetime(2026, 4, 9, 0, 0, tzinfo=SH)
    assert yellow_at(due, 4, "working_days", 0.75) == datetime(2026, 4, 8, 0, 0, tzinfo=SH)
    assert yellow_at(due, 8, "working_days", 0.75) == datetime(2026, 4, 4, 0, 0, tzinfo=SH)


def test_calendar_days_count_every_day():
    due = datetime(2026, 3, 17, 0, 0, tzinfo=SH)
    assert yellow_at(due, 4, "calendar_days", 0.75) == datetime(2026, 3, 16, 0, 0, tzinfo=SH)


def test_the_share_is_exact_and_bounded():
    assert remaining_share(0.75) * 4 == 1
    assert remaining_share(1.0) == 0
    with pytest.raises(ValueError):
        remaining_share(0)
    with pytest.raises(ValueError):
        remaining_share(1.5)
