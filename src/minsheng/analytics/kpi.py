"""KPI definitions (DESIGN.md §5): the one place that says what every figure counts.

``docs/kpi.md`` explains these rules in words; the rollups, the dashboards, the exports, the
report and the public page all read them from here.

Counting rule (a cohort, as the reference report counts): a period's figures are about the
appeals *received* in the period (``created_at``, as a date in Asia/Shanghai), each in its state
*now*. "全年共受理 32,266 件，已办结 32,013 件，正在办理 253 件" is exactly this: of the appeals
received in the year, 32,013 are closed and 253 are not, so received = closed + in progress.
An appeal contributes to the row of the day it was received and to no other, which is what
lets the daily rollups be recomputed one day at a time (``analytics.rollups``).

Rates are exact: ``Decimal`` arithmetic, a percentage rounded half up to two decimals
(32,013 ÷ 32,266 = 99.2159…% → 99.22%; the reference report printed 99.21%, a truncation).
A rate whose denominator is zero is ``None`` (shown "—"), never 0% or 100%.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.choices import Action, Rating, Status
from minsheng.core import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.01")  # 99.22 (%)
DAYS_PLACES = Decimal("0.1")  # 3.4 working days
SATISFIED = frozenset({Rating.SATISFIED, Rating.BASICALLY_SATISFIED})
# Not appeals anyone handles: counted apart, never in "received" (see docs/kpi.md).
EXCLUDED = frozenset({Status.INVALID, Status.MERGED})
# Who handled an appeal, for the per-handler table: whoever accepted (签收) or replied (答复).
HANDLER_ACTIONS = (Action.ACCEPT, Action.REPLY)


def min_sample() -> int:
    """Rankings leave out a unit whose denominator is smaller than this (default 10)."""
    return int(getattr(settings, "MINSHENG_RANKING_MIN_SAMPLE", 10))


def local_day(moment: datetime) -> date:
    """The city's calendar day of an aware datetime: the day a figure is filed under."""
    return moment.astimezone(SHANGHAI).date()


def percent(numerator: int, denominator: int) -> Decimal | None:
    """``numerator ÷ denominator`` as a percentage, half up to 0.01; ``None`` for 0 ÷ 0."""
    if denominator <= 0:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(
        PERCENT_PLACES, rounding=ROUND_HALF_UP
    )


def average(total: int, count: int) -> Decimal | None:
    if count <= 0:
        return None
    return (Decimal(total) / Decimal(count)).quantize(DAYS_PLACES, rounding=ROUND_HALF_UP)


def handling_working_days(received_at: datetime, closed_at: datetime) -> int:
    """办理时长: working days after the day of receipt up to and including the day of closing.

    As deadlines count (the day of receipt never counts): closed the same day → 0, received on
    a Friday and closed the next Monday → 1.
    """
    start, end = local_day(received_at), local_day(closed_at)
    if end <= start:
        return 0
    return calendar.working_days_between(
        date.fromordinal(start.toordinal() + 1), date.fromordinal(end.toordinal() + 1)
    )


@dataclass
class Counters:
    """The additive counters every KPI is a ratio of; rollup rows hold exactly these."""

    received: int = 0  # 受理量: received in the period, not invalid, not merged
    closed: int = 0  # 办结量: of those, closed now
    closed_on_time: int = 0  # of the closed, replied within the completion deadline
    dispatched: int = 0  # of the received, dispatched to a unit (latest dispatch)
    accepted_in_time: int = 0  # of the dispatched, accepted within the accept limit
    rated: int = 0  # of the closed, rated by the citizen (or on a callback)
    satisfied: int = 0  # of the rated, 满意 or 基本满意
    solved: int = 0  # of the rated, the citizen says the problem was solved
    returned: int = 0  # of the dispatched, returned (退单) at least once
    reopened: int = 0  # of the received, reopened (重办) at least once
    ever_closed: int = 0  # of the received, closed at least once (closed now, or reopened)
    handling_days: int = 0  # Σ handling working days of the closed
    invalid: int = 0  # 无效: received in the period, marked invalid (not in "received")
    merged: int = 0  # 并单: received in the period, merged into another (not in "received")

    # Dashboards add thousands of these per page: plain dict arithmetic over the field names,
    # not ``dataclasses.fields()`` on every call (which cost ~100 µs an addition).
    def __add__(self, other: Counters) -> Counters:
        mine, theirs = self.__dict__, other.__dict__
        return Counters(**{name: mine[name] + theirs[name] for name in COUNTER_FIELDS})

    def add(self, other: Counters) -> None:
        mine, theirs = self.__dict__, other.__dict__
        for name in COUNTER_FIELDS:
            mine[name] += theirs[name]

    def as_dict(self) -> dict[str, int]:
        return {name: self.__dict__[name] for name in COUNTER_FIELDS}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Counters:
        return cls(**{name: int(values.get(name) or 0) for name in COUNTER_FIELDS})

    @classmethod
    def total(cls, items: Iterable[Counters]) -> Counters:
        result = cls()
        for item in items:
            result.add(item)
        return result

    # -------------------------------------------------------------- the KPIs

    @property
    def in_progress(self) -> int:
        """正在办理: received in the period and not closed now (received = closed + this)."""
        return self.received - self.closed

    @property
    def completion_rate(self) -> Decimal | None:
        """办结率 = closed ÷ received."""
        return percent(self.closed, self.received)

    @property
    def on_time_rate(self) -> Decimal | None:
        """按时办结率 = closed within the deadline ÷ closed."""
        return percent(self.closed_on_time, self.closed)

    @property
    def response_rate(self) -> Decimal | None:
        """响应率 = accepted within the accept limit ÷ dispatched."""
        return percent(self.accepted_in_time, self.dispatched)

    @property
    def satisfaction_rate(self) -> Decimal | None:
        """满意率 = (满意 + 基本满意) ÷ rated."""
        return percent(self.satisfied, self.rated)

    @property
    def resolution_rate(self) -> Decimal | None:
        """解决率 = solved ÷ rated."""
        return percent(self.solved, self.rated)

    @property
    def return_rate(self) -> Decimal | None:
        """退单率 = returned at least once ÷ dispatched."""
        return percent(self.returned, self.dispatched)

    @property
    def reopen_rate(self) -> Decimal | None:
        """重办率 = reopened at least once ÷ closed at least once."""
        return percent(self.reopened, self.ever_closed)

    @property
    def average_handling_days(self) -> Decimal | None:
        """平均办理时长 (working days) = Σ handling working days ÷ closed, half up to 0.1."""
        return average(self.handling_days, self.closed)


COUNTER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counters))

# The KPIs a table shows, in order: (attribute, label, kind, sample attribute for rankings).
KPI_COLUMNS: tuple[tuple[str, Any, str, str], ...] = (
    ("received", _("Received"), "count", "received"),
    ("closed", _("Closed"), "count", "received"),
    ("in_progress", _("In progress"), "count", "received"),
    ("completion_rate", _("Completion rate"), "percent", "received"),
    ("on_time_rate", _("On-time rate"), "percent", "closed"),
    ("response_rate", _("Response rate"), "percent", "dispatched"),
    ("satisfaction_rate", _("Satisfaction rate"), "percent", "rated"),
    ("resolution_rate", _("Resolution rate"), "percent", "rated"),
    ("return_rate", _("Return rate"), "percent", "dispatched"),
    ("reopen_rate", _("Reopen rate"), "percent", "ever_closed"),
    ("average_handling_days", _("Average handling time (working days)"), "days", "closed"),
)
RANKABLE = {name: sample for name, _label, kind, sample in KPI_COLUMNS if kind != "count"}

# The fields of an appeal that its contribution reads (``contribution`` below).
APPEAL_FIELDS = (
    "created_at",
    "status",
    "dispatched_at",
    "accepted_at",
    "accept_due_at",
    "closed_at",
    "closed_on_time",
    "rating",
    "solved",
    "reopen_count",
    "return_count",
)


def contribution(row: Mapping[str, Any]) -> Counters:
    """What one appeal (its ``APPEAL_FIELDS`` as they are now) adds to its received day.

    The single definition of every counter: the rollups and a full recomputation both use it.
    """
    status = row["status"]
    if status == Status.INVALID:
        return Counters(invalid=1)
    if status == Status.MERGED:
        return Counters(merged=1)
    closed = status == Status.CLOSED
    dispatched = row["dispatched_at"] is not None
    accepted, accept_due = row["accepted_at"], row["accept_due_at"]
    rated = closed and bool(row["rating"])
    return Counters(
        received=1,
        closed=int(closed),
        closed_on_time=int(closed and row["closed_on_time"] is True),
        dispatched=int(dispatched),
        accepted_in_time=int(
            dispatched
            and accepted is not None
            and accept_due is not None
            and accepted <= accept_due
        ),
        rated=int(rated),
        satisfied=int(rated and row["rating"] in SATISFIED),
        solved=int(rated and row["solved"] is True),
        returned=int(dispatched and row["return_count"] > 0),
        reopened=int(row["reopen_count"] > 0),
        ever_closed=int(closed or row["reopen_count"] > 0),
        handling_days=(
            handling_working_days(row["created_at"], row["closed_at"])
            if closed and row["closed_at"] is not None
            else 0
        ),
    )


def format_percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def report_sentence(counters: Counters, *, period: str) -> str:
    """The reference report's sentence with the figures (Chinese, as the report is written)."""
    rate = counters.completion_rate
    return (
        f"{period}共受理{counters.received}件，已办结{counters.closed}件，"
        f"办结率{format_percent(rate)}，正在办理{counters.in_progress}件。"
    )
