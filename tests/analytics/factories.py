"""A hand-built month of appeals whose figures are computed by hand in the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.appeals.factories import submitted
from tests.conftest import World

from minsheng.analytics.models import DailyRollup
from minsheng.analytics.rollups import DIMENSIONS, refresh_rollups, rows_for_days
from minsheng.appeals import services
from minsheng.appeals.models import Appeal
from minsheng.core import clock

SH = ZoneInfo("Asia/Shanghai")
# Monday 2026-03-02, 09:00 in the city; 2026-03 has no public holiday.
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=SH)


def at(days: float, hours: float = 0) -> datetime:
    return MONDAY + timedelta(days=days, hours=hours)


@dataclass
class March:
    """Eight appeals received in March 2026 (figures in ``tests/analytics/test_kpi.py``)."""

    appeals: dict[str, Appeal]


def _do(moment: datetime, call, **kwargs):  # noqa: ANN001, ANN202 - tiny test helper
    with clock.replaying(moment):
        return call(**kwargs)


def build_march(world: World) -> March:
    """The hand-built set, through the real services:

    a  Mon 03-02 → town, accepted in 1 h, replied Wed, closed Wed: on time, 2 working days;
       rated satisfied, solved.
    b  Mon 03-02 → town, accepted after 3 h (late: the accept limit is 2 h), replied and closed
       Tue 03-10 (6 working days after Monday; the 5-day limit ended Mon 03-09): late;
       rated basically satisfied, not solved.
    c  Tue 03-03 → town, returned once, return rejected, accepted in time, still in progress.
    d  Tue 03-03 → town (noise, other place), closed Thu: on time, 2 working days; rated
       unsatisfied → reopened (reopen limit 1), in progress again.
    e  Wed 03-04, consultation closed at intake (direct close): on time, 0 days; not dispatched.
    f  Wed 03-04, invalid (prank call): not received.
    g  Wed 03-04, merged into c: not received.
    h  Thu 03-05, received, waiting for dispatch.
    """
    town = world.town
    disp, handler = world["dispatcher"], world["town_handler"]
    A: dict[str, Appeal] = {}
    A["a"] = _do(at(0), submitted, world=world)
    A["b"] = _do(at(0, 1), submitted, world=world)
    _do(at(0, 0.5), services.dispatch_appeal, appeal=A["a"], actor=disp, unit=town)
    _do(at(0, 1.5), services.accept_appeal, appeal=A["a"], actor=handler)
    _do(at(2), services.reply_appeal, appeal=A["a"], actor=handler, reply="已修复")
    _do(at(2, 1), services.approve_reply, appeal=A["a"], actor=disp)
    _do(at(3), services.rate_appeal, appeal=A["a"], actor=None, rating="satisfied", solved=True)

    _do(at(0, 1.5), services.dispatch_appeal, appeal=A["b"], actor=disp, unit=town)
    _do(at(0, 4.5), services.accept_appeal, appeal=A["b"], actor=handler)
    _do(at(8), services.reply_appeal, appeal=A["b"], actor=handler, reply="已处理")
    _do(at(8, 1), services.approve_reply, appeal=A["b"], actor=disp)
    _do(
        at(9),
        services.rate_appeal,
        appeal=A["b"],
        actor=None,
        rating="basically_satisfied",
        solved=False,
    )

    A["c"] = _do(at(1), submitted, world=world)
    _do(at(1, 0.5), services.dispatch_appeal, appeal=A["c"], actor=disp, unit=town)
    _do(at(1, 1), services.return_appeal, appeal=A["c"], actor=handler, reason="不属本单位")
    _do(at(1, 2), services.reject_return, appeal=A["c"], actor=disp, reason="属于本单位")
    _do(at(1, 3), services.accept_appeal, appeal=A["c"], actor=handler)

    A["d"] = _do(
        at(1, 2), submitted, world=world, category=world.noise, territory=world.other_village
    )
    _do(at(1, 3), services.dispatch_appeal, appeal=A["d"], actor=disp, unit=town)
    _do(at(1, 4), services.accept_appeal, appeal=A["d"], actor=handler)
    _do(at(3), services.reply_appeal, appeal=A["d"], actor=handler, reply="已处理")
    _do(at(3, 1), services.approve_reply, appeal=A["d"], actor=disp)
    _do(at(4), services.rate_appeal, appeal=A["d"], actor=None, rating="unsatisfied", solved=False)

    A["e"] = _do(at(2), submitted, world=world, appeal_type="consultation")
    _do(at(2, 0.2), services.direct_close_appeal, appeal=A["e"], actor=world["agent"], reply="已答")
    A["f"] = _do(at(2, 1), submitted, world=world)
    _do(at(2, 2), services.invalidate_appeal, appeal=A["f"], actor=disp, reason="骚扰电话")
    A["g"] = _do(at(2, 3), submitted, world=world)
    _do(at(2, 4), services.merge_appeal, appeal=A["g"], actor=disp, into=A["c"])
    A["h"] = _do(at(3, 2), submitted, world=world, channel="walk_in")
    return March({k: Appeal.objects.get(pk=v.pk) for k, v in A.items()})


def rollup_rows() -> dict[tuple, dict[str, int]]:
    """The rollup table as {(day, dimensions): counters} (rows with nothing in them dropped)."""
    result = {}
    for row in DailyRollup.objects.values():
        counters = {k: v for k, v in row.items() if k not in ("id", "day", *DIMENSIONS)}
        result[(row["day"], tuple(row[d] for d in DIMENSIONS))] = counters
    return result


def recomputed_rows() -> dict[tuple, dict[str, int]]:
    """Every day recomputed from the appeals now, in the same shape as ``rollup_rows``."""
    from minsheng.analytics import kpi

    days = {kpi.local_day(c) for c in Appeal.objects.values_list("created_at", flat=True)}
    return {key: c.as_dict() for key, c in rows_for_days(days).items()}


def refreshed() -> None:
    refresh_rollups()
