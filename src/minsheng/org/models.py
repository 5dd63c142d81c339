"""Organisation tree, staff accounts, role memberships and integration tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import TERRITORIAL_KINDS, Role, UnitKind


class OrgUnit(models.Model):
    """组织/单位: a node of city → township/street → village/community, or a department.

    ``path`` is a materialised path ("/1/7/42/") so a subtree is one indexed prefix query.
    """

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    # Pinyin initials of the name ("hxz" for 和兴镇) so pickers find places by typing.
    initials = models.CharField(_("pinyin initials"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_territorial(self) -> bool:
        return self.kind in TERRITORIAL_KINDS

    def ancestors_and_self_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class User(AbstractUser):
    """Staff account (工作人员). Citizens need no account to submit or track an appeal."""

    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Demo accounts carry a published password; ``minsheng serve`` refuses to run with them.
    is_demo = models.BooleanField(default=False, editable=False)
    # When the password was last set (periodic change for staff, GB/T 22239); empty: never
    # since the policy began, which counts from when the account was created.
    password_changed_at = models.DateTimeField(
        _("password changed at"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")

    def __str__(self) -> str:
        return self.display_name or self.username

    # Staff login security: every new password restarts the maximum age (org/passwords.py).
    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # ``save(update_fields=["password"])`` after set_password keeps the stamp with it.
        fields = kwargs.get("update_fields")
        if fields is not None and "password" in fields and self._password is not None:
            kwargs["update_fields"] = {*fields, "password_changed_at"}
        super().save(*args, **kwargs)


class Membership(models.Model):
    """A staff account's role in one unit (任职). One account may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.unit} · {self.get_role_display()}"


class ApiToken(models.Model):
    """接口令牌: an integration (telephony, mini-program back end) acting for one unit.

    Only a hash of the secret is stored. The token acts as its own service account, so every
    event and audit record names which integration did it, and revoking stops it at once.
    """

    name = models.CharField(_("name"), max_length=100)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="api_tokens")
    account = models.OneToOneField(User, on_delete=models.PROTECT, related_name="api_token")
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


__all__ = ["ApiToken", "Membership", "OrgUnit", "Role", "UnitKind", "User"]
