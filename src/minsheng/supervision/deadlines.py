"""When a deadline turns yellow: what "75% of the time limit used" means, exactly.

The share is measured **backwards from the deadline**, in the unit of the time limit:

    yellow at = the first instant at which no more than (1 − share) × limit remains before the
                deadline, counting only time the limit counts.

- **Hours** (accept limits, urgent matters): wall-clock time. A 2-hour accept limit turns
  yellow 30 minutes before its deadline (share 0.75).
- **Working days** (工作日): only working days count, each as one whole day (00:00–24:00,
  Asia/Shanghai); weekends and holidays do not. A 5-working-day limit ending Friday 24:00 has
  1.25 working days left at Thursday 18:00: yellow at Thursday 18:00. A 20-day limit has 5
  days left at the end of its 15th working day, even when a weekend follows before the 16th:
  yellow at the end of that day, when the remaining time first reached the threshold.
- **Calendar days** (日): wall-clock days before the (holiday-adjusted) deadline.

The limit is the appeal's own (``limit_amount``/``limit_unit``) for completion, and the
configured accept limit for acceptance. Measuring from the deadline keeps the rule right after
everything that moves a deadline: a suspension (the clock stopped; the deadline moved by the
paused time), an extension (yellow again when a quarter of the limit is left before the new
deadline) and a reopen (a fresh deadline).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from fractions import Fraction

from minsheng.appeals.choices import TimeUnit
from minsheng.core import calendar

_DAY = timedelta(days=1)
# A deadline further back than this many days is not a working-day limit anyone set.
_MAX_DAYS_BACK = 3660


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=calendar.SHANGHAI)


def _last_day(deadline: datetime) -> date:
    return (deadline.astimezone(calendar.SHANGHAI) - timedelta(microseconds=1)).date()


def remaining_share(share: float) -> Fraction:
    """1 − share as an exact fraction (0.75 → 1/4), so thresholds land on exact instants."""
    used = Fraction(str(share)).limit_denominator(10_000)
    if not 0 < used <= 1:
        raise ValueError(f"the warning share must be in (0, 1], not {share}")
    return 1 - used


def yellow_at(deadline: datetime, amount: int, unit: str, share: float) -> datetime:
    """The instant the deadline turns yellow (see the module's docstring)."""
    left = remaining_share(share) * amount
    if unit == TimeUnit.HOURS:
        return deadline - timedelta(seconds=float(left * 3600))
    if unit == TimeUnit.CALENDAR_DAYS:
        return deadline - timedelta(seconds=float(left * 86400))
    return _back_over_working_days(deadline, left)


def _back_over_working_days(deadline: datetime, left: Fraction) -> datetime:
    day = _last_day(deadline)
    for _ in range(_MAX_DAYS_BACK):
        if calendar.is_workday(day):
            if left < 1:
                return _start_of(day) + timedelta(seconds=float((1 - left) * 86400))
            if left == 1:
                # Exactly this whole day remains, and so it did since the previous working
                # day ended: that is when the threshold was reached.
                previous = day - _DAY
                while not calendar.is_workday(previous):
                    previous -= _DAY
                return _start_of(previous + _DAY)
            left -= 1
        day -= _DAY
    return deadline
