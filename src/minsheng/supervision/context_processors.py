"""Whether the console's navigation links to the supervision orders page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from minsheng.org.permissions import can_unlock_account, can_use_admin, can_view_audit_log

from .selectors import sees_supervision


def nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_supervision": lambda: sees_supervision(user),
        # Separated duties (org/permissions.py): the auditors' log page, the admin by duty.
        "nav_audit": lambda: can_view_audit_log(user),
        "nav_admin": lambda: can_use_admin(user),
        # the security administrator's page: locked accounts and two-factor devices
        "nav_security": lambda: can_unlock_account(user),
    }
