"""Read-only admin views of warnings, supervision orders and escalations."""

from __future__ import annotations

from django.contrib import admin

from .models import DeadlineWarning, Escalation, SupervisionOrder


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(DeadlineWarning)
class DeadlineWarningAdmin(_ReadOnly):
    list_display = ["appeal", "deadline_kind", "level", "deadline", "raised_at", "cleared_at"]
    list_filter = ["deadline_kind", "level"]
    raw_id_fields = ["appeal"]


@admin.register(SupervisionOrder)
class SupervisionOrderAdmin(_ReadOnly):
    list_display = ["appeal", "unit", "automatic", "issued_at", "response_due_at", "responded_at"]
    list_filter = ["automatic"]
    raw_id_fields = ["appeal"]


@admin.register(Escalation)
class EscalationAdmin(_ReadOnly):
    list_display = ["appeal", "cause", "raised_at"]
    list_filter = ["cause"]
    raw_id_fields = ["appeal"]
