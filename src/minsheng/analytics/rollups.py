"""Daily rollups, maintained incrementally by the worker (never inside an intake transaction).

How a refresh knows what to redo
--------------------------------
Every change of an appeal appends an ``AppealEvent`` in the same transaction (DESIGN.md
invariant 1), and an appeal only ever counts in the row of the day it was received
(``kpi``: a cohort). So the days to redo are the received days of the appeals that have new
events. A refresh reads the events with ids above its watermark, redoes those days from the
appeals (delete the day's rows, write them again: idempotent), and moves the watermark to the
largest id it saw.

Why no late commit is missed (the overlap window)
-------------------------------------------------
Ids are handed out when a row is inserted, not when its transaction commits: a slow
transaction may commit event 99 after event 100 was committed and read. So every id at or below
the watermark that was *missing* when the watermark was taken is kept in ``RollupState.gaps``
and looked for again on every refresh; when it appears, its appeal's day is redone. A gap is
dropped once it has been missing for ``MINSHENG_ROLLUP_OVERLAP_SECONDS`` (default one hour):
by then its transaction has rolled back (a refused action) or the id was skipped by the
sequence, because no transaction of this application stays open that long. SQLite has one
writer at a time, so there gaps only come from rollbacks.

A refresh holds the lock on the ``RollupState`` row, so two workers never interleave; reading
appeals takes no locks, so intake and transitions are never held up. A change of the holiday
calendar changes handling days already rolled up: run ``refresh_rollups --full`` after one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal, AppealEvent

from . import kpi
from .models import NARROW_ROLLUPS, DailyHandlerRollup, DailyRollup, RollupState

DIMENSIONS = ("lead_unit_id", "territory_id", "category_id", "channel", "appeal_type")
_ONE_DAY = timedelta(days=1)
_ID_CHUNK = 2000
# A full refresh notes missing ids among the last this many only and takes an older hole for a
# rollback; it redoes every day anyway, so run it when the city is quiet (docs/kpi.md).
FULL_GAP_WINDOW = 20_000


def overlap_seconds() -> int:
    return int(getattr(settings, "MINSHENG_ROLLUP_OVERLAP_SECONDS", 3600))


def day_start(day: date) -> datetime:
    """00:00 in the city on ``day``, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=kpi.SHANGHAI)


@dataclass
class RefreshResult:
    days: int  # days recomputed
    events: int  # events read
    high_event_id: int | None
    gaps: int  # ids still looked for
    full: bool


def rows_for_days(days: Iterable[date]) -> dict[tuple[date, tuple], kpi.Counters]:
    """The rollup rows of ``days`` computed from the appeals: {(day, dimensions): counters}."""
    result: dict[tuple[date, tuple], kpi.Counters] = defaultdict(kpi.Counters)
    for first, last in _runs(sorted(set(days))):
        appeals = Appeal.objects.filter(
            created_at__gte=day_start(first), created_at__lt=day_start(last + _ONE_DAY)
        ).values(*DIMENSIONS, *kpi.APPEAL_FIELDS)
        for row in appeals.iterator(chunk_size=_ID_CHUNK):
            key = (kpi.local_day(row["created_at"]), tuple(row[d] for d in DIMENSIONS))
            result[key].add(kpi.contribution(row))
    return result


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days joined into (first, last) runs: one appeals query per run."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + _ONE_DAY == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def recompute_days(days: Iterable[date], *, every_day: bool = False) -> int:
    """Replace the rollup rows of ``days`` by a fresh computation. Returns the number of days.
    ``every_day``: part of a full refresh (see ``_write_handlers``)."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    rows = rows_for_days(wanted)
    with transaction.atomic():
        for first, last in _runs(wanted):
            DailyRollup.objects.filter(day__gte=first, day__lte=last).delete()
            DailyHandlerRollup.objects.filter(day__gte=first, day__lte=last).delete()
            for model, _dims in NARROW_ROLLUPS:
                model.objects.filter(day__gte=first, day__lte=last).delete()
        DailyRollup.objects.bulk_create(
            [
                DailyRollup(day=day, **dict(zip(DIMENSIONS, dims, strict=True)), **c.as_dict())
                for (day, dims), c in rows.items()
            ],
            batch_size=1000,
        )
        for first, last in _runs(wanted):
            _write_narrow(first, last)
            _write_handlers(first, last, every_day=every_day)
    return len(wanted)


def _write_narrow(first: date, last: date) -> None:
    """The narrow tables' rows of the days, summed from the wide rows just written."""
    sums = {name: Sum(name) for name in kpi.COUNTER_FIELDS}
    wide = DailyRollup.objects.filter(day__gte=first, day__lte=last)
    for model, dims in NARROW_ROLLUPS:
        grouped = wide.values("day", *dims).annotate(**sums).order_by()
        model.objects.bulk_create(
            [
                model(
                    **{k: row[k] for k in ("day", *dims)},
                    **{name: row[name] or 0 for name in kpi.COUNTER_FIELDS},
                )
                for row in grouped
            ],
            batch_size=1000,
        )


def _write_handlers(first: date, last: date, *, every_day: bool = False) -> None:
    """The handler rows of the days, from the events of the appeals received on them.

    Events grouped by (day, person, lead unit, place), distinct counts, as a person who both
    accepted and replied handled the appeal once. A full refresh (``every_day``) aggregates a
    run of days in one query: it reads every event anyway. Otherwise the days' appeals are
    named by id, ``HANDLER_CHUNK`` at a time, and their events come from ``event_appeal_at``
    (an appeal lies in one chunk, so the chunks' counts add up): one aggregate over a few days'
    received range made PostgreSQL scan every event of the table (63M at 10M appeals: 7.8 s for
    one day) at each refresh while appeals came in.
    """
    begin, end = day_start(first), day_start(last + _ONE_DAY)
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(HANDLER_COUNTERS))

    def add(rows: Iterable[dict]) -> None:
        for row in rows:
            key = (row["day"], row["actor_id"], row["appeal__lead_unit_id"])
            counts = totals[(*key, row["appeal__territory_id"])]
            for i, name in enumerate(HANDLER_COUNTERS):
                counts[i] += row[name]

    if every_day:
        add(_handler_counts(Q(appeal__created_at__gte=begin, appeal__created_at__lt=end)))
    else:
        appeals = (
            Appeal.objects.filter(created_at__gte=begin, created_at__lt=end)
            .exclude(status__in=kpi.EXCLUDED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        after = 0
        while chunk := list(appeals.filter(pk__gt=after)[:HANDLER_CHUNK]):
            after = chunk[-1]
            # both sides named: PostgreSQL does not carry an id list across the join
            add(_handler_counts(Q(appeal_id__in=chunk, appeal__pk__in=chunk)))
    DailyHandlerRollup.objects.bulk_create(
        (
            DailyHandlerRollup(
                day=day,
                actor_id=actor,
                lead_unit_id=unit,
                territory_id=place,
                **dict(zip(HANDLER_COUNTERS, counts, strict=True)),
            )
            for (day, actor, unit, place), counts in totals.items()
        ),
        batch_size=1000,
    )


def _handler_counts(events_of: Q) -> Iterable[dict]:
    closed = Q(appeal__status=Status.CLOSED)
    rated = closed & ~Q(appeal__rating="")
    return (
        AppealEvent.objects.filter(events_of, action__in=kpi.HANDLER_ACTIONS, actor__isnull=False)
        .exclude(appeal__status__in=kpi.EXCLUDED)
        .annotate(day=TruncDate("appeal__created_at", tzinfo=kpi.SHANGHAI))
        .values("day", "actor_id", "appeal__lead_unit_id", "appeal__territory_id")
        .annotate(
            handled=Count("appeal_id", distinct=True),
            closed=Count("appeal_id", distinct=True, filter=closed),
            closed_on_time=Count(
                "appeal_id", distinct=True, filter=closed & Q(appeal__closed_on_time=True)
            ),
            rated=Count("appeal_id", distinct=True, filter=rated),
            satisfied=Count(
                "appeal_id", distinct=True, filter=rated & Q(appeal__rating__in=kpi.SATISFIED)
            ),
            solved=Count("appeal_id", distinct=True, filter=rated & Q(appeal__solved=True)),
        )
        .order_by()
        .iterator(chunk_size=_ID_CHUNK)
    )


# Appeals per handler aggregate (their events read by id from ``event_appeal_at``).
HANDLER_CHUNK = 500
HANDLER_COUNTERS = ("handled", "closed", "closed_on_time", "rated", "satisfied", "solved")


def _received_days(appeal_ids: Iterable[int]) -> set[date]:
    ids = list(appeal_ids)
    days: set[date] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        for created in Appeal.objects.filter(pk__in=chunk).values_list("created_at", flat=True):
            days.add(kpi.local_day(created))
    return days


def _all_days() -> list[date]:
    bounds = Appeal.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    if bounds["first"] is None:
        return []
    day, last = kpi.local_day(bounds["first"]), kpi.local_day(bounds["last"])
    days = []
    while day <= last:
        days.append(day)
        day += _ONE_DAY
    return days


def refresh_rollups(
    *, full: bool = False, progress: Callable[[int, int], None] | None = None
) -> RefreshResult:
    """Bring the rollups up to date with every committed event (``full``: redo every day)."""
    with transaction.atomic():
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
        now = timezone.now()  # wall time, not clock.now(): gaps age in real time
        high = AppealEvent.objects.aggregate(high=Max("pk"))["high"] or 0
        old_gaps = {int(k): v for k, v in (state.gaps or {}).items()}
        full = full or state.high_event_id is None
        low = 0 if full else state.high_event_id or 0
        seen: set[int] = set()
        appeal_ids: set[int] = set()
        if full:
            # Every day is redone: only the recent ids matter, to note the ones still missing.
            first = AppealEvent.objects.aggregate(first=Min("pk"))["first"] or 1
            low = max(first - 1, high - FULL_GAP_WINDOW)
            events = AppealEvent.objects.filter(pk__gt=low, pk__lte=high)
        else:
            events = AppealEvent.objects.filter(Q(pk__gt=low, pk__lte=high) | Q(pk__in=old_gaps))
        for pk, appeal_id in events.values_list("pk", "appeal_id").iterator(chunk_size=_ID_CHUNK):
            seen.add(pk)
            appeal_ids.add(appeal_id)
        gaps = _gaps(low, high, seen, old_gaps, now)
        days = _all_days() if full else sorted(_received_days(appeal_ids))
        if full:
            DailyRollup.objects.all().delete()
            DailyHandlerRollup.objects.all().delete()
            for model, _dims in NARROW_ROLLUPS:
                model.objects.all().delete()
        done = 0
        for start in range(0, len(days), 31):  # a month of days per appeals query
            done += recompute_days(days[start : start + 31], every_day=full)
            if progress is not None:
                progress(done, len(days))
        state.high_event_id = high
        state.gaps = {str(k): v for k, v in sorted(gaps.items())}
        state.refreshed_at = now
        if full:
            state.full_refresh_at = now
        state.save()
    return RefreshResult(
        days=len(days), events=len(seen), high_event_id=high, gaps=len(gaps), full=full
    )


def _gaps(
    low: int, high: int, seen: set[int], old: dict[int, str], now: datetime
) -> dict[int, str]:
    """Ids not seen yet that may still commit, each with when it was first missed."""
    limit = now - timedelta(seconds=overlap_seconds())
    kept = {
        pk: first
        for pk, first in old.items()
        if pk not in seen and datetime.fromisoformat(first) > limit
    }
    stamp = now.isoformat()
    for pk in range(low + 1, high + 1):
        if pk not in seen and pk not in kept:
            kept[pk] = stamp
    return kept
