"""Admin edits of reference data land in the hash-chained audit log too (DESIGN.md inv. 5)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from . import audit

SECRET_FIELDS = frozenset({"password", "secret_hash"})


def _values(obj: Model, fields: list[str]) -> dict[str, str]:
    """The new values of the changed fields; secrets are named, never copied."""
    return {
        name: "(changed)" if name in SECRET_FIELDS else str(getattr(obj, name, ""))
        for name in fields
        if hasattr(obj, name)
    }


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every save and delete also writes an audit record."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = list(form.changed_data) if form is not None else []
        audit.record(
            actor=request.user,
            action=f"admin.{obj._meta.model_name}.{'change' if change else 'add'}",
            target=obj,
            data={"changed": _values(obj, changed)},
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Inline rows (a staff member's memberships = their roles) are audited one by one."""
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            audit.record(
                actor=request.user,
                action=f"admin.{obj._meta.model_name}.add",
                target=obj,
                data={"row": str(obj)},
            )
        for obj, fields in formset.changed_objects:
            audit.record(
                actor=request.user,
                action=f"admin.{obj._meta.model_name}.change",
                target=obj,
                data={"changed": _values(obj, list(fields))},
            )
        for obj in formset.deleted_objects:
            audit.record(
                actor=request.user,
                action=f"admin.{obj._meta.model_name}.delete",
                target_type=obj._meta.label_lower,
                target_id=str(obj.pk),
                data={"was": str(obj)},
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit.record(
            actor=request.user,
            action=f"admin.{obj._meta.model_name}.delete",
            target=obj,
            data={"was": str(obj)},
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            audit.record(
                actor=request.user,
                action=f"admin.{obj._meta.model_name}.delete",
                target=obj,
                data={"was": str(obj)},
            )
        super().delete_queryset(request, queryset)
