"""Start-up checks of the separated duties (三员分立) and the audit log's retention.

``minsheng manage check`` lists them; ``minsheng serve`` and ``minsheng worker`` refuse to
start on an error. The duty checks read the accounts: on a database not migrated yet there are
none, so they pass quietly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.compatibility)
def check_audit_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .audit import MIN_KEEP_DAYS

    keep = settings.MINSHENG_AUDIT_KEEP_DAYS
    if keep < MIN_KEEP_DAYS:
        return [
            checks.Error(
                f"MINSHENG_AUDIT_KEEP_DAYS is {keep}: audit records must be kept at least "
                f"{MIN_KEEP_DAYS} days (six months, GB/T 22239 level 3).",
                hint=f"Set MINSHENG_AUDIT_KEEP_DAYS to {MIN_KEEP_DAYS} or more (default 365).",
                id="minsheng.core.E001",
            )
        ]
    return []


def duty_violations() -> dict[str, list[str]]:
    """Username → the separated duties it holds, for accounts holding more than one."""
    from minsheng.org.models import Membership
    from minsheng.org.permissions import DUTY_ROLES

    held: dict[str, set[str]] = defaultdict(set)
    rows = Membership.objects.filter(role__in=DUTY_ROLES).values_list("user__username", "role")
    for username, role in rows:
        held[username].add(role)
    return {name: sorted(roles) for name, roles in sorted(held.items()) if len(roles) > 1}


def _bootstrap_superusers() -> tuple[list[str], bool]:
    """Active superusers, and whether every duty has an active holder besides them."""
    from minsheng.org.models import Membership, User
    from minsheng.org.permissions import DUTY_ROLES

    superusers = sorted(
        User.objects.filter(is_superuser=True, is_active=True).values_list("username", flat=True)
    )
    staffed = set(
        Membership.objects.filter(
            role__in=DUTY_ROLES,
            user__is_active=True,
            user__is_superuser=False,
            unit__is_active=True,
        ).values_list("role", flat=True)
    )
    return superusers, staffed >= set(DUTY_ROLES)


@checks.register(checks.Tags.security)
def check_separated_duties(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        violations = duty_violations()
        superusers, staffed = _bootstrap_superusers()
    except DatabaseError:
        return []  # not migrated yet: no accounts to check
    except Exception as exc:  # noqa: BLE001 - say the check could not run rather than crash
        return [
            checks.Warning(
                f"Could not read the accounts to check the separation of duties: {exc}",
                id="minsheng.core.W002",
            )
        ]
    messages: list[checks.CheckMessage] = []
    if violations:
        listed = "; ".join(f"{name}: {', '.join(roles)}" for name, roles in violations.items())
        # A warning, not an error: an error would also stop ``migrate`` (checks run there), so an
        # upgrade could not proceed until the roles are fixed; the services refuse new
        # violations anyway, so this only names old ones, at every command until fixed.
        messages.append(
            checks.Warning(
                "Accounts holding more than one of the separated duties center_admin, "
                f"security_admin and auditor (三员分立): {listed}.",
                hint="A security administrator removes the extra roles in the admin "
                "(staff accounts → roles).",
                id="minsheng.core.W003",
            )
        )
    if superusers and staffed:
        messages.append(
            checks.Warning(
                f"Active superuser(s) {', '.join(superusers)} beside the three separated "
                "duties: a superuser passes the duty rules, so the separation holds only once "
                "it is deactivated.",
                hint="Superusers are for the install-time bootstrap: deactivate them "
                "(clear is_active) now that a center administrator, a security administrator "
                "and an auditor exist.",
                id="minsheng.core.W001",
            )
        )
    return messages
