"""The working-day calendar: the one place every deadline is computed (DESIGN.md §4.6).

Working days follow the Monday–Friday rule except where a ``CalendarDay`` row says otherwise
(statutory holidays on weekdays, 调休 make-up workdays on weekends). The database, not the
``chinese_calendar`` package, is the source of truth: the package only seeds the years it knows,
and admins enter the State Council's arrangement for the rest. A year without data falls back to
Monday–Friday instead of failing, because a deadline that is a day early is better than an
appeal that cannot be dispatched.

Deadlines counted in days are "end of day" deadlines, returned as local midnight (Asia/Shanghai)
at the start of the following calendar day, so ``now < deadline`` means "still on time" for the
whole last day.
"""

from __future__ import annotations

import threading
import time as monotonic_time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import DEFAULT_DB_ALIAS, transaction

from minsheng.appeals.choices import TimeUnit

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = [
    "SHANGHAI",
    "add_limit",
    "connect_signals",
    "extend",
    "invalidate_cache",
    "is_workday",
    "known_years",
    "resume_deadline",
    "seed_from_chinese_calendar",
    "working_days_between",
    "years_without_data",
]

#: Day boundaries are those of the city, whatever the server's or the process's time zone.
SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Other processes (gunicorn workers, task workers) do not see this process's signals, so a
#: cached year is re-read after this long; an admin's edit reaches every process within it.
CACHE_SECONDS = 60.0

_ONE_DAY = timedelta(days=1)


# --- the exception table, cached per year -------------------------------------------------


@dataclass(frozen=True)
class _PendingChange:
    """A calendar write inside a transaction that has neither committed nor rolled back yet."""

    connection: BaseDatabaseWrapper
    on_commit: Callable[[], None]


_lock = threading.Lock()
_tables: dict[int, tuple[float, Mapping[date, bool]]] = {}
_generation = 0
_pending: list[_PendingChange] = []


def invalidate_cache() -> None:
    """Forget every cached year, so the next lookup reads the database."""
    global _generation
    with _lock:
        _generation += 1
        _tables.clear()


def _load_year(year: int) -> dict[date, bool]:
    from minsheng.core.models import CalendarDay

    rows = CalendarDay.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31))
    return dict(rows.values_list("date", "is_workday"))


def _has_uncommitted_changes() -> bool:
    """True while a transaction holding calendar writes is open.

    Such writes must not be cached: if the transaction rolls back (as every pytest-django test
    does) no signal says so. A rolled-back transaction drops its on-commit callbacks, which is
    how it is detected here; then the cache is dropped too.
    """
    with _lock:
        callbacks: dict[int, set[int]] = {}
        open_changes = []
        for change in _pending:
            key = id(change.connection)
            if key not in callbacks:
                callbacks[key] = {id(entry[1]) for entry in change.connection.run_on_commit}
            if id(change.on_commit) in callbacks[key]:
                open_changes.append(change)
        rolled_back = len(open_changes) != len(_pending)
        _pending[:] = open_changes
    if rolled_back:
        invalidate_cache()
    return bool(open_changes)


def _exceptions(year: int) -> Mapping[date, bool]:
    """The year's exceptions to Monday–Friday, from memory when possible."""
    if _pending and _has_uncommitted_changes():
        return _load_year(year)
    now = monotonic_time.monotonic()
    cached = _tables.get(year)
    if cached is not None and cached[0] > now:
        return cached[1]
    generation = _generation
    table = _load_year(year)
    with _lock:
        # An invalidation while we were reading means the table may already be stale.
        if generation == _generation:
            _tables[year] = (now + CACHE_SECONDS, table)
    return table


def _note_change(using: str = DEFAULT_DB_ALIAS) -> None:
    """Invalidate now, and again when the writing transaction commits.

    Invalidating only now would let another thread cache the old rows before the commit.
    """
    invalidate_cache()
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block or _already_pending(connection):
        return

    def committed() -> None:
        with _lock:
            _pending[:] = [change for change in _pending if change.on_commit is not committed]
        invalidate_cache()

    with _lock:
        _pending.append(_PendingChange(connection, committed))
    transaction.on_commit(committed, using=using)


def _already_pending(connection: BaseDatabaseWrapper) -> bool:
    """Whether an earlier write at this savepoint level or above already guards the cache.

    Any rollback that discards this write then discards that one too, so one guard suffices.
    """
    savepoints = set(connection.savepoint_ids)
    with _lock:
        ours = {id(change.on_commit) for change in _pending if change.connection is connection}
    return any(
        id(func) in ours and set(sids) <= savepoints for sids, func, *_ in connection.run_on_commit
    )


def _calendar_changed(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    _note_change(using)


def _tables_replaced(sender: Any, **kwargs: Any) -> None:
    # migrate and flush (TransactionTestCase teardown) write without model signals.
    invalidate_cache()


def connect_signals() -> None:
    """Keep the cache honest when calendar rows change; called from ``CoreConfig.ready``."""
    from django.db.models.signals import post_delete, post_migrate, post_save

    from minsheng.core.models import CalendarDay, CalendarYear

    for model in (CalendarDay, CalendarYear):
        uid = f"minsheng.core.calendar.{model.__name__}"
        post_save.connect(_calendar_changed, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(_calendar_changed, sender=model, dispatch_uid=f"{uid}.delete")
    post_migrate.connect(_tables_replaced, dispatch_uid="minsheng.core.calendar.migrate")


# --- days ---------------------------------------------------------------------------------


class _Days:
    """One computation's view of the calendar: each year's table is fetched once per call."""

    def __init__(self) -> None:
        self._years: dict[int, Mapping[date, bool]] = {}

    def is_workday(self, day: date) -> bool:
        table = self._years.get(day.year)
        if table is None:
            table = self._years[day.year] = _exceptions(day.year)
        exception = table.get(day)
        if exception is not None:
            return exception
        return day.weekday() < 5

    def count_between(self, start: date, end: date) -> int:
        count = 0
        day = start
        while day < end:
            if self.is_workday(day):
                count += 1
            day += _ONE_DAY
        return count

    def last_day_of_period(self, first: date, amount: int, unit: TimeUnit) -> date:
        """The last day of a period of ``amount`` days counted from the day after ``first``."""
        if amount == 0:
            return first
        if unit == TimeUnit.WORKING_DAYS:
            day, counted = first, 0
            while counted < amount:
                day += _ONE_DAY
                if self.is_workday(day):
                    counted += 1
            return day
        # Civil Code Art. 201/203: count from the next day; a last day that is a holiday (or a
        # weekend without a make-up workday) moves to the first working day after it.
        day = first + timedelta(days=amount)
        while not self.is_workday(day):
            day += _ONE_DAY
        return day


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day: an exception row wins, otherwise Monday–Friday."""
    return _Days().is_workday(day)


def working_days_between(start: date, end: date) -> int:
    """The number of working days ``d`` with ``start <= d < end`` (0 if ``end <= start``)."""
    return _Days().count_between(start, end)


# --- datetimes ----------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


def _time_unit(unit: str) -> TimeUnit:
    try:
        return TimeUnit(unit)
    except ValueError:
        choices = ", ".join(TimeUnit.values)
        raise ValueError(f"unknown time unit {unit!r}; expected one of {choices}") from None


def _require_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int, got {amount!r}")
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {amount}")


def _local_date(value: datetime) -> date:
    return value.astimezone(SHANGHAI).date()


def _end_of(day: date) -> datetime:
    """The end of ``day`` in the city: 00:00 Asia/Shanghai of the next day."""
    return datetime.combine(day + _ONE_DAY, time.min, tzinfo=SHANGHAI)


def _last_day(deadline: datetime) -> date:
    """The day a deadline closes: the day before for an end-of-day (midnight) deadline."""
    return (deadline.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()


def add_limit(start: datetime, amount: int, unit: str) -> datetime:
    """The deadline of a time limit of ``amount`` ``unit`` starting at ``start``.

    Hours run on the wall clock. Day limits never count the start day, whatever the time, and
    end at the end of their last day; ``amount=0`` means "by the end of today".
    """
    _require_aware(start, "start")
    _require_amount(amount)
    time_unit = _time_unit(unit)
    if time_unit == TimeUnit.HOURS:
        return start + timedelta(hours=amount)
    return _end_of(_Days().last_day_of_period(_local_date(start), amount, time_unit))


def extend(deadline: datetime, amount: int, unit: str) -> datetime:
    """The deadline after an approved extension (延期) of ``amount`` ``unit``.

    Day extensions count from the day after the old deadline's last day, so extending a
    20-working-day limit by 20 gives the same result as a 40-working-day limit.
    """
    _require_aware(deadline, "deadline")
    _require_amount(amount)
    time_unit = _time_unit(unit)
    if time_unit == TimeUnit.HOURS:
        return deadline + timedelta(hours=amount)
    return _end_of(_Days().last_day_of_period(_last_day(deadline), amount, time_unit))


def resume_deadline(
    deadline: datetime, unit: str, suspended_at: datetime, resumed_at: datetime
) -> datetime:
    """The deadline after a suspension (挂起) from ``suspended_at`` to ``resumed_at``.

    The clock stops while suspended: hour limits get the suspended time back; working-day
    limits get back the working days in [suspension day, resumption day), so Friday 10:00 to
    Monday 10:00 gives back one day; calendar-day limits get back the calendar days, and the
    new last day rolls past holidays again.
    """
    _require_aware(deadline, "deadline")
    _require_aware(suspended_at, "suspended_at")
    _require_aware(resumed_at, "resumed_at")
    time_unit = _time_unit(unit)
    if resumed_at < suspended_at:
        raise ValueError(f"resumed_at {resumed_at} is before suspended_at {suspended_at}")
    if time_unit == TimeUnit.HOURS:
        return deadline + (resumed_at - suspended_at)
    first, last = _local_date(suspended_at), _local_date(resumed_at)
    if time_unit == TimeUnit.WORKING_DAYS:
        paused = working_days_between(first, last)
    else:
        paused = (last - first).days
    if paused == 0:
        return deadline
    return extend(deadline, paused, time_unit)


# --- years and seeding --------------------------------------------------------------------


def known_years() -> list[int]:
    """Years whose holiday arrangement has been entered, ascending."""
    from minsheng.core.models import CalendarYear

    return list(CalendarYear.objects.order_by("year").values_list("year", flat=True))


def years_without_data(years: Iterable[int]) -> list[int]:
    """Which of ``years`` have no holiday arrangement yet (deadlines fall back to Mon–Fri)."""
    from minsheng.core.models import CalendarYear

    wanted = set(years)
    entered = set(CalendarYear.objects.filter(year__in=wanted).values_list("year", flat=True))
    return sorted(wanted - entered)


def _package_exceptions(year: int) -> dict[date, tuple[bool, str]]:
    """The year's exceptions to Monday–Friday according to ``chinese_calendar``.

    Raises ``NotImplementedError`` for a year the installed package does not know.
    """
    import chinese_calendar

    exceptions: dict[date, tuple[bool, str]] = {}
    day = date(year, 1, 1)
    while day.year == year:
        workday = chinese_calendar.is_workday(day)
        if workday != (day.weekday() < 5):
            _, holiday = chinese_calendar.get_holiday_detail(day)
            exceptions[day] = (workday, _holiday_name(holiday, workday))
        day += _ONE_DAY
    return exceptions


def _holiday_name(holiday: object, workday: bool) -> str:
    """The Chinese name ("国庆节"); a make-up workday is named after its holiday ("国庆节补班")."""
    import chinese_calendar

    if holiday is None:
        return ""
    try:
        name = chinese_calendar.Holiday(holiday).chinese
    except ValueError:
        name = str(holiday)
    return f"{name}补班" if workday else name


def _package_years() -> list[int]:
    import chinese_calendar

    days = [*chinese_calendar.holidays, *chinese_calendar.workdays]
    if not days:
        return []
    return list(range(min(days).year, max(days).year + 1))


def seed_from_chinese_calendar(years: Iterable[int] | None = None) -> list[int]:
    """Copy the holidays ``chinese_calendar`` knows into the database; returns the years seeded.

    Idempotent. Rows an admin entered (``source="admin"``) are never touched; seeded rows the
    package no longer lists are removed, so upgrading the package corrects earlier seeds.
    Years the package does not know are skipped.
    """
    from minsheng.core.models import CalendarDay, CalendarYear

    seeded: list[int] = []
    with transaction.atomic():
        for year in sorted(set(_package_years() if years is None else years)):
            try:
                wanted = _package_exceptions(year)
            except NotImplementedError:
                continue
            _sync_year(CalendarDay, CalendarYear, year, wanted)
            seeded.append(year)
        _note_change()
    return seeded


def _sync_year(
    day_model: Any, year_model: Any, year: int, wanted: dict[date, tuple[bool, str]]
) -> None:
    seeded, admin = "seeded", "admin"
    existing = {
        row.date: row
        for row in day_model.objects.filter(
            date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
        )
    }
    stale = [d for d, row in existing.items() if row.source == seeded and d not in wanted]
    day_model.objects.filter(date__in=stale).delete()
    new, changed = [], []
    for day, (workday, name) in wanted.items():
        row = existing.get(day)
        if row is None:
            new.append(day_model(date=day, is_workday=workday, name=name, source=seeded))
        elif row.source != admin and (row.is_workday, row.name) != (workday, name):
            row.is_workday, row.name, row.source = workday, name, seeded
            changed.append(row)
    day_model.objects.bulk_create(new)
    day_model.objects.bulk_update(changed, ["is_workday", "name", "source"])
    year_model.objects.get_or_create(year=year, defaults={"source": seeded})
