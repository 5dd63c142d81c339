"""The working-day calendar (DESIGN.md §4.6): every deadline is computed here.

The 2025 and 2026 holidays come from migration 0003, which seeds what ``chinese_calendar``
knows; 2027 is a year the package does not know. Expected deadlines are worked out by hand in
the comments; "end of day D" is written as 00:00 Asia/Shanghai of the day after D.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import chinese_calendar
import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from minsheng.appeals.choices import TimeUnit
from minsheng.core import calendar, clock
from minsheng.core.calendar import (
    SHANGHAI,
    add_limit,
    extend,
    is_workday,
    resume_deadline,
    seed_from_chinese_calendar,
    working_days_between,
    years_without_data,
)
from minsheng.core.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

HOURS, WORKING_DAYS, CALENDAR_DAYS = (
    TimeUnit.HOURS,
    TimeUnit.WORKING_DAYS,
    TimeUnit.CALENDAR_DAYS,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Each test reads the database it sees, not a year cached by an earlier test.
    calendar.invalidate_cache()
    yield
    calendar.invalidate_cache()


# --- working days ------------------------------------------------------------------------


def test_five_working_days_from_the_eve_of_national_day_2025():
    # given: a dispatch on 30 Sep 2025 10:00; Oct 1–8 are holidays, Sat Oct 11 is a workday
    start = at(2025, 9, 30, 10)

    # when
    deadline = add_limit(start, 5, WORKING_DAYS)

    # then: the start day never counts → Oct 9 (1), 10 (2), Sat 11 (3), 13 (4), 14 (5);
    # the deadline is the end of Oct 14
    assert deadline == at(2025, 10, 15)
    assert deadline.utcoffset() == timedelta(hours=8)


def test_the_2026_spring_festival_arrangement_is_the_packages():
    # given / then: chinese_calendar 1.11 says Feb 15–23 are off, Sat Feb 14 and Feb 28 are on,
    # and the seeded table says the same
    assert [chinese_calendar.is_workday(date(2026, 2, d)) for d in range(14, 25)] == [
        True, False, False, False, False, False, False, False, False, False, True,
    ]  # fmt: skip
    assert chinese_calendar.is_workday(date(2026, 2, 28))
    assert set(
        CalendarDay.objects.filter(date__range=(date(2026, 2, 13), date(2026, 3, 1))).values_list(
            "date", "is_workday", "source"
        )
    ) == {
        (date(2026, 2, 14), True, "seeded"),  # Saturday make-up workday
        (date(2026, 2, 16), False, "seeded"),  # Mon–Fri Feb 16–20 and Mon Feb 23 are holidays
        (date(2026, 2, 17), False, "seeded"),
        (date(2026, 2, 18), False, "seeded"),
        (date(2026, 2, 19), False, "seeded"),
        (date(2026, 2, 20), False, "seeded"),
        (date(2026, 2, 23), False, "seeded"),
        (date(2026, 2, 28), True, "seeded"),  # Saturday make-up workday
    }
    assert CalendarDay.objects.get(date=date(2026, 2, 16)).name == "春节"
    assert CalendarDay.objects.get(date=date(2026, 2, 14)).name == "春节补班"


def test_five_working_days_across_the_2026_spring_festival():
    # given: a dispatch on Thu 12 Feb 2026 at 16:00
    start = at(2026, 2, 12, 16)

    # when
    deadline = add_limit(start, 5, WORKING_DAYS)

    # then: Fri Feb 13 (1), Sat Feb 14 make-up (2), Feb 15–23 off, Tue 24 (3), Wed 25 (4),
    # Thu 26 (5) → end of Feb 26
    assert deadline == at(2026, 2, 27)


def test_a_make_up_saturday_counts_as_a_working_day():
    # given: Friday 27 Feb 2026; Sat Feb 28 is the Spring Festival make-up workday
    start = at(2026, 2, 27, 9)

    # when
    deadline = add_limit(start, 1, WORKING_DAYS)

    # then: the first working day after Friday is that Saturday → end of Feb 28
    assert deadline == at(2026, 3, 1)


def test_day_boundaries_are_shanghai_not_utc():
    # given: 17:30 UTC on 30 Sep 2025 is already 01:30 on Oct 1 in Shanghai
    start = datetime(2025, 9, 30, 17, 30, tzinfo=UTC)

    # when
    deadline = add_limit(start, 1, WORKING_DAYS)

    # then: the start day is Oct 1; Oct 2–8 are off; Oct 9 is the first working day after it
    assert deadline == at(2025, 10, 10)


def test_zero_days_ends_with_the_start_day():
    # given: a Saturday that is not a working day
    start = at(2025, 11, 15, 10)

    # when / then: "within the day" means by the end of the start day, in either day unit
    assert add_limit(start, 0, WORKING_DAYS) == at(2025, 11, 16)
    assert add_limit(start, 0, CALENDAR_DAYS) == at(2025, 11, 16)
    assert add_limit(start, 0, HOURS) == start


def test_working_days_between_counts_the_start_and_not_the_end():
    # given / when / then: [Mon Sep 29, Mon Oct 13) holds Sep 29, Sep 30, Oct 9, Oct 10 and the
    # make-up Sat Oct 11; Sun Sep 28 (also a make-up day) is before the start
    assert working_days_between(date(2025, 9, 29), date(2025, 10, 13)) == 5
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 9)) == 0
    assert working_days_between(date(2025, 10, 13), date(2025, 10, 13)) == 0
    assert working_days_between(date(2025, 10, 14), date(2025, 10, 13)) == 0


def test_is_workday_follows_exceptions_then_the_weekday_rule():
    assert is_workday(date(2025, 10, 1)) is False  # Wednesday, National Day
    assert is_workday(date(2025, 10, 11)) is True  # Saturday, make-up workday
    assert is_workday(date(2025, 10, 12)) is False  # plain Sunday
    assert is_workday(date(2025, 10, 13)) is True  # plain Monday


# --- hours and calendar days -------------------------------------------------------------


def test_an_hours_limit_crosses_midnight_and_holidays_on_the_wall_clock():
    # given: 22:30 on the eve of National Day 2025
    start = at(2025, 9, 30, 22, 30)

    # when / then: 4 hours later is 02:30 on Oct 1, a holiday, which hours ignore
    assert add_limit(start, 4, HOURS) == at(2025, 10, 1, 2, 30)
    assert add_limit(start, 72, HOURS) == at(2025, 10, 3, 22, 30)


def test_a_calendar_day_limit_ending_on_a_holiday_moves_to_the_next_working_day():
    # given: legal aid's 7 日 from Fri 26 Sep 2025 15:00
    start = at(2025, 9, 26, 15)

    # when
    deadline = add_limit(start, 7, CALENDAR_DAYS)

    # then: counting from Sep 27, day 7 is Fri Oct 3, a holiday; Oct 4–8 are holidays too, so
    # the period ends with Thu Oct 9 (Civil Code Art. 203)
    assert deadline == at(2025, 10, 10)


def test_a_calendar_day_limit_ending_on_a_plain_saturday_moves_to_monday():
    # given: Wed 12 Nov 2025
    start = at(2025, 11, 12, 9)

    # when
    deadline = add_limit(start, 3, CALENDAR_DAYS)

    # then: day 3 is Sat Nov 15, no make-up workday → Mon Nov 17
    assert deadline == at(2025, 11, 18)


def test_a_calendar_day_limit_ending_on_a_make_up_saturday_stays():
    # given: Wed 8 Oct 2025 (a holiday; the start day is never counted anyway)
    start = at(2025, 10, 8, 9)

    # when
    deadline = add_limit(start, 3, CALENDAR_DAYS)

    # then: day 3 is Sat Oct 11, a make-up workday, so it stays the last day
    assert deadline == at(2025, 10, 12)


# --- suspension and extension ------------------------------------------------------------


def test_a_three_day_suspension_gives_back_three_working_days():
    # given: a deadline at the end of Fri 14 Nov 2025, suspended Mon Nov 10 10:00 to
    # Thu Nov 13 10:00: [Nov 10, Nov 13) holds Mon, Tue, Wed = 3 working days
    deadline = at(2025, 11, 15)

    # when
    resumed = resume_deadline(deadline, WORKING_DAYS, at(2025, 11, 10, 10), at(2025, 11, 13, 10))

    # then: 3 working days after Fri Nov 14 → Mon 17, Tue 18, Wed 19 → end of Nov 19
    assert resumed == at(2025, 11, 20)


def test_a_suspension_from_friday_to_monday_gives_back_one_working_day():
    # given: [Fri Nov 14, Mon Nov 17) holds one working day
    deadline = at(2025, 11, 20)  # end of Wed Nov 19

    # when
    resumed = resume_deadline(deadline, WORKING_DAYS, at(2025, 11, 14, 10), at(2025, 11, 17, 10))

    # then: one working day after Wed Nov 19 → end of Thu Nov 20
    assert resumed == at(2025, 11, 21)


def test_a_suspension_over_a_holiday_gives_back_only_its_working_days():
    # given: suspended Sep 30 2025 to Oct 9: of [Sep 30, Oct 9) only Sep 30 is a working day
    deadline = at(2025, 10, 15)  # end of Tue Oct 14

    # when
    resumed = resume_deadline(deadline, WORKING_DAYS, at(2025, 9, 30, 10), at(2025, 10, 9, 10))

    # then: one working day after Oct 14 → end of Wed Oct 15
    assert resumed == at(2025, 10, 16)


def test_a_three_day_suspension_gives_back_three_calendar_days_and_rolls_again():
    # given: a calendar-day deadline at the end of Wed 12 Nov 2025, suspended Nov 10 → Nov 13
    deadline = at(2025, 11, 13)

    # when
    resumed = resume_deadline(deadline, CALENDAR_DAYS, at(2025, 11, 10, 10), at(2025, 11, 13, 10))

    # then: Nov 12 + 3 = Sat Nov 15, not a working day → Mon Nov 17
    assert resumed == at(2025, 11, 18)


def test_a_three_day_suspension_gives_back_the_hours_suspended():
    # given: an hours deadline at 18:00 on 12 Nov 2025, suspended 72 hours
    deadline = at(2025, 11, 12, 18)

    # when
    resumed = resume_deadline(deadline, HOURS, at(2025, 11, 10, 10), at(2025, 11, 13, 10))

    # then
    assert resumed == at(2025, 11, 15, 18)


@pytest.mark.parametrize("unit", list(TimeUnit))
def test_a_zero_length_suspension_changes_nothing(unit):
    deadline = at(2025, 11, 15)
    moment = at(2025, 11, 12, 10)

    assert resume_deadline(deadline, unit, moment, moment) == deadline


def test_a_suspension_within_one_day_gives_back_no_working_day():
    # given: suspended and resumed on the same day: [Nov 12, Nov 12) is empty
    deadline = at(2025, 11, 15)

    # when / then
    assert (
        resume_deadline(deadline, WORKING_DAYS, at(2025, 11, 12, 9), at(2025, 11, 12, 17))
        == deadline
    )


def test_resuming_before_suspending_is_refused():
    with pytest.raises(ValueError, match="before"):
        resume_deadline(at(2025, 11, 15), HOURS, at(2025, 11, 13), at(2025, 11, 12))


def test_an_extension_counts_from_the_old_deadlines_last_day():
    # given: the end of Tue 14 Oct 2025
    deadline = at(2025, 10, 15)

    # when / then: 5 working days → Oct 15, 16, 17, 20, 21 → end of Oct 21
    assert extend(deadline, 5, WORKING_DAYS) == at(2025, 10, 22)
    # 24 hours on the wall clock
    assert extend(deadline, 24, HOURS) == at(2025, 10, 16)
    # Oct 14 + 4 = Sat Oct 18 → Mon Oct 20
    assert extend(deadline, 4, CALENDAR_DAYS) == at(2025, 10, 21)


def test_an_extension_equals_one_longer_limit():
    # given: a disclosure request: 20 working days, then one extension of 20
    start = at(2025, 9, 1, 10)

    # when / then
    assert extend(add_limit(start, 20, WORKING_DAYS), 20, WORKING_DAYS) == add_limit(
        start, 40, WORKING_DAYS
    )


# --- bad input ---------------------------------------------------------------------------


def test_a_negative_amount_is_refused():
    with pytest.raises(ValueError, match="negative"):
        add_limit(at(2025, 11, 12), -1, WORKING_DAYS)


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unknown time unit 'weeks'"):
        add_limit(at(2025, 11, 12), 1, "weeks")


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        add_limit(datetime(2025, 11, 12, 10), 1, HOURS)  # noqa: DTZ001 - the point of the test


# --- years without data: the database is the source of truth -----------------------------


def test_a_year_without_data_falls_back_to_monday_to_friday_until_an_admin_enters_it():
    # given: chinese_calendar does not know 2027, so nothing was seeded for it
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 10, 1))
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    start = at(2027, 9, 30, 10)  # Thursday

    # when: no data → Fri Oct 1 (1), Mon 4 (2), Tue 5 (3), Wed 6 (4), Thu 7 (5)
    before = add_limit(start, 5, WORKING_DAYS)

    # then
    assert is_workday(date(2027, 10, 1)) is True
    assert before == at(2027, 10, 8)

    # when: an admin enters National Day 2027 (Friday Oct 1 off)
    CalendarDay.objects.create(
        date=date(2027, 10, 1), is_workday=False, name="国庆节", source="admin"
    )

    # then: Oct 1 no longer counts → Mon 4 … Fri 8 → end of Oct 8
    assert is_workday(date(2027, 10, 1)) is False
    assert add_limit(start, 5, WORKING_DAYS) == at(2027, 10, 9)

    # when: the admin deletes it again
    CalendarDay.objects.filter(date=date(2027, 10, 1)).delete()

    # then
    assert add_limit(start, 5, WORKING_DAYS) == before


def test_a_change_that_is_rolled_back_does_not_stay_in_the_cache():
    # given: a 2031 holiday entered inside a transaction that is then rolled back
    start = at(2031, 1, 1, 10)  # Wednesday; Thu Jan 2 is the first working day after it
    with pytest.raises(RuntimeError), transaction.atomic():
        CalendarDay.objects.create(date=date(2031, 1, 2), is_workday=False, source="admin")
        assert add_limit(start, 1, WORKING_DAYS) == at(2031, 1, 4)  # Fri Jan 3
        raise RuntimeError("roll back")

    # when / then: the row is gone, and so is its effect
    assert add_limit(start, 1, WORKING_DAYS) == at(2031, 1, 3)


def test_years_without_data_lists_the_years_not_entered():
    # given: migration 0003 entered 2004–2026
    assert years_without_data([2026, 2031, 2025, 2027, 2027]) == [2027, 2031]

    # when: an admin marks 2027 entered
    CalendarYear.objects.create(year=2027, source="admin")

    # then
    assert years_without_data([2026, 2027, 2031]) == [2031]
    assert years_without_data([]) == []


# --- seeding -----------------------------------------------------------------------------


def test_seeding_is_idempotent_and_skips_years_the_package_does_not_know():
    # given: the migration already seeded 2025: 18 weekday holidays (Jan 1; Jan 28–31, Feb 3–4;
    # Apr 4; May 1, 2, 5; Jun 2; Oct 1–3, 6–8) and 5 weekend workdays (Jan 26, Feb 8, Apr 27,
    # Sep 28, Oct 11)
    rows_2025 = CalendarDay.objects.filter(date__year=2025)
    assert rows_2025.count() == 23
    before = set(rows_2025.values_list("date", "is_workday", "name", "source"))

    # when
    seeded = seed_from_chinese_calendar([2027, 2025])
    seeded_again = seed_from_chinese_calendar([2025])

    # then: 2027 is skipped without an error and nothing changed
    assert seeded == [2025]
    assert seeded_again == [2025]
    assert set(rows_2025.values_list("date", "is_workday", "name", "source")) == before
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_seeding_every_known_year_covers_2004_to_2026():
    assert seed_from_chinese_calendar() == list(range(2004, 2027))
    assert list(CalendarYear.objects.values_list("year", flat=True).order_by("year")) == list(
        range(2004, 2027)
    )


def test_seeding_restores_deleted_rows_and_never_overwrites_an_admin_row():
    # given: an admin makes Mon 6 Oct 2025 (seeded as Mid-autumn) a working day, and a seeded
    # row is lost
    CalendarDay.objects.filter(date=date(2025, 10, 6)).update(
        is_workday=True, name="本地调整", source="admin"
    )
    CalendarDay.objects.filter(date=date(2025, 10, 7)).delete()

    # when
    seed_from_chinese_calendar([2025])

    # then
    assert CalendarDay.objects.filter(date=date(2025, 10, 6)).values_list(
        "is_workday", "name", "source"
    ).get() == (True, "本地调整", "admin")
    assert CalendarDay.objects.filter(date=date(2025, 10, 7)).values_list(
        "is_workday", "name", "source"
    ).get() == (False, "国庆节", "seeded")
    assert is_workday(date(2025, 10, 6)) is True


def test_seeding_removes_a_seeded_row_the_package_does_not_list():
    # given: a seeded exception the package does not know (e.g. from an older package version)
    CalendarDay.objects.create(date=date(2025, 3, 3), is_workday=False, source="seeded")

    # when
    seed_from_chinese_calendar([2025])

    # then
    assert not CalendarDay.objects.filter(date=date(2025, 3, 3)).exists()


# --- the command -------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("calendar", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_status_warns_about_next_year_without_data():
    # given: it is November 2026; 2027 has no data
    with clock.replaying(at(2026, 11, 26, 12)):
        # when
        out, err = run("status")

    # then
    assert out == "Entered years: 2004–2026\n"
    assert "2027: no holiday data; deadlines fall back to Mon–Fri." in err
    assert "2026" not in err


def test_set_enters_an_admin_override_and_complete_year_marks_the_year():
    # when
    out, _ = run("set", "2027-10-01", "--holiday", "--name", "国庆节", "--complete-year", "2027")

    # then
    assert CalendarDay.objects.filter(date=date(2027, 10, 1)).values_list(
        "is_workday", "name", "source"
    ).get() == (False, "国庆节", "admin")
    assert CalendarYear.objects.get(year=2027).source == "admin"
    assert years_without_data([2027]) == []
    assert is_workday(date(2027, 10, 1)) is False

    # when: a make-up Saturday, then the year alone
    run("set", "2027-09-25", "--workday")
    run("complete-year", "2028")

    # then
    assert is_workday(date(2027, 9, 25)) is True
    assert years_without_data([2028]) == []


def test_seed_reports_the_years_seeded_and_skipped():
    out, err = run("seed", "--year", "2025", "--year", "2027")

    assert out == "Seeded: 2025\n"
    assert "2027: chinese_calendar has no data" in err


# --- the admin ---------------------------------------------------------------------------


def test_the_admin_lists_calendar_days_and_warns_about_missing_years(admin_client):
    with clock.replaying(at(2026, 11, 26, 12)):
        response = admin_client.get(
            "/admin/core/calendarday/?date__year=2026", HTTP_ACCEPT_LANGUAGE="en"
        )
        years = admin_client.get("/admin/core/calendaryear/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert years.status_code == 200
    assert "2027: no holiday data" in response.content.decode()
    assert "2027: no holiday data" in years.content.decode()


# --- properties --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2027, 12, 31, 23, 59),  # noqa: DTZ001
        timezones=st.just(SHANGHAI),
    ),
    amount=st.integers(min_value=0, max_value=30),
    unit=st.sampled_from(list(TimeUnit)),
)
def test_a_deadline_is_never_before_its_start_and_grows_with_the_amount(start, amount, unit):
    deadline = add_limit(start, amount, unit)

    assert deadline >= start
    assert add_limit(start, amount + 1, unit) >= deadline
