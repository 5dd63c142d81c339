"""Console fragment of smart dispatch: the categories the model suggests while a call is typed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minsheng.appeals import reference
from minsheng.org.models import User

from . import duplicates, hotspots, permissions, services
from .forms import HotspotFilterForm

# What the fragment reads of the typed text: enough for the model, bounded for a GET.
MAX_TEXT = 5000


def _territory(raw: str | None) -> object | None:
    if raw and raw.isdigit() and len(raw) < 12:
        return reference.active_territory(int(raw))
    return None


@login_required
@require_GET
def intake_suggestions(request: HttpRequest) -> HttpResponse:
    """The likeliest categories for the title and content typed so far (an htmx fragment)."""
    user = request.user
    if not isinstance(user, User) or not permissions.may_see_suggestions(user):
        raise PermissionDenied
    text = (request.GET.get("title", "") + request.GET.get("content", ""))[:MAX_TEXT]
    territory = _territory(request.GET.get("territory"))
    response = render(
        request,
        "dispatch/console/_suggestions.html",
        {
            "suggestions": services.suggest(text, territory=territory),  # type: ignore[arg-type]
            "model_status": services.model_status(),
            "typed": bool(text.strip()),
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def intake_duplicates(request: HttpRequest) -> HttpResponse:
    """并单: open appeals like the content typed so far, at the place chosen (an htmx fragment)."""
    user = request.user
    if not isinstance(user, User) or not permissions.may_see_suggestions(user):
        raise PermissionDenied
    text = request.GET.get("content", "")[:MAX_TEXT]
    found = duplicates.related(
        user,
        text=text,
        territory=_territory(request.GET.get("territory")),  # type: ignore[arg-type]
    )
    response = render(
        request,
        "dispatch/console/_duplicates_list.html",
        {"related": found, "window_days": duplicates.window_days(), "typed": bool(text.strip())},
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _hotspot_request(request: HttpRequest) -> tuple[User, HotspotFilterForm]:
    user = request.user
    if not isinstance(user, User) or not permissions.may_see_suggestions(user):
        raise PermissionDenied
    return user, HotspotFilterForm(request.GET or None)


def _found(user: User, form: HotspotFilterForm) -> list[hotspots.Hotspot]:
    start, end = form.period()
    return hotspots.hotspots(user, start=start, end=end, territory=form.territory())


@login_required
@require_GET
def hotspots_page(request: HttpRequest) -> HttpResponse:
    """热点: this period's clusters of appeals about the same problem; one hotspot's appeals."""
    user, form = _hotspot_request(request)
    if request.GET and not form.is_valid():
        return render(request, "dispatch/console/hotspots.html", {"form": form}, status=400)
    if not request.GET:  # the default period, shown in the filter
        default = HotspotFilterForm({})
        default.is_valid()
        first, last = default.cleaned_data["start"], default.cleaned_data["end"]
        form = HotspotFilterForm({"from": first.isoformat(), "to": last.isoformat()})
        form.is_valid()
    found = _found(user, form)
    key = form.cleaned_data.get("hotspot")
    chosen = next((h for h in found if h.key == key), None) if key else None
    if key and chosen is None:
        raise Http404
    query = request.GET.copy()
    query.pop("hotspot", None)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return render(
        request,
        "dispatch/console/hotspots.html",
        {
            "form": form,
            "hotspots": found,
            "chosen": chosen,
            "query": query.urlencode(),
            "start": start,
            "end": end,
            "days": (end - start).days + 1,
        },
    )


@login_required
@require_GET
def hotspots_export(request: HttpRequest) -> HttpResponse:
    """The hotspots of the page's filter as an xlsx workbook."""
    from io import BytesIO

    from minsheng.analytics import exports

    user, form = _hotspot_request(request)
    if not form.is_bound:
        form = HotspotFilterForm({})
    if not form.is_valid():
        return HttpResponse(
            "; ".join(str(e) for errors in form.errors.values() for e in errors),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    columns = [
        exports.Column(str(_("Hotspot"))),
        exports.Column(str(_("Number of appeals")), exports.INTEGER),
        exports.Column(str(_("Previous period")), exports.INTEGER),
        exports.Column(str(_("Change")), exports.INTEGER),
        exports.Column(str(_("Places"))),
        exports.Column(str(_("Tracking codes"))),
    ]
    rows = (
        [
            found.title,
            found.count,
            found.previous,
            found.trend,
            "、".join(f"{name} {count}" for name, count in found.places),
            " ".join(a.tracking_code for a in found.appeals),
        ]
        for found in _found(user, form)
    )
    buffer = BytesIO()
    exports.write_xlsx(buffer, str(_("Hotspots")), columns, rows)
    response = HttpResponse(
        buffer.getvalue(),
        content_type=exports.XLSX,
    )
    response["Content-Disposition"] = 'attachment; filename="hotspots.xlsx"'
    response["Cache-Control"] = "private, no-store"
    return response
