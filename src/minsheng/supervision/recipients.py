"""Who hears of a reminder, an order or an escalation."""

from __future__ import annotations

from minsheng.org.choices import Role
from minsheng.org.models import OrgUnit, User


def _holding(unit_ids: list[int], roles: list[str]) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True, memberships__unit_id__in=unit_ids, memberships__role__in=roles
        )
        .distinct()
        .order_by("pk")
    )


def unit_staff(unit: OrgUnit | None) -> list[User]:
    """催办 goes to the handling unit: its handlers and leaders."""
    if unit is None:
        return []
    return _holding([unit.pk], [Role.HANDLER, Role.UNIT_LEADER])


def unit_leaders(unit: OrgUnit | None) -> list[User]:
    """督办单 goes to the unit's leaders; a unit without one, to the nearest leaders above it."""
    if unit is None:
        return []
    for unit_id in reversed(unit.ancestors_and_self_ids()):
        leaders = _holding([unit_id], [Role.UNIT_LEADER])
        if leaders:
            return leaders
    return []


def city_supervisors() -> list[User]:
    """升级督办 goes to the supervisors (督办员) posted at the city, the root of the tree."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__role=Role.SUPERVISOR,
            memberships__unit__parent__isnull=True,
        )
        .distinct()
        .order_by("pk")
    )
