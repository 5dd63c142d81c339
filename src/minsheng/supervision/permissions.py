"""Who may see and answer supervision orders (issuing goes through the appeals' rules)."""

from __future__ import annotations

from minsheng.appeals import permissions as appeal_permissions
from minsheng.org.choices import Role
from minsheng.org.models import User
from minsheng.org.selectors import has_role_over

from .models import SupervisionOrder


def may_answer(user: User, order: SupervisionOrder) -> bool:
    """A leader of the addressed unit (or of a unit above it) answers an open order."""
    return order.responded_at is None and has_role_over(user, (Role.UNIT_LEADER,), order.unit)


def may_see_order(user: User, order: SupervisionOrder) -> bool:
    """Leaders over the addressed unit, and whoever may see the appeal."""
    return has_role_over(user, (Role.UNIT_LEADER,), order.unit) or appeal_permissions.can_view(
        user, order.appeal
    )
