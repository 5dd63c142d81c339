"""Seed the working-day calendar from ``chinese_calendar`` (2004–2026 with version 1.11).

A frozen copy of ``minsheng.core.calendar.seed_from_chinese_calendar`` on the historical models,
so later changes to the service cannot change what this migration does.
"""

from datetime import date, timedelta

from django.db import migrations

SEEDED = "seeded"


def _exceptions(chinese_calendar, year):
    """The year's exceptions to Monday–Friday; NotImplementedError for an unknown year."""
    found = {}
    day = date(year, 1, 1)
    while day.year == year:
        workday = chinese_calendar.is_workday(day)
        if workday != (day.weekday() < 5):
            _, holiday = chinese_calendar.get_holiday_detail(day)
            name = ""
            if holiday is not None:
                try:
                    name = chinese_calendar.Holiday(holiday).chinese
                except ValueError:
                    name = str(holiday)
                if workday:
                    name = f"{name}补班"
            found[day] = (workday, name)
        day += timedelta(days=1)
    return found


def seed(apps, schema_editor):
    import chinese_calendar

    CalendarDay = apps.get_model("core", "CalendarDay")
    CalendarYear = apps.get_model("core", "CalendarYear")
    alias = schema_editor.connection.alias
    days = [*chinese_calendar.holidays, *chinese_calendar.workdays]
    if not days:
        return
    for year in range(min(days).year, max(days).year + 1):
        try:
            wanted = _exceptions(chinese_calendar, year)
        except NotImplementedError:
            continue
        existing = set(
            CalendarDay.objects.using(alias)
            .filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31))
            .values_list("date", flat=True)
        )
        CalendarDay.objects.using(alias).bulk_create(
            CalendarDay(date=day, is_workday=workday, name=name, source=SEEDED)
            for day, (workday, name) in sorted(wanted.items())
            if day not in existing
        )
        CalendarYear.objects.using(alias).get_or_create(year=year, defaults={"source": SEEDED})


def unseed(apps, schema_editor):
    alias = schema_editor.connection.alias
    apps.get_model("core", "CalendarDay").objects.using(alias).filter(source=SEEDED).delete()
    apps.get_model("core", "CalendarYear").objects.using(alias).filter(source=SEEDED).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]

    operations = [migrations.RunPython(seed, unseed)]
