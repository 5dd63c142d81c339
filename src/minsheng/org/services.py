"""Writes of the organisation: units, staff, memberships and integration tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from minsheng.core import audit

from .choices import Role, UnitKind
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
    """Make a token; the full secret is returned once and never stored."""
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
