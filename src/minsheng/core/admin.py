"""Admin for reference data of the shared kernel: the working-day calendar (DESIGN.md §6)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from minsheng.core import calendar, clock
from minsheng.core.admin_audit import AuditedModelAdmin
from minsheng.core.models import CalendarDay, CalendarYear


def _warn_missing_years(request: HttpRequest) -> None:
    """Tell the admin, where they can fix it, that a year near now has no holiday data."""
    this_year = clock.now().astimezone(calendar.SHANGHAI).year
    for year in calendar.years_without_data([this_year, this_year + 1]):
        messages.warning(
            request,
            _(
                "%(year)s: no holiday data; deadlines fall back to Mon–Fri. "
                "Enter the State Council's arrangement and mark the year entered."
            )
            % {"year": year},
        )


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedModelAdmin):
    list_display = ["date", "is_workday", "name", "source"]
    list_filter = ["is_workday", "source"]
    date_hierarchy = "date"
    search_fields = ["name"]
    readonly_fields = ["source"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # An edited row is an override: re-seeding must never undo it.
        obj.source = CalendarDay.Source.ADMIN
        super().save_model(request, obj, form, change)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _warn_missing_years(request)
        return super().changelist_view(request, extra_context)


@admin.register(CalendarYear)
class CalendarYearAdmin(AuditedModelAdmin):
    list_display = ["year", "source"]
    list_filter = ["source"]
    readonly_fields = ["source"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.source = CalendarDay.Source.ADMIN
        super().save_model(request, obj, form, change)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _warn_missing_years(request)
        return super().changelist_view(request, extra_context)
