"""``minsheng calendar``: keep the working-day calendar (DESIGN.md §4.6) filled in.

``chinese_calendar`` only knows the years up to its release; each December the State Council
publishes next year's arrangement, and an operator enters it here or in the admin.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from minsheng.core import calendar, clock
from minsheng.core.models import CalendarDay, CalendarYear


def _year_ranges(years: list[int]) -> str:
    """2004, 2005, …, 2026 → "2004–2026"; gaps give several ranges."""
    ranges: list[str] = []
    start = previous = None
    for year in [*sorted(years), None]:
        if year is not None and previous is not None and year == previous + 1:
            previous = year
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}–{previous}")
        start = previous = year
    return ", ".join(ranges)


class Command(BaseCommand):
    help = "Seed, inspect and override the working-day calendar (holidays and 调休 workdays)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        seed = commands.add_parser("seed", help="copy the years chinese_calendar knows")
        seed.add_argument(
            "--year",
            dest="years",
            type=int,
            action="append",
            metavar="Y",
            help="seed only this year (repeatable); default: every year the package knows",
        )

        commands.add_parser("status", help="list entered years, warn about missing ones")

        override = commands.add_parser("set", help="enter one day (an admin override)")
        override.add_argument("day", type=date.fromisoformat, metavar="DATE")
        kind = override.add_mutually_exclusive_group(required=True)
        kind.add_argument("--workday", dest="is_workday", action="store_true")
        kind.add_argument("--holiday", dest="is_workday", action="store_false")
        override.add_argument("--name", default="", help="e.g. 国庆节 or 国庆节补班")
        override.add_argument(
            "--complete-year",
            type=int,
            metavar="Y",
            help="also mark year Y as entered (its arrangement is complete)",
        )

        complete = commands.add_parser("complete-year", help="mark a year's arrangement entered")
        complete.add_argument("year", type=int)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"handle_{action.replace('-', '_')}")(**options)

    def handle_seed(self, *, years: list[int] | None, **options: Any) -> None:
        seeded = calendar.seed_from_chinese_calendar(years)
        if seeded:
            self.stdout.write(f"Seeded: {_year_ranges(seeded)}")
        if years:
            skipped = sorted(set(years) - set(seeded))
            for year in skipped:
                self.stderr.write(
                    self.style.WARNING(f"{year}: chinese_calendar has no data; nothing seeded.")
                )
        elif not seeded:
            self.stderr.write(self.style.WARNING("chinese_calendar knows no years."))

    def handle_status(self, **options: Any) -> None:
        known = calendar.known_years()
        self.stdout.write(f"Entered years: {_year_ranges(known) or 'none'}")
        this_year = clock.now().astimezone(calendar.SHANGHAI).year
        for year in calendar.years_without_data([this_year, this_year + 1]):
            self.stderr.write(
                self.style.WARNING(
                    f"{year}: no holiday data; deadlines fall back to Mon–Fri. "
                    "Enter the State Council's arrangement in the admin."
                )
            )

    def handle_set(
        self,
        *,
        day: date,
        is_workday: bool,
        name: str,
        complete_year: int | None,
        **options: Any,
    ) -> None:
        if len(name) > CalendarDay._meta.get_field("name").max_length:
            raise CommandError("--name is too long (50 characters at most).")
        with transaction.atomic():
            CalendarDay.objects.update_or_create(
                date=day,
                defaults={
                    "is_workday": is_workday,
                    "name": name,
                    "source": CalendarDay.Source.ADMIN,
                },
            )
            if complete_year is not None:
                self._complete(complete_year)
        kind = "working day" if is_workday else "holiday"
        self.stdout.write(f"{day}: {kind} {name}".rstrip())

    def handle_complete_year(self, *, year: int, **options: Any) -> None:
        self._complete(year)

    def _complete(self, year: int) -> None:
        CalendarYear.objects.update_or_create(
            year=year, defaults={"source": CalendarDay.Source.ADMIN}
        )
        self.stdout.write(f"{year}: marked as entered.")
