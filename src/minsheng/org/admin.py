"""Admin for units, staff accounts, their roles and integration tokens.

Who may do what follows the separated duties (``org.permissions``): the center administrator
keeps units and the staff accounts' profile, password and active flag; the security
administrator grants and removes roles (the membership rows, through ``grant_role`` and
``revoke_role``) and revokes tokens. Nobody edits ``is_staff``, ``is_superuser``, groups or
per-user permissions here: admin access comes from the duties, not from those flags.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minsheng.core import audit
from minsheng.core.admin_audit import AuditedModelAdmin
from minsheng.core.errors import DomainError

from . import permissions, services
from .choices import Role
from .models import ApiToken, Membership, OrgUnit, User


@admin.register(OrgUnit)
class OrgUnitAdmin(AuditedModelAdmin):
    list_display = ["name", "code", "kind", "parent", "initials", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code", "initials"]
    readonly_fields = ["path", "depth"]
    autocomplete_fields = ["parent"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # The materialised path is computed by ``org.services.create_unit``.
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Units are deactivated, never deleted: appeals and the audit log name them.
        return False

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # The security administrator picks units when granting roles (the inline's search).
        return super().has_view_permission(request, obj) or permissions.can_manage_roles(
            request.user
        )


GRANTABLE_ROLES = [(value, label) for value, label in Role.choices if value != Role.INTEGRATION]


class MembershipForm(forms.ModelForm):
    """One role row: a new row grants, a removed row revokes; a kept row is not edited in
    place (remove it and add the new one), so every change is one grant or one revoke."""

    role = forms.ChoiceField(label=gettext_lazy("role"), choices=GRANTABLE_ROLES)

    class Meta:
        model = Membership
        fields = ["unit", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in ("unit", "role"):
                if name in self.fields:
                    self.fields[name].disabled = True
            if "role" in self.fields:
                # A kept row may hold a role no longer grantable by hand (an integration's).
                self.fields["role"].choices = Role.choices


class MembershipFormSet(forms.BaseInlineFormSet):
    """The roles an account will hold after the save must respect the separation of duties."""

    def clean(self) -> None:
        super().clean()
        roles = [
            form.cleaned_data.get("role") or form.instance.role
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and (form.instance.pk is not None or form.has_changed())
        ]
        if permissions.duty_conflict(role for role in roles if role):
            raise ValidationError(
                _(
                    "One account may hold only one of the duties center administrator, "
                    "security administrator and auditor (separation of duties)."
                ),
                code="duty_conflict",
            )

    # Saving goes through the services (locked, permission-checked, audited).
    audited_by_services = True

    def save_new(self, form: Any, commit: bool = True) -> Membership:
        return services.grant_role(
            user=self.instance,
            unit=form.cleaned_data["unit"],
            role=form.cleaned_data["role"],
            actor=self.actor,
        )

    def save_existing(self, form: Any, obj: Membership, commit: bool = True) -> Membership:
        return obj  # kept rows are read-only (see MembershipForm)

    def delete_existing(self, obj: Membership, commit: bool = True) -> None:
        if commit:
            services.revoke_role(membership=obj.pk, actor=self.actor)


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 1
    autocomplete_fields = ["unit"]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = request.user
        return formset

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_admin_model(request.user, "org.membership", permissions.VIEW)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_change_roles_of(request.user, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_change_roles_of(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_change_roles_of(request.user, obj)


# Fields whose meaning the duties replace: shown, never edited here.
_FLAG_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
_PROFILE_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "display_name",
    "phone",
    "is_active",
    "last_login",
    "date_joined",
)


@admin.register(User)
class UserAdmin(AuditedModelAdmin, BaseUserAdmin):  # type: ignore[misc]
    list_display = ["username", "display_name", "is_active", "is_demo", "last_login"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("民生", {"fields": ("display_name", "phone")}))
    inlines = [MembershipInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None:
            return True
        return permissions.can_change_staff_account(
            request.user, obj
        ) or permissions.can_change_roles_of(request.user, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not permissions.is_bootstrap_superuser(request.user):
            readonly += _FLAG_FIELDS
        if obj is not None and not permissions.can_change_staff_account(request.user, obj):
            # A security administrator opens an account for its roles only.
            readonly += _PROFILE_FIELDS
        return readonly

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's page, gated by duty; a password set here is audited (never its hash)."""
        target = self.get_object(request, id)
        if target is not None and not permissions.can_change_staff_account(request.user, target):
            raise PermissionDenied
        with transaction.atomic():  # the new password and its record, or neither
            response = super().user_change_password(request, id, form_url)
            if target is not None and request.method == "POST" and response.status_code == 302:
                audit.record(
                    actor=request.user,
                    action="admin.user.password",
                    target=target,
                    data={"changed": {"password": "(changed)"}},
                )
        return response


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = ["name", "unit", "prefix", "created_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    readonly_fields = [
        "name",
        "unit",
        "prefix",
        "secret_hash",
        "account",
        "created_at",
        "created_by",
        "revoked_at",
        "last_used_at",
    ]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # A token's secret is shown once; ``org.services.create_api_token`` makes it.
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return permissions.can_manage_api_tokens(request.user)

    @admin.action(
        description=gettext_lazy("Revoke the selected API tokens"), permissions=["revoke"]
    )
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            try:
                services.revoke_api_token(token=token, actor=request.user)  # type: ignore[arg-type]
            except DomainError as error:
                messages.error(request, f"{token}: {error.error.message}")
            else:
                revoked += 1
        messages.success(request, _("%(count)d API token(s) revoked.") % {"count": revoked})
