"""Reference-data look-ups used at dispatch: the time-limit table and the dispatch catalogue."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from minsheng.core import audit
from minsheng.core.errors import DomainError
from minsheng.org.models import OrgUnit

from .errors import AppealError
from .models import Category, DispatchRule, TimeLimit


@dataclass
class _Memo:
    """State of a bulk run (the demo seeder): reference rows read once, appeals it touched."""

    units: dict[int, OrgUnit] = field(default_factory=dict)
    categories: dict[int, Category] = field(default_factory=dict)
    limits: list[TimeLimit] = field(default_factory=list)
    rules: list[DispatchRule] = field(default_factory=list)
    answers: dict[Any, Any] = field(default_factory=dict)
    appeals: dict[int, Any] = field(default_factory=dict)


_memo: contextvars.ContextVar[_Memo | None] = contextvars.ContextVar("reference_memo", default=None)


@contextmanager
def bulk_session() -> Iterator[None]:
    """A bulk run inside one transaction that holds the database's write lock throughout.

    Reference data is read once (the run changes none of it), appeals are kept in memory
    between steps (no other writer can touch them meanwhile; the version guard on every
    update still checks), and audit records are chained in memory and written at the end.
    Used by the demo seeder to replay a year through the service functions quickly.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bulk_session() must run inside a transaction")
    categories = {c.pk: c for c in Category.objects.all()}
    for category in categories.values():
        if category.parent_id is not None:
            category.parent = categories[category.parent_id]
    units = {u.pk: u for u in OrgUnit.objects.all()}
    memo = _Memo(
        units=units,
        categories=categories,
        limits=list(TimeLimit.objects.all()),
        rules=list(DispatchRule.objects.all()),
    )
    for rule in memo.rules:
        rule.unit = units[rule.unit_id]
    token = _memo.set(memo)
    try:
        with audit.buffered():
            yield
    finally:
        _memo.reset(token)


def remember_appeal(appeal: Any) -> None:
    memo = _memo.get()
    if memo is not None:
        memo.appeals[appeal.pk] = appeal


def remembered_appeal(pk: int) -> Any:
    memo = _memo.get()
    return None if memo is None else memo.appeals.get(pk)


def cached_unit(unit_id: int | None) -> OrgUnit | None:
    memo = _memo.get()
    return None if memo is None or unit_id is None else memo.units.get(unit_id)


def cached_category(category_id: int | None) -> Category | None:
    memo = _memo.get()
    return None if memo is None or category_id is None else memo.categories.get(category_id)


def is_memoized() -> bool:
    return _memo.get() is not None


# Categories and places named by submissions, cached per process for a minute: intake reads
# them on every request, admins change them rarely. A save in this process forgets at once.
REFERENCE_TTL_SECONDS = 60.0
_lookups: dict[tuple[str, int], tuple[float, Any]] = {}


def forget_lookups(**_kwargs: Any) -> None:
    _lookups.clear()


def _looked_up(kind: str, pk: int, load: Any) -> Any:
    now = time.monotonic()
    hit = _lookups.get((kind, pk))
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    _lookups[(kind, pk)] = (now + REFERENCE_TTL_SECONDS, value)
    return value


def active_category(pk: int) -> Category | None:
    """An active category by id (with its parents loaded), or None."""
    return _looked_up(
        "category",
        pk,
        lambda: next(
            iter(
                Category.objects.filter(pk=pk, is_active=True).select_related("parent__parent")[:1]
            ),
            None,
        ),
    )


def active_territory(pk: int) -> OrgUnit | None:
    """An active place (territorial unit) by id, or None."""
    unit = _looked_up(
        "unit", pk, lambda: next(iter(OrgUnit.objects.filter(pk=pk, is_active=True)[:1]), None)
    )
    return unit if unit is not None and unit.is_territorial else None


@dataclass(frozen=True)
class Limits:
    accept_amount: int
    accept_unit: str
    complete_amount: int
    complete_unit: str


def resolve_time_limit(*, appeal_type: str, category: Category | None, urgency: str) -> Limits:
    """The most specific matching row: urgency first, then the deepest category, then type.

    Urgency ranks first because a critical matter (a gas leak) must get hours, whatever the
    category's ordinary limit in working days.
    """
    memo = _memo.get()
    key = ("limit", appeal_type, category.pk if category else None, urgency)
    if memo is not None and key in memo.answers:
        return memo.answers[key]
    lineage = category.lineage() if category else []
    depth = {c.pk: len(lineage) - i for i, c in enumerate(lineage)}
    if memo is not None:
        rows: Any = [
            row
            for row in memo.limits
            if row.appeal_type in ("", appeal_type)
            and row.urgency in ("", urgency)
            and (row.category_id is None or row.category_id in depth)
        ]
    else:
        rows = TimeLimit.objects.filter(
            Q(appeal_type="") | Q(appeal_type=appeal_type),
            Q(category__isnull=True) | Q(category_id__in=list(depth)),
            Q(urgency="") | Q(urgency=urgency),
        )

    def score(row: TimeLimit) -> tuple[int, int, int]:
        return (
            1 if row.urgency else 0,
            depth.get(row.category_id, 0) if row.category_id else 0,
            1 if row.appeal_type else 0,
        )

    best = max(rows, key=score, default=None)
    if best is None:
        raise DomainError(
            AppealError.NO_TIME_LIMIT,
            {
                "appeal_type": appeal_type,
                "urgency": urgency,
                "category": category.code if category else None,
            },
        )
    limits = Limits(best.accept_amount, best.accept_unit, best.complete_amount, best.complete_unit)
    if memo is not None:
        memo.answers[key] = limits
    return limits


def suggest_unit(*, category: Category | None, territory: OrgUnit | None) -> OrgUnit | None:
    """派单目录: the rule for the nearest category and the nearest enclosing territory."""
    if category is None:
        return None
    lineage = category.lineage()
    territory_ids = territory.ancestors_and_self_ids() if territory else []
    memo = _memo.get()
    if memo is not None:
        wanted = {c.pk for c in lineage}
        rules = [
            rule
            for rule in memo.rules
            if rule.category_id in wanted
            and rule.unit.is_active
            and (rule.territory_id is None or rule.territory_id in territory_ids)
        ]
    else:
        rules = list(
            DispatchRule.objects.filter(
                Q(territory__isnull=True) | Q(territory_id__in=territory_ids),
                category_id__in=[c.pk for c in lineage],
                unit__is_active=True,
            ).select_related("unit")
        )
    if not rules:
        return None
    category_rank = {c.pk: i for i, c in enumerate(lineage)}  # 0 = the category itself
    territory_rank = {t: len(territory_ids) - i for i, t in enumerate(territory_ids)}

    def rank(rule: DispatchRule) -> tuple[int, int]:
        # Lower is better: the nearer category first, then the innermost territory.
        t = (
            territory_rank.get(rule.territory_id, 0)
            if rule.territory_id
            else len(territory_ids) + 1
        )
        return (category_rank[rule.category_id], t)

    return min(rules, key=rank).unit
