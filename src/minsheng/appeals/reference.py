"""Reference-data look-ups used at dispatch: the time-limit table and the dispatch catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from minsheng.core.errors import DomainError
from minsheng.org.models import OrgUnit

from .errors import AppealError
from .models import Category, DispatchRule, TimeLimit


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
    lineage = category.lineage() if category else []
    depth = {c.pk: len(lineage) - i for i, c in enumerate(lineage)}
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
            {"appeal_type": appeal_type, "urgency": urgency,
             "category": category.code if category else None},
        )
    return Limits(best.accept_amount, best.accept_unit, best.complete_amount, best.complete_unit)


def suggest_unit(*, category: Category | None, territory: OrgUnit | None) -> OrgUnit | None:
    """派单目录: the rule for the nearest category and the nearest enclosing territory."""
    if category is None:
        return None
    lineage = category.lineage()
    territory_ids = territory.ancestors_and_self_ids() if territory else []
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
        t = territory_rank.get(rule.territory_id, 0) if rule.territory_id else len(territory_ids) + 1
        return (category_rank[rule.category_id], t)

    return min(rules, key=rank).unit
