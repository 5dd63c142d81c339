"""Admin for the appeals' reference data: taxonomy, time limits and the dispatch catalogue.

Appeals themselves are not edited here: every change to an appeal goes through its services.
"""

from __future__ import annotations

from django.contrib import admin

from minsheng.core.admin_audit import AuditedModelAdmin

from .models import Category, DispatchRule, TimeLimit


@admin.register(Category)
class CategoryAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "parent", "level", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # The level follows the tree, so pickers and statistics can trust it.
        obj.level = 1 if obj.parent is None else obj.parent.level + 1
        super().save_model(request, obj, form, change)


@admin.register(TimeLimit)
class TimeLimitAdmin(AuditedModelAdmin):
    list_display = [
        "appeal_type",
        "category",
        "urgency",
        "accept_amount",
        "accept_unit",
        "complete_amount",
        "complete_unit",
    ]
    list_filter = ["appeal_type", "urgency"]
    autocomplete_fields = ["category"]


@admin.register(DispatchRule)
class DispatchRuleAdmin(AuditedModelAdmin):
    list_display = ["category", "territory", "unit"]
    search_fields = ["category__name", "territory__name", "unit__name"]
    autocomplete_fields = ["category", "territory", "unit"]
