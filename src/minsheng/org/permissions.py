"""Separated administrator duties (三员分立, GB/T 22239 level 3): who may administer what.

Three duties check one another, and one account holds at most one of them:

- ``center_admin`` (中心管理员, the system administrator) keeps the reference data (units,
  categories, the dispatch catalogue, time limits, the working-day calendar) and the staff
  accounts' profile, password and active flag — but grants no role, issues or revokes no API
  token, and neither reads nor touches the audit log;
- ``security_admin`` (安全管理员) grants and removes roles, issues and revokes API tokens and
  unlocks locked accounts — but handles no appeal, edits no reference data and sees no citizen
  data (it is not a center role);
- ``auditor`` (审计员) reads the audit log and verifies its chain, and changes nothing.

No duty holder can take over another's account: the system administrator cannot set the
password of, or deactivate, a security administrator or auditor, and nobody grants or removes
their own roles.

Superusers exist for the install-time bootstrap only (``minsheng manage createsuperuser``, then
give the three duties to three people and deactivate the superuser). While active they pass
every predicate here except the audit log's (nobody may change it; only auditors read it); each
of their admin edits is audited, and a system check (``minsheng.core.W001``) warns as long as
one stays active beside the three duties.

The admin follows these predicates (``core.admin_audit``, ``org.admin``); services check them
again, so no other door opens what the admin keeps shut.
"""

from __future__ import annotations

from typing import Any

from .choices import Role
from .models import Membership, User
from .selectors import roles_of

# The three separated duties; one account may hold at most one.
DUTY_ROLES = frozenset({Role.CENTER_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})
# Roles nobody grants by hand: an integration's role comes with its token.
UNGRANTABLE_ROLES = frozenset({Role.INTEGRATION})
# Admin actions (Django's permission codenames).
VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
# Models the admin shows with their own rules; every other audited admin model is reference
# data (``core.admin_audit.AuditedModelAdmin``), kept by the center administrator.
ACCOUNT_MODELS = frozenset({"org.user", "org.membership", "org.apitoken"})
AUDIT_MODELS = frozenset({"core.auditrecord", "core.audithead", "core.auditcheckpoint"})


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_bootstrap_superuser(user: Any) -> bool:
    """An active superuser: the install-time account that passes the duty rules (see above)."""
    return _active(user) and bool(user.is_superuser)


def has_duty(user: Any, role: str) -> bool:
    """Whether an active account holds ``role`` in an active unit."""
    return _active(user) and role in roles_of(user)


def duties_in(roles: Any) -> frozenset[str]:
    """The separated duties among ``roles``."""
    return frozenset(str(role) for role in roles) & DUTY_ROLES


def duty_conflict(roles: Any) -> bool:
    """Whether a set of roles breaks the separation (more than one duty)."""
    return len(duties_in(roles)) > 1


def roles_held(user: User) -> frozenset[str]:
    """Every role of the account, in active units or not (a rule's worst case)."""
    return frozenset(Membership.objects.filter(user=user).values_list("role", flat=True))


def _is_token_account(user: User) -> bool:
    return Role.INTEGRATION in roles_held(user)


# --- the admin as a whole ---------------------------------------------------------------------


def can_use_admin(user: Any) -> bool:
    """The admin site opens to the system and security administrators (not to auditors, who
    read the log in the console, nor to anyone by the ``is_staff`` flag alone)."""
    return is_bootstrap_superuser(user) or any(
        has_duty(user, role) for role in (Role.CENTER_ADMIN, Role.SECURITY_ADMIN)
    )


def can_admin_model(user: Any, label: str, action: str) -> bool:
    """Model-level admin permission: ``label`` is ``app_label.model_name``."""
    if label in AUDIT_MODELS:
        # Read in the console by auditors; nobody edits or deletes a row, superusers included.
        return False
    if label == "org.user":
        if action == VIEW:
            return can_manage_staff_accounts(user) or can_manage_roles(user)
        if action == CHANGE:
            return can_manage_staff_accounts(user) or can_manage_roles(user)
        if action == ADD:
            return can_manage_staff_accounts(user)
        return False  # accounts are deactivated, never deleted: the audit log names them
    if label == "org.membership":
        if action == VIEW:
            return can_manage_roles(user) or can_manage_staff_accounts(user)
        return can_manage_roles(user)
    if label == "org.apitoken":
        # Issued by ``minsheng manage token`` or the service; revoked by an admin action.
        return action == VIEW and can_manage_api_tokens(user)
    return can_manage_reference_data(user)


# --- the system administrator (中心管理员) ------------------------------------------------------


def can_manage_reference_data(user: Any) -> bool:
    """Units, categories, the dispatch catalogue, time limits and the calendar."""
    return is_bootstrap_superuser(user) or has_duty(user, Role.CENTER_ADMIN)


def can_manage_staff_accounts(user: Any) -> bool:
    """Create staff accounts and keep their profile and active flag (not their roles)."""
    return is_bootstrap_superuser(user) or has_duty(user, Role.CENTER_ADMIN)


def can_change_staff_account(actor: Any, target: User) -> bool:
    """Edit ``target``'s profile, active flag and password.

    The system administrator may not take over the other duties' accounts, a superuser's or an
    integration's service account (a password would let a person log in as the token).
    """
    if is_bootstrap_superuser(actor):
        return True
    if not can_manage_staff_accounts(actor) or target.is_superuser:
        return False
    held = roles_held(target)
    if held & {Role.SECURITY_ADMIN, Role.AUDITOR} or Role.INTEGRATION in held:
        return False
    return True


# --- the security administrator (安全管理员) ----------------------------------------------------


def can_manage_roles(user: Any) -> bool:
    """Grant and remove roles (memberships) at all."""
    return is_bootstrap_superuser(user) or has_duty(user, Role.SECURITY_ADMIN)


def can_change_roles_of(actor: Any, target: User | None) -> bool:
    """Grant or remove ``target``'s roles: never one's own, never a superuser's (unless a
    superuser does it), never an integration's service account."""
    if not can_manage_roles(actor):
        return False
    if target is None or target.pk is None or is_bootstrap_superuser(actor):
        return True
    if target.pk == actor.pk or target.is_superuser:
        return False
    return not _is_token_account(target)


def can_grant_role(actor: Any, target: User, role: str) -> bool:
    return role not in UNGRANTABLE_ROLES and can_change_roles_of(actor, target)


def can_manage_api_tokens(user: Any) -> bool:
    """See, issue and revoke integrations' API tokens."""
    return is_bootstrap_superuser(user) or has_duty(user, Role.SECURITY_ADMIN)


def can_unlock_account(actor: Any, target: User | None = None) -> bool:
    """Lift a lockout after failed logins (django-axes)."""
    if target is not None and not is_bootstrap_superuser(actor) and target.pk == actor.pk:
        return False
    return is_bootstrap_superuser(actor) or has_duty(actor, Role.SECURITY_ADMIN)


# --- the auditor (审计员) ----------------------------------------------------------------------


def can_view_audit_log(user: Any) -> bool:
    """Read the audit log and verify its chain: auditors only (superusers too are left out,
    so the bootstrap account cannot read what the auditors are there to watch)."""
    return has_duty(user, Role.AUDITOR)


def can_change_audit_log(user: Any) -> bool:
    """Nobody edits or deletes an audit record; only ``minsheng audit purge`` (an operator's
    command, after the keep period, leaving a checkpoint) removes old ones."""
    return False
