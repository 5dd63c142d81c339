"""Writes of the organisation: units, staff, memberships and integration tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from minsheng.core import audit
from minsheng.core.errors import DomainError

from . import permissions
from .choices import Role, UnitKind
from .errors import OrgError
from .models import ApiToken, Membership, OrgUnit, User

TOKEN_PREFIX = "ms"  # noqa: S105 — a public marker of our tokens, not a secret


@transaction.atomic
def create_unit(
    *,
    name: str,
    code: str,
    kind: UnitKind | str,
    parent: OrgUnit | None = None,
    initials: str = "",
    actor: User | None = None,
) -> OrgUnit:
    unit = OrgUnit.objects.create(
        name=name,
        code=code,
        kind=kind,
        parent=parent,
        initials=initials,
        depth=0 if parent is None else parent.depth + 1,
        path="",
    )
    # The path includes the unit's own id, known only after the insert.
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    audit.record(actor=actor, action="org.unit.create", target=unit, data={"name": name})
    return unit


@transaction.atomic
def create_staff(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    phone: str = "",
    posts: list[tuple[OrgUnit, Role | str]],
    actor: User | None = None,
    is_demo: bool = False,
) -> User:
    if permissions.duty_conflict(role for _unit, role in posts):
        # 三员分立: checked here too, so no bulk load builds an account the admin would refuse.
        raise DomainError(OrgError.DUTY_CONFLICT, {"roles": sorted(str(r) for _u, r in posts)})
    user = User(username=username, display_name=display_name, phone=phone, is_demo=is_demo)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    for unit, role in posts:
        Membership.objects.create(user=user, unit=unit, role=role)
    audit.record(
        actor=actor,
        action="org.staff.create",
        target=user,
        data={"username": username, "posts": [[u.code, str(r)] for u, r in posts]},
    )
    return user


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, name: str, unit: OrgUnit, actor: User | None) -> tuple[ApiToken, str]:
    """Make a token; the full secret is returned once and never stored.

    ``actor=None`` is the operator's command line (``minsheng manage token``); a person must be
    a security administrator (三员分立).
    """
    if actor is not None and not permissions.can_manage_api_tokens(actor):
        raise DomainError(OrgError.NOT_PERMITTED, {"action": "create_api_token"})
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    account = User.objects.create(username=f"token-{prefix}", display_name=name)
    account.set_unusable_password()
    account.save(update_fields=["password"])
    Membership.objects.create(user=account, unit=unit, role=Role.INTEGRATION)
    token = ApiToken.objects.create(
        name=name,
        unit=unit,
        account=account,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        created_by=actor,
    )
    audit.record(actor=actor, action="org.token.create", target=token, data={"unit": unit.code})
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def revoke_api_token(*, token: ApiToken, actor: User | None) -> None:
    if actor is not None and not permissions.can_manage_api_tokens(actor):
        raise DomainError(OrgError.NOT_PERMITTED, {"action": "revoke_api_token"})
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise DomainError(OrgError.TOKEN_REVOKED, {"token": token.prefix})
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    User.objects.filter(pk=token.account_id).update(is_active=False)
    audit.record(actor=actor, action="org.token.revoke", target=token, data={})


def authenticate_token(raw: str) -> User | None:
    """The service account of a valid, unrevoked token, or None."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = (
        ApiToken.objects.select_related("account")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if token is None or not secrets.compare_digest(token.secret_hash, _hash_secret(parts[2])):
        return None
    if not token.account.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # At most one write a minute per token: enough to spot a dead or stolen token.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.account


# --- roles (三员分立: granted and removed by the security administrator) -----------------------


def _forget_posts(user: User) -> None:
    # ``selectors.posts_of`` caches the memberships on the object; the next read must see these.
    user.__dict__.pop("_minsheng_posts", None)


@transaction.atomic
def grant_role(*, user: User, unit: OrgUnit, role: Role | str, actor: User | None) -> Membership:
    """Give ``user`` ``role`` in ``unit`` (任职), audited.

    ``actor=None`` is the system (bootstrap, demo); a person must be allowed by
    ``permissions.can_grant_role``. The account's row is locked first, so two grants racing
    each other cannot together give one account two separated duties.
    """
    role = str(role)
    if role not in Role.values:
        raise DomainError(OrgError.ROLE_NOT_GRANTABLE, {"role": role})
    if role in permissions.UNGRANTABLE_ROLES:
        raise DomainError(OrgError.ROLE_NOT_GRANTABLE, {"role": role})
    locked = User.objects.select_for_update().get(pk=user.pk)
    if actor is not None:
        if not permissions.can_manage_roles(actor):
            raise DomainError(OrgError.NOT_PERMITTED, {"action": "grant_role"})
        if locked.pk == actor.pk and not permissions.is_bootstrap_superuser(actor):
            raise DomainError(OrgError.OWN_ROLES)
        if not permissions.can_grant_role(actor, locked, role):
            raise DomainError(OrgError.NOT_PERMITTED, {"action": "grant_role"})
    held = permissions.roles_held(locked)
    if Membership.objects.filter(user=locked, unit=unit, role=role).exists():
        raise DomainError(OrgError.ROLE_ALREADY_HELD, {"role": role, "unit": unit.code})
    if permissions.duty_conflict(held | {role}):
        raise DomainError(
            OrgError.DUTY_CONFLICT,
            {"role": role, "holds": sorted(permissions.duties_in(held))},
        )
    membership = Membership.objects.create(user=locked, unit=unit, role=role)
    audit.record(
        actor=actor,
        action="org.role.grant",
        target=locked,
        data={"role": role, "unit": unit.code, "membership": membership.pk},
    )
    _forget_posts(user)
    return membership


@transaction.atomic
def revoke_role(*, membership: Membership | int, actor: User | None) -> None:
    """Remove one role assignment, audited (``actor=None``: the system)."""
    pk = membership if isinstance(membership, int) else membership.pk
    found = Membership.objects.select_related("unit", "user").filter(pk=pk).first()
    if found is None:
        raise DomainError(OrgError.MEMBERSHIP_NOT_FOUND)
    locked = User.objects.select_for_update().get(pk=found.user_id)
    if actor is not None:
        if not permissions.can_manage_roles(actor):
            raise DomainError(OrgError.NOT_PERMITTED, {"action": "revoke_role"})
        if locked.pk == actor.pk and not permissions.is_bootstrap_superuser(actor):
            raise DomainError(OrgError.OWN_ROLES)
        if found.role in permissions.UNGRANTABLE_ROLES or not permissions.can_change_roles_of(
            actor, locked
        ):
            raise DomainError(OrgError.NOT_PERMITTED, {"action": "revoke_role"})
    if not Membership.objects.filter(pk=pk).delete()[0]:
        raise DomainError(OrgError.MEMBERSHIP_NOT_FOUND)  # removed meanwhile
    audit.record(
        actor=actor,
        action="org.role.revoke",
        target=locked,
        data={"role": found.role, "unit": found.unit.code, "membership": pk},
    )
    if not isinstance(membership, int):
        _forget_posts(membership.user)
