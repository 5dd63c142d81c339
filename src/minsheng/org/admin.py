"""Admin for units and staff accounts (reference data of the organisation)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from minsheng.core.admin_audit import AuditedModelAdmin

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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["unit"]


@admin.register(User)
class UserAdmin(AuditedModelAdmin, BaseUserAdmin):  # type: ignore[misc]
    list_display = ["username", "display_name", "is_active", "is_demo", "last_login"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("民生", {"fields": ("display_name", "phone")}))
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = ["name", "unit", "prefix", "created_at", "revoked_at", "last_used_at"]
    readonly_fields = [
        "prefix",
        "secret_hash",
        "account",
        "created_at",
        "created_by",
        "last_used_at",
    ]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # A token's secret is shown once; ``org.services.create_api_token`` makes it.
        return False
