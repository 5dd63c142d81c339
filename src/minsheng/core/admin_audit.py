"""The admin: who may enter (separated duties) and how every edit lands in the audit log.

Admin edits of reference data land in the hash-chained audit log too (DESIGN.md inv. 5). Access
follows ``minsheng.org.permissions`` (三员分立), not Django's ``is_staff`` flag and per-user
model permissions: the site opens to the system and security administrators, and each audited
model admin asks ``can_admin_model``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url

from . import audit


class DutyAdminSite(admin.AdminSite):
    """The default admin site (``core.apps.MinshengAdminConfig``), gated by duty."""

    site_header = "民生 · 管理"
    site_title = "民生管理"

    def has_permission(self, request: HttpRequest) -> bool:
        from minsheng.org.permissions import can_use_admin

        return can_use_admin(request.user)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """One way in: the console's login, with its lockout and second factor; the admin's own
        form (which knows neither) is never shown."""
        if request.user.is_authenticated:
            # Signed in without an admin duty: the admin does not exist for this account.
            if self.has_permission(request):
                return HttpResponseRedirect(resolve_url("admin:index"))
            return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))
        return redirect_to_login(
            request.GET.get("next") or resolve_url("admin:index"), settings.LOGIN_URL
        )


SECRET_FIELDS = frozenset({"password", "secret_hash"})


def _values(obj: Model, fields: list[str]) -> dict[str, str]:
    """The new values of the changed fields; secrets are named, never copied."""
    return {
        name: "(changed)" if name in SECRET_FIELDS else str(getattr(obj, name, ""))
        for name in fields
        if hasattr(obj, name)
    }


def _allowed(request: HttpRequest, model: Any, action: str) -> bool:
    from minsheng.org.permissions import can_admin_model

    return can_admin_model(request.user, model._meta.label_lower, action)


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every save and delete also writes an audit record.

    Permissions follow the separated duties (``org.permissions.can_admin_model``): reference
    data is the center administrator's; accounts, roles and tokens have their own rules.
    Subclasses may narrow further (``has_add_permission`` returning False, object rules).
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return any(_allowed(request, self.model, action) for action in ("view", "change"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.model, "view") or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, self.model, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.model, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.model, "delete")

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
        """Inline rows are audited one by one, unless the formset saves through services that
        audit (``audited_by_services``: a staff member's roles), which would record each twice."""
        super().save_formset(request, form, formset, change)
        if getattr(formset, "audited_by_services", False):
            return
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
