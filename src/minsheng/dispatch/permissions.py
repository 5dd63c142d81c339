"""Who sees smart dispatch's suggestions in the console: the center's staff (hotline agents,
dispatchers, supervisors, administrators, auditors), who register and route appeals. The API
endpoint shows them to any staff member who may see the appeal (scope is the rule there)."""

from __future__ import annotations

from minsheng.org.choices import CENTER_ROLES
from minsheng.org.models import User
from minsheng.org.selectors import roles_of


def may_see_suggestions(user: User) -> bool:
    return bool(roles_of(user) & CENTER_ROLES)
