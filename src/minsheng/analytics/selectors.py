"""Scoped reads of statistics: totals, breakdowns, trends, unit and handler performance (考核).

Flows come from the daily rollups (``DailyRollup``), never from a scan of the appeals; the two
snapshots (open now, overdue now) come from the appeals through ``appeals_for(user)`` and their
indexes. Scope: a unit role sees its own subtree (by lead unit); a center role at a township
also sees appeals placed in its territory; a post at the city root (supervisor, center admin,
dispatcher, auditor, or a unit leader at the city) sees everything. A unit outside the scope is
"not found".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Func, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone

from minsheng.appeals import selectors as appeal_selectors
from minsheng.appeals.choices import OPEN_STATUSES, Status
from minsheng.appeals.models import OPEN, Appeal, Category
from minsheng.core.errors import DomainError
from minsheng.org.choices import Role
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import posts_of, unit_ids_under

from . import kpi
from .errors import AnalyticsError
from .models import NARROW_ROLLUPS, DailyHandlerRollup, DailyRollup
from .rollups import HANDLER_COUNTERS

R = Role
CENTER_STATS_ROLES = frozenset({R.SUPERVISOR, R.CENTER_ADMIN, R.DISPATCHER, R.AUDITOR})
STATS_ROLES = CENTER_STATS_ROLES | {R.UNIT_LEADER}
MAX_PERIOD_DAYS = 5 * 366
EARLIEST = date(2000, 1, 1)
SUMS = {name: Sum(name) for name in kpi.COUNTER_FIELDS}


# ---------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """What a user's statistics cover: everything, or some subtrees."""

    everything: bool
    unit_paths: tuple[str, ...] = ()  # by lead unit
    territory_paths: tuple[str, ...] = ()  # by place (center roles below the city)

    @property
    def home_paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.unit_paths + self.territory_paths))

    def covers(self, unit: OrgUnit) -> bool:
        return self.everything or any(unit.path.startswith(p) for p in self.home_paths)


def scope_of(user: User) -> Scope | None:
    """``None``: the user has no role that reads statistics."""
    unit_paths: list[str] = []
    territory_paths: list[str] = []
    for post in posts_of(user):
        if post.role not in STATS_ROLES:
            continue
        if post.unit_path.count("/") == 2:  # "/<id>/": the city root
            return Scope(everything=True)
        unit_paths.append(post.unit_path)
        if post.role in CENTER_STATS_ROLES:
            territory_paths.append(post.unit_path)
    if not unit_paths:
        return None
    return Scope(
        everything=False, unit_paths=tuple(unit_paths), territory_paths=tuple(territory_paths)
    )


def require_scope(user: User) -> Scope:
    scope = scope_of(user)
    if scope is None:
        raise DomainError(AnalyticsError.NO_ACCESS)
    return scope


def units_in_scope(scope: Scope) -> list[OrgUnit]:
    units = OrgUnit.objects.filter(is_active=True).order_by("path")
    if scope.everything:
        return list(units)
    return [u for u in units if scope.covers(u)]


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class StatsFilter:
    """A period (dates received, both inclusive) and optional dimensions."""

    date_from: date
    date_to: date
    unit: OrgUnit | None = None  # lead unit, with its subtree
    place: OrgUnit | None = None  # territory, with its subtree
    category: Category | None = None  # with its subcategories
    channel: str = ""
    appeal_type: str = ""

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def parse_date(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise DomainError(AnalyticsError.BAD_PERIOD, {"value": raw[:20]}) from exc


def check_period(date_from: date, date_to: date) -> None:
    if date_from > date_to or date_from < EARLIEST or (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise DomainError(
            AnalyticsError.BAD_PERIOD, {"from": date_from.isoformat(), "to": date_to.isoformat()}
        )


def _int_param(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"value": raw[:20]}) from exc
    if value <= 0:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"value": raw[:20]})
    return value


def unit_in_scope(scope: Scope, raw: str | None) -> OrgUnit | None:
    """The unit a parameter names, or ``None`` if none is named; unknown or unseen → 404."""
    pk = _int_param(raw)
    if pk is None:
        return None
    unit = OrgUnit.objects.filter(pk=pk).first()
    if unit is None or not scope.covers(unit):
        raise DomainError(AnalyticsError.UNKNOWN_UNIT, {"unit": pk})
    return unit


def today() -> date:
    return kpi.local_day(timezone.now())


def parse_filter(user: User, params: Mapping[str, Any]) -> tuple[Scope, StatsFilter]:
    """The statistics filter of a request's GET parameters; 4xx ``DomainError`` on bad input."""
    from minsheng.appeals.choices import AppealType, Channel

    scope = require_scope(user)
    now = today()
    date_from = parse_date(params.get("from"), now.replace(month=1, day=1))
    date_to = parse_date(params.get("to"), now)
    check_period(date_from, date_to)
    category = None
    category_id = _int_param(params.get("category"))
    if category_id is not None:
        category = Category.objects.filter(pk=category_id).first()
        if category is None:
            raise DomainError(AnalyticsError.UNKNOWN_CATEGORY, {"category": category_id})
    channel = params.get("channel") or ""
    appeal_type = params.get("type") or ""
    if channel and channel not in Channel.values:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"channel": channel[:20]})
    if appeal_type and appeal_type not in AppealType.values:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"type": appeal_type[:20]})
    return scope, StatsFilter(
        date_from=date_from,
        date_to=date_to,
        unit=unit_in_scope(scope, params.get("unit")),
        place=unit_in_scope(scope, params.get("place")),
        category=category,
        channel=channel,
        appeal_type=appeal_type,
    )


def _category_ids(category: Category) -> list[int]:
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(
            Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        )
        ids += frontier
    return ids


def _filter_columns(f: StatsFilter) -> set[str]:
    columns = {
        "lead_unit_id": f.unit is not None,
        "territory_id": f.place is not None,
        "category_id": f.category is not None,
        "channel": bool(f.channel),
        "appeal_type": bool(f.appeal_type),
    }
    return {name for name, used in columns.items() if used}


def rollups(scope: Scope, f: StatsFilter, needs: Iterable[str] = ()) -> QuerySet[Any]:
    """The rollup rows of the scope and filter (the base of every flow figure).

    ``needs``: the rollup columns the caller groups by. When the scope is everything and no
    filter or grouping needs another dimension, the rows come from the smallest narrow table
    that keeps them (a few rows a day instead of about one per appeal); otherwise from the wide
    ``DailyRollup``. Both add up to the same counters (the refresh writes both).
    """
    wanted = _filter_columns(f) | (set(needs) - {"day"})
    if not scope.everything:  # the scope itself filters by lead unit, and maybe by place
        wanted |= {"lead_unit_id"} | ({"territory_id"} if scope.territory_paths else set())
    for model, dims in NARROW_ROLLUPS:
        if wanted <= set(dims):
            return _filtered(model.objects.all(), scope, f)
    return _filtered(DailyRollup.objects.all(), scope, f)


def _days_in_scope(qs: QuerySet[Any], scope: Scope, f: StatsFilter) -> QuerySet[Any]:
    """Rollup rows of the period, the scope, and the unit and place filters."""
    qs = qs.filter(day__gte=f.date_from, day__lte=f.date_to)
    if not scope.everything:
        seen = Q(lead_unit_id__in=unit_ids_under(scope.unit_paths))
        if scope.territory_paths:
            seen |= Q(territory_id__in=unit_ids_under(scope.territory_paths))
        qs = qs.filter(seen)
    if f.unit is not None:
        qs = qs.filter(lead_unit_id__in=unit_ids_under([f.unit.path]))
    if f.place is not None:
        qs = qs.filter(territory_id__in=unit_ids_under([f.place.path]))
    return qs


def _filtered(qs: QuerySet[Any], scope: Scope, f: StatsFilter) -> QuerySet[Any]:
    qs = _days_in_scope(qs, scope, f)
    if f.category is not None:
        qs = qs.filter(category_id__in=_category_ids(f.category))
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.appeal_type:
        qs = qs.filter(appeal_type=f.appeal_type)
    return qs


# ---------------------------------------------------------------- flows


def totals(scope: Scope, f: StatsFilter) -> kpi.Counters:
    return kpi.Counters.from_mapping(rollups(scope, f).aggregate(**SUMS))


def by_dimension(scope: Scope, f: StatsFilter, dimension: str) -> dict[Any, kpi.Counters]:
    """Counters per value of one rollup column (``channel``, ``appeal_type``, ``day`` …)."""
    rows = (
        rollups(scope, f, needs=[dimension]).values(dimension).annotate(**SUMS).order_by(dimension)
    )
    return {row[dimension]: kpi.Counters.from_mapping(row) for row in rows}


def by_dimensions(
    scope: Scope, f: StatsFilter, dimensions: Iterable[str]
) -> dict[str, dict[Any, kpi.Counters]]:
    """``by_dimension`` of several columns from one query grouped by all of them (a page that
    shows both the channels and the types reads the channel × type rows once)."""
    columns = list(dimensions)
    rows = rollups(scope, f, needs=columns).values(*columns).annotate(**SUMS).order_by()
    result: dict[str, dict[Any, kpi.Counters]] = {column: {} for column in columns}
    for row in rows:
        counters = kpi.Counters.from_mapping(row)
        for column in columns:
            result[column].setdefault(row[column], kpi.Counters()).add(counters)
    return result


@dataclass
class Bucket:
    start: date
    end: date  # inclusive
    counters: kpi.Counters


def trend(scope: Scope, f: StatsFilter, grain: str) -> list[Bucket]:
    """Counters per day, ISO week or month of the period (empty buckets included)."""
    per_day = by_dimension(scope, f, "day")
    buckets: list[Bucket] = []
    day = f.date_from
    while day <= f.date_to:
        if grain == "month":
            start = day.replace(day=1)
            following = (start + timedelta(days=32)).replace(day=1)
            end = following - timedelta(days=1)
        elif grain == "week":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=6)
        else:
            start = end = day
        start, end = max(start, f.date_from), min(end, f.date_to)
        counters = kpi.Counters.total(
            per_day.get(start + timedelta(days=i), kpi.Counters())
            for i in range((end - start).days + 1)
        )
        buckets.append(Bucket(start, end, counters))
        day = end + timedelta(days=1)
    return buckets


def _children(parent: OrgUnit | None, scope: Scope) -> list[OrgUnit]:
    """The units one level below ``parent`` that the scope covers (top units for ``None``)."""
    if parent is None:
        if scope.everything:
            root = OrgUnit.objects.filter(parent__isnull=True).order_by("path").first()
            return _children(root, scope) if root else []
        tops = OrgUnit.objects.filter(path__in=scope.home_paths).order_by("path")
        return [
            u
            for u in tops
            if not any(u.path.startswith(p) and u.path != p for p in scope.home_paths)
        ]
    units = OrgUnit.objects.filter(parent=parent).order_by("kind", "path")
    return [u for u in units if scope.covers(u)]


@dataclass
class UnitRow:
    unit: OrgUnit | None  # None: not dispatched to any unit (the center)
    counters: kpi.Counters
    own_only: bool = False  # the parent's own appeals (not its subtree's)
    received_by_month: list[int] = field(default_factory=list)  # the sparkline


def _roll_up_to(
    per_unit: Mapping[int | None, kpi.Counters], units: list[OrgUnit]
) -> dict[int, kpi.Counters]:
    """Each unit's counters including its subtree, from counters per unit id."""
    paths = dict(
        OrgUnit.objects.filter(pk__in=[k for k in per_unit if k]).values_list("pk", "path")
    )
    result = {u.pk: kpi.Counters() for u in units}
    for unit_id, counters in per_unit.items():
        path = paths.get(unit_id)
        if not path:
            continue
        for unit in units:
            if path.startswith(unit.path):
                result[unit.pk].add(counters)
    return result


def _axis_column(axis: str) -> str:
    return "lead_unit_id" if axis == "lead_unit" else "territory_id"


def unit_table(scope: Scope, f: StatsFilter, *, axis: str = "lead_unit") -> list[UnitRow]:
    """Per unit one level below the filter's unit (or place), each including its subtree.

    ``axis``: ``lead_unit`` (performance: who handles) or ``territory`` (where it happened).
    """
    parent = f.unit if axis == "lead_unit" else f.place
    children = _children(parent, scope)
    if axis == "territory":
        children = [u for u in children if u.is_territorial]
    per_unit = by_dimension(scope, f, _axis_column(axis))
    rolled = _roll_up_to(per_unit, children)
    rows = [UnitRow(unit=u, counters=rolled[u.pk]) for u in children]
    if parent is not None and per_unit.get(parent.pk):
        rows.insert(0, UnitRow(unit=parent, counters=per_unit[parent.pk], own_only=True))
    if parent is None and scope.everything and per_unit.get(None):
        rows.append(UnitRow(unit=None, counters=per_unit[None]))
    return rows


def _month_of(column: str) -> Func:
    """The month of a date column. SQLite keeps dates as ISO text, so its first seven characters
    are the month, computed in SQL; Django's TruncMonth would call a Python function per row
    there (a city year's rows: ~150 ms at a million appeals)."""
    if connection.vendor == "sqlite":
        return Substr(column, 1, 7)
    return TruncMonth(column)


def _first_of_month(value: date | datetime | str) -> date:
    if isinstance(value, str):  # "YYYY-MM" (SQLite)
        return date(int(value[:4]), int(value[5:7]), 1)
    if isinstance(value, datetime):
        return value.date()
    return value


def unit_table_with_months(
    scope: Scope, f: StatsFilter, *, axis: str = "lead_unit"
) -> tuple[list[UnitRow], list[date]]:
    """``unit_table`` with each row's ``received_by_month`` filled (its sparkline).

    The months read one counter, not the fourteen: a city year is ~1,300 (unit, month) rows,
    and turning each into full counters cost more than the query (bench/dashboard.py)."""
    column = _axis_column(axis)
    rows = unit_table(scope, f, axis=axis)
    months = sorted({b.start.replace(day=1) for b in trend_months(f)})
    position = {month: i for i, month in enumerate(months)}
    for unit_row in rows:
        unit_row.received_by_month = [0] * len(months)
    data = (
        rollups(scope, f, needs=[column])
        .annotate(month=_month_of("day"))
        .values_list(column, "month")
        .annotate(n=Sum("received"))
        .order_by()
    )
    paths = dict(OrgUnit.objects.values_list("pk", "path"))

    def rows_counting(unit_id: int | None) -> list[UnitRow]:
        """The rows whose figures include the appeals of ``unit_id``."""
        if unit_id is None:
            return [r for r in rows if r.unit is None]
        path = paths.get(unit_id, "")
        return [
            r
            for r in rows
            if r.unit is not None
            and (unit_id == r.unit.pk if r.own_only else path.startswith(r.unit.path))
        ]

    # One pass over the (unit, month) sums; a pass per table row and month cost ~60 ms at the
    # city level for a year with 100k appeals (bench/dashboard.py).
    targets: dict[int | None, list[UnitRow]] = {}
    for unit_id, month, received in data:
        index = position.get(_first_of_month(month))
        if index is None or not received:
            continue
        if unit_id not in targets:
            targets[unit_id] = rows_counting(unit_id)
        for unit_row in targets[unit_id]:
            unit_row.received_by_month[index] += received
    return rows, months


def trend_months(f: StatsFilter) -> list[Bucket]:
    buckets = []
    day = f.date_from.replace(day=1)
    while day <= f.date_to:
        following = (day + timedelta(days=32)).replace(day=1)
        buckets.append(Bucket(day, following - timedelta(days=1), kpi.Counters()))
        day = following
    return buckets


@dataclass
class CategoryRow:
    category: Category | None
    counters: kpi.Counters
    has_children: bool = False


def category_table(scope: Scope, f: StatsFilter) -> list[CategoryRow]:
    """Per category one level below the filter's category (top level without one)."""
    per_category = by_dimension(scope, replace(f), "category_id")
    categories = list(Category.objects.all())
    parent_of = {c.pk: c.parent_id for c in categories}
    parent_id = f.category.pk if f.category else None
    children = [c for c in categories if c.parent_id == parent_id]
    with_children = {c.parent_id for c in categories if c.parent_id}
    totals_by: dict[int, kpi.Counters] = {c.pk: kpi.Counters() for c in children}
    own = kpi.Counters()
    for category_id, counters in per_category.items():
        node = category_id
        if node is None:
            continue
        if node == parent_id:
            own.add(counters)
            continue
        while node is not None and parent_of.get(node) != parent_id:
            node = parent_of.get(node)
        if node is not None and node in totals_by:
            totals_by[node].add(counters)
    rows = [
        CategoryRow(c, totals_by[c.pk], c.pk in with_children)
        for c in sorted(children, key=lambda c: c.code)
    ]
    if f.category is not None and own.received + own.invalid + own.merged:
        rows.insert(0, CategoryRow(f.category, own))
    if f.category is None and per_category.get(None):
        rows.append(CategoryRow(None, per_category[None]))
    return rows


# ---------------------------------------------------------------- snapshots


def _appeals(user: User, f: StatsFilter) -> QuerySet[Appeal]:
    qs = appeal_selectors.appeals_for(user)
    if f.unit is not None:
        qs = qs.filter(lead_unit_id__in=unit_ids_under([f.unit.path]))
    if f.place is not None:
        qs = qs.filter(territory_id__in=unit_ids_under([f.place.path]))
    return qs


def open_by_status(user: User, f: StatsFilter) -> dict[str, int]:
    """Open appeals now, per status (a snapshot, whatever their received date)."""
    rows = _appeals(user, f).filter(OPEN).values("status").annotate(n=Count("pk")).order_by()
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in Status.values if status in OPEN_STATUSES}


def overdue_now(user: User, f: StatsFilter, *, limit: int = 20) -> tuple[int, list[Appeal]]:
    """Overdue now (running, past the completion deadline): the count and the most overdue.

    Both read the (status, deadline) index: the count one range per running status, the list
    the first ``limit`` of each status's range, merged here (one ORDER BY deadline across the
    statuses would read and sort every overdue appeal)."""
    qs = _appeals(user, f).filter(appeal_selectors.attention_filters(timezone.now())["overdue"])
    count = qs.count()
    if not limit or not count:
        return count, []
    most: list[Appeal] = []
    for status in appeal_selectors.RUNNING:
        most += (
            qs.filter(status=status)
            .select_related("lead_unit", "category", "territory")
            .order_by("due_at", "pk")[:limit]
        )
    most.sort(key=lambda a: (a.due_at, a.pk))
    return count, most[:limit]


# ---------------------------------------------------------------- performance (考核)


@dataclass
class Ranked:
    unit: OrgUnit
    counters: kpi.Counters
    value: Decimal | None
    sample: int


@dataclass
class Ranking:
    metric: str
    ranked: list[Ranked]  # best first
    hidden: list[Ranked]  # below the minimum sample size, not ranked
    min_sample: int


def ranking(scope: Scope, f: StatsFilter, metric: str) -> Ranking:
    """Units one level below the filter's unit ranked by a rate; small samples are left out."""
    if metric not in kpi.RANKABLE:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"metric": metric[:30]})
    sample_name = kpi.RANKABLE[metric]
    minimum = kpi.min_sample()
    ranked, hidden = [], []
    for row in unit_table(scope, f):
        if row.unit is None or row.own_only:
            continue
        item = Ranked(
            unit=row.unit,
            counters=row.counters,
            value=getattr(row.counters, metric),
            sample=getattr(row.counters, sample_name),
        )
        (ranked if item.sample >= minimum and item.value is not None else hidden).append(item)
    # Lower is better for these; ties: the larger sample first, then the name.
    lower_better = metric in {"return_rate", "reopen_rate", "average_handling_days"}
    ranked.sort(
        key=lambda r: (
            r.value if lower_better else -r.value,  # type: ignore[operator]
            -r.sample,
            r.unit.path,
        )
    )
    return Ranking(metric=metric, ranked=ranked, hidden=hidden, min_sample=minimum)


def month_period(year: int, month: int) -> tuple[date, date]:
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise DomainError(AnalyticsError.BAD_PERIOD, {"year": year, "month": month})
    first = date(year, month, 1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def red_black_lists(
    scope: Scope, f: StatsFilter, *, metric: str = "satisfaction_rate", size: int = 5
) -> tuple[list[Ranked], list[Ranked], Ranking]:
    """红榜 / 黑榜: the best and the worst ``size`` ranked units (no unit on both lists)."""
    result = ranking(scope, f, metric)
    red = result.ranked[:size]
    rest = result.ranked[len(red) :]
    black = list(reversed(rest[-size:])) if rest else []
    return red, black, result


@dataclass
class HandlerRow:
    user_id: int
    name: str
    handled: int
    closed: int
    closed_on_time: int
    rated: int
    satisfied: int
    solved: int

    @property
    def on_time_rate(self) -> Decimal | None:
        return kpi.percent(self.closed_on_time, self.closed)

    @property
    def completion_rate(self) -> Decimal | None:
        return kpi.percent(self.closed, self.handled)

    @property
    def satisfaction_rate(self) -> Decimal | None:
        return kpi.percent(self.satisfied, self.rated)

    @property
    def resolution_rate(self) -> Decimal | None:
        return kpi.percent(self.solved, self.rated)


def handler_table(scope: Scope, f: StatsFilter) -> list[HandlerRow]:
    """Per staff member who accepted or replied to appeals received in the period, with those
    appeals' outcome now (``DailyHandlerRollup``; invalid and merged appeals left out).

    The period, the statistics scope and ``f.unit`` / ``f.place`` apply; the table has no
    category, channel or type dimension.
    """
    sums = {name: Sum(name) for name in HANDLER_COUNTERS}
    rows = (
        _days_in_scope(DailyHandlerRollup.objects.all(), scope, f)
        .values("actor_id", "actor__display_name", "actor__username")
        .annotate(**sums)
        .order_by("-handled", "actor_id")
    )
    return [
        HandlerRow(
            user_id=row["actor_id"],
            name=row["actor__display_name"] or row["actor__username"],
            **{name: row[name] or 0 for name in HANDLER_COUNTERS},
        )
        for row in rows
    ]


# ---------------------------------------------------------------- public


def public_figures(date_from: date, date_to: date) -> tuple[kpi.Counters, list[UnitRow]]:
    """City totals and per township/street (by place): the transparency page's figures."""
    scope = Scope(everything=True)
    f = StatsFilter(date_from=date_from, date_to=date_to)
    rows = [
        r
        for r in unit_table(scope, f, axis="territory")
        if r.unit is not None and r.unit.is_territorial
    ]
    return totals(scope, f), rows
