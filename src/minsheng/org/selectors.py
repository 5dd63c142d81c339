"""Reads of the organisation: a user's memberships and the subtrees they cover."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .choices import CENTER_ROLES, UNIT_ROLES, Role
from .models import Membership, OrgUnit, User


@dataclass(frozen=True)
class Post:
    """One (unit, role) a user holds, with the unit's path for subtree tests."""

    unit_id: int
    unit_path: str
    role: str


def posts_of(user: User) -> tuple[Post, ...]:
    """The user's memberships, read once per user object (one query per request)."""
    cached = getattr(user, "_minsheng_posts", None)
    if cached is not None:
        return cached
    if not user.is_authenticated or not user.is_active:
        posts: tuple[Post, ...] = ()
    else:
        posts = tuple(
            Post(unit_id=m.unit_id, unit_path=m.unit.path, role=m.role)
            for m in Membership.objects.filter(user=user, unit__is_active=True).select_related(
                "unit"
            )
        )
    user._minsheng_posts = posts  # type: ignore[attr-defined]
    return posts


def roles_of(user: User) -> frozenset[str]:
    return frozenset(post.role for post in posts_of(user))


def paths_for(user: User, roles: Iterable[str]) -> list[str]:
    wanted = set(roles)
    return [post.unit_path for post in posts_of(user) if post.role in wanted]


def covers(paths: Iterable[str], unit_path: str | None) -> bool:
    """Whether a unit lies in one of the subtrees given by their paths."""
    return bool(unit_path) and any(unit_path.startswith(path) for path in paths)


def has_role_over(user: User, roles: Iterable[str], unit: OrgUnit | None) -> bool:
    return unit is not None and covers(paths_for(user, roles), unit.path)


def is_center_staff(user: User) -> bool:
    return bool(roles_of(user) & CENTER_ROLES)


def is_unit_staff(user: User) -> bool:
    return bool(roles_of(user) & UNIT_ROLES)


def subtree_q(paths: Iterable[str], field: str) -> Q:
    """``Q`` matching rows whose ``field`` (a unit path lookup) lies in any of the subtrees."""
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


def unit_ids_under(paths: Iterable[str]) -> list[int]:
    """Ids of every unit in the subtrees (inactive ones too: old appeals still name them).

    Appeal filters use these ids, not a join on the path: ``lead_unit_id = ANY(…)`` is a
    per-row test the planner can put under any index, where the join forced a scan of every
    appeal in the table (a township leader's overdue queue: 1.1 s at 2M appeals).
    """
    return list(units_in(paths).values_list("pk", flat=True))


def units_in(paths: Iterable[str]) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(subtree_q(paths, "path"))


def territory_units() -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(is_active=True).exclude(kind="department")


__all__ = [
    "Post",
    "Role",
    "covers",
    "has_role_over",
    "is_center_staff",
    "is_unit_staff",
    "paths_for",
    "posts_of",
    "roles_of",
    "subtree_q",
    "territory_units",
    "unit_ids_under",
    "units_in",
]
