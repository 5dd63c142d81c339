"""Statistics in the console (``/console/stats/``): dashboard, leader view, rankings, exports.

Every figure is a link to the queue that produced it (``/console/appeals/?…`` with the queue's
own parameters), every chart also renders as an HTML table, and bad input (an impossible period,
an unknown or unseen unit) is a 4xx page or JSON, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minsheng.appeals.choices import AppealType, Channel, Status
from minsheng.appeals.models import Category
from minsheng.appeals.views.console import queue_filter, queue_filter_form
from minsheng.core.errors import DomainError
from minsheng.org.models import User

from .. import export_jobs, exports, kpi, selectors
from ..errors import AnalyticsError
from ..forms import GRAINS, StatsFilterForm
from ..models import ExportStatus
from ..report import build_report
from ..selectors import Scope, StatsFilter

QUEUE = "console:queue"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error(request: HttpRequest, error: DomainError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            error.as_dict(), status=error.status, json_dumps_params={"ensure_ascii": False}
        )
    return render(
        request,
        "analytics/console/error.html",
        {"message": error.error.message, "code": error.code},
        status=error.status,
    )


def stats_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in, GET only, and every refusal of the selectors shown as its 4xx."""

    @login_required
    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as error:
            return _error(request, error)

    return wrapper


# ---------------------------------------------------------------- links and cells


def queue_link(f: StatsFilter, **extra: Any) -> str:
    """The console queue showing the appeals behind a figure (same filters, same period).

    ``counted=1``: like every figure, the queue then leaves out invalid and merged appeals.
    """
    params: dict[str, Any] = {
        "received_from": f.date_from.isoformat(),
        "received_to": f.date_to.isoformat(),
        "counted": "1",
    }
    if f.unit is not None and f.unit.depth >= 1:  # the queue's unit list starts below the city
        params["unit"] = f.unit.pk
    if f.place is not None and f.place.depth >= 1:
        params["place"] = f.place.pk
    if f.category is not None:
        params["category"] = f.category.pk
    if f.channel:
        params["channel"] = f.channel
    if f.appeal_type:
        params["type"] = f.appeal_type
    for key, value in extra.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return f"{reverse(QUEUE)}?{urlencode(params)}"


def stats_link(request: HttpRequest, name: str = "analytics:dashboard", **changes: Any) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = params.urlencode()
    return reverse(name) + (f"?{query}" if query else "")


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value}%"
    return str(value)


def kpi_cells(counters: kpi.Counters, f: StatsFilter) -> list[dict[str, Any]]:
    """A row's KPI cells with links: counts to their queue, rates to the received queue."""
    links = {
        "received": queue_link(f),
        "closed": queue_link(f, status=Status.CLOSED),
    }
    return [
        {
            "text": fmt(getattr(counters, name), kind),
            "url": links.get(name),
            "kind": kind,
        }
        for name, _label, kind, _sample in kpi.KPI_COLUMNS
    ]


def kpi_headers() -> list[str]:
    return [str(label) for _name, label, _kind, _sample in kpi.KPI_COLUMNS]


def sparkline(values: list[int], width: int = 96, height: int = 24) -> dict[str, Any]:
    """An inline SVG polyline (no JavaScript): points scaled into the box."""
    if not values:
        return {"points": "", "width": width, "height": height}
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return {"points": points, "width": width, "height": height}


def _chart(
    chart_id: str, kind: str, labels: list[str], series: list[dict[str, Any]], links: list[str]
) -> dict[str, Any]:
    return {"id": chart_id, "kind": kind, "labels": labels, "series": series, "links": links}


# ---------------------------------------------------------------- the filter


def _filter(request: HttpRequest) -> tuple[User, Scope, StatsFilter, StatsFilterForm]:
    user = _user(request)
    scope, f = selectors.parse_filter(user, request.GET)
    data = request.GET.copy()
    data.setdefault("from", f.date_from.isoformat())
    data.setdefault("to", f.date_to.isoformat())
    form = StatsFilterForm(
        data,
        units=selectors.units_in_scope(scope),
        categories=list(Category.objects.filter(is_active=True).order_by("code")),
    )
    return user, scope, f, form


def _grain(request: HttpRequest, f: StatsFilter) -> str:
    grain = request.GET.get("grain") or ""
    if grain in ("day", "week", "month"):
        return grain
    if grain:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"grain": grain[:10]})
    return "day" if f.days <= 31 else "week" if f.days <= 190 else "month"


# ---------------------------------------------------------------- dashboard


@stats_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user, scope, f, form = _filter(request)
    grain = _grain(request, f)
    trend = selectors.trend(scope, f, grain)
    totals = kpi.Counters.total(b.counters for b in trend)  # the buckets cover the period
    kinds = selectors.by_dimensions(scope, f, ("channel", "appeal_type"))
    channels, types = kinds["channel"], kinds["appeal_type"]
    categories = selectors.category_table(scope, f)
    places = selectors.unit_table(scope, f, axis="territory")
    units, months = selectors.unit_table_with_months(scope, f)
    open_now = selectors.open_by_status(user, f)
    overdue_count, overdue = selectors.overdue_now(user, f)

    trend_rows = [
        {
            "label": _bucket_label(b.start, b.end),
            "counters": b.counters,
            "url": queue_link(f, received_from=b.start.isoformat(), received_to=b.end.isoformat()),
            "closed_url": queue_link(
                f,
                received_from=b.start.isoformat(),
                received_to=b.end.isoformat(),
                status=Status.CLOSED,
            ),
        }
        for b in trend
    ]
    channel_rows = [
        {
            "key": c.value,
            "label": str(c.label),
            "counters": channels.get(c.value, kpi.Counters()),
            "url": queue_link(f, channel=c.value),
        }
        for c in Channel
    ]
    type_rows = [
        {
            "key": t.value,
            "label": str(t.label),
            "counters": types.get(t.value, kpi.Counters()),
            "url": queue_link(f, type=t.value),
        }
        for t in AppealType
    ]
    category_rows = [
        {
            "label": r.category.name if r.category else _("No category"),
            "counters": r.counters,
            "url": queue_link(f, category=r.category.pk) if r.category else None,
            "drill": stats_link(request, category=r.category.pk)
            if r.category and r.has_children
            else None,
        }
        for r in categories
    ]
    place_rows = [
        {
            "label": r.unit.name if r.unit else _("No place"),
            "counters": r.counters,
            "own": r.own_only,
            "drill": stats_link(request, place=r.unit.pk) if r.unit and not r.own_only else None,
        }
        for r in places
    ]
    unit_rows = [
        {
            "label": (r.unit.name if r.unit else _("Not dispatched (the center)")),
            "own": r.own_only,
            "cells": kpi_cells(
                r.counters,
                StatsFilter(**{**f.__dict__, "unit": r.unit}) if r.unit else f,
            ),
            "spark": sparkline(r.received_by_month),
            "spark_label": ", ".join(str(n) for n in r.received_by_month),
            "drill": stats_link(request, unit=r.unit.pk) if r.unit and not r.own_only else None,
        }
        for r in units
    ]
    funnel = [
        (_("Received"), totals.received, queue_link(f)),
        (_("Dispatched"), totals.dispatched, None),
        (_("Closed"), totals.closed, queue_link(f, status=Status.CLOSED)),
        (_("Rated"), totals.rated, None),
        (_("Satisfied"), totals.satisfied, None),
    ]
    open_rows = [
        (
            Status(s).label,
            n,
            queue_link(f, status=s, received_from=None, received_to=None),
        )
        for s, n in open_now.items()
    ]
    charts = [
        _chart(
            "chart-trend",
            "bar",
            [r["label"] for r in trend_rows],
            [
                {"name": _("Received"), "data": [r["counters"].received for r in trend_rows]},
                {"name": _("Closed"), "data": [r["counters"].closed for r in trend_rows]},
            ],
            [r["url"] for r in trend_rows],
        ),
        _chart(
            "chart-channel",
            "bar",
            [r["label"] for r in channel_rows],
            [{"name": _("Received"), "data": [r["counters"].received for r in channel_rows]}],
            [r["url"] for r in channel_rows],
        ),
        _chart(
            "chart-type",
            "pie",
            [r["label"] for r in type_rows],
            [{"name": _("Received"), "data": [r["counters"].received for r in type_rows]}],
            [r["url"] for r in type_rows],
        ),
        _chart(
            "chart-category",
            "bar",
            [r["label"] for r in category_rows],
            [{"name": _("Received"), "data": [r["counters"].received for r in category_rows]}],
            [r["url"] or "" for r in category_rows],
        ),
        _chart(
            "chart-place",
            "bar",
            [r["label"] for r in place_rows],
            [{"name": _("Received"), "data": [r["counters"].received for r in place_rows]}],
            [r["drill"] or "" for r in place_rows],
        ),
        _chart(
            "chart-funnel",
            "funnel",
            [str(label) for label, _n, _u in funnel],
            [{"name": _("Appeals"), "data": [n for _l, n, _u in funnel]}],
            [u or "" for _l, _n, u in funnel],
        ),
    ]
    return render(
        request,
        "analytics/console/dashboard.html",
        {
            "form": form,
            "f": f,
            "grain": grain,
            "grain_links": [
                (value, label, stats_link(request, grain=value)) for value, label in GRAINS
            ],
            "totals": totals,
            "summary": _summary(totals, f, overdue_count),
            "trend_rows": trend_rows,
            "channel_rows": channel_rows,
            "type_rows": type_rows,
            "category_rows": category_rows,
            "place_rows": place_rows,
            "unit_rows": unit_rows,
            "months": months,
            "kpi_headers": kpi_headers(),
            "funnel": funnel,
            "open_rows": open_rows,
            "overdue_count": overdue_count,
            "overdue": overdue,
            "overdue_url": queue_link(f, overdue="1", received_from=None, received_to=None),
            "charts": charts,
            "up_category": stats_link(request, category=f.category.parent_id)
            if f.category
            else None,
            "up_place": stats_link(request, place=_parent_in_scope(f.place, scope))
            if f.place
            else None,
            "up_unit": stats_link(request, unit=_parent_in_scope(f.unit, scope))
            if f.unit
            else None,
            "exports": {name: _export_link(request, name) for name in EXPORT_TABLES},
        },
    )


def _export_link(request: HttpRequest, table: str) -> str:
    query = request.GET.urlencode()
    return reverse("analytics:export", args=[table]) + (f"?{query}" if query else "")


def _parent_in_scope(unit: Any, scope: Scope) -> int | None:
    parent = unit.parent if unit is not None else None
    return parent.pk if parent is not None and scope.covers(parent) else None


def _bucket_label(start: date, end: date) -> str:
    if start == end:
        return start.isoformat()
    if start.day == 1 and (end.month != start.month or end.day >= 28) and start.month == end.month:
        return start.strftime("%Y-%m")
    return f"{start.isoformat()}~{end.strftime('%m-%d')}"


def _summary(totals: kpi.Counters, f: StatsFilter, overdue_count: int) -> list[dict[str, Any]]:
    return [
        {"label": _("Received"), "value": totals.received, "url": queue_link(f)},
        {
            "label": _("Closed"),
            "value": totals.closed,
            "url": queue_link(f, status=Status.CLOSED),
        },
        {"label": _("In progress"), "value": totals.in_progress, "url": None},
        {
            "label": _("Completion rate"),
            "value": fmt(totals.completion_rate, "percent"),
            "url": None,
        },
        {"label": _("On-time rate"), "value": fmt(totals.on_time_rate, "percent"), "url": None},
        {
            "label": _("Satisfaction rate"),
            "value": fmt(totals.satisfaction_rate, "percent"),
            "url": None,
        },
        {
            "label": _("Overdue now"),
            "value": overdue_count,
            "url": queue_link(f, overdue="1", received_from=None, received_to=None),
        },
    ]


# ---------------------------------------------------------------- leader view


@stats_view
def leader(request: HttpRequest) -> HttpResponse:
    """One screen for a leader: the headline figures, the months, the best and the worst."""
    user, scope, f, form = _filter(request)
    months = selectors.trend(scope, f, "month")
    totals = kpi.Counters.total(b.counters for b in months)  # the buckets cover the period
    overdue_count = selectors.overdue_now(user, f, limit=0)[0]
    red, black, ranking = selectors.red_black_lists(scope, f, size=5)
    return render(
        request,
        "analytics/console/leader.html",
        {
            "form": form,
            "f": f,
            "summary": _summary(totals, f, overdue_count),
            "sentence": kpi.report_sentence(totals, period=_("In the period")),
            "totals": totals,
            "red": red,
            "black": black,
            "ranking": ranking,
            "month_rows": [
                {
                    "label": _bucket_label(b.start, b.end),
                    "counters": b.counters,
                    "url": queue_link(
                        f, received_from=b.start.isoformat(), received_to=b.end.isoformat()
                    ),
                }
                for b in months
            ],
            "charts": [
                _chart(
                    "chart-months",
                    "line",
                    [_bucket_label(b.start, b.end) for b in months],
                    [
                        {"name": _("Received"), "data": [b.counters.received for b in months]},
                        {"name": _("Closed"), "data": [b.counters.closed for b in months]},
                    ],
                    [
                        queue_link(
                            f, received_from=b.start.isoformat(), received_to=b.end.isoformat()
                        )
                        for b in months
                    ],
                )
            ],
        },
    )


# ---------------------------------------------------------------- rankings


def _month(request: HttpRequest) -> tuple[date, date, str]:
    raw = request.GET.get("month") or selectors.today().strftime("%Y-%m")
    try:
        year, month = (int(part) for part in raw.split("-"))
    except ValueError as exc:
        raise DomainError(AnalyticsError.BAD_PERIOD, {"month": raw[:10]}) from exc
    first, last = selectors.month_period(year, month)
    return first, last, f"{year:04d}-{month:02d}"


@stats_view
def ranking(request: HttpRequest) -> HttpResponse:
    """Units ranked by a rate for a month; red and black lists (红榜 / 黑榜)."""
    user = _user(request)
    scope = selectors.require_scope(user)
    first, last, month = _month(request)
    metric = request.GET.get("metric") or "satisfaction_rate"
    f = StatsFilter(
        date_from=first, date_to=last, unit=selectors.unit_in_scope(scope, request.GET.get("unit"))
    )
    red, black, result = selectors.red_black_lists(scope, f, metric=metric, size=5)
    labels = {name: label for name, label, _k, _s in kpi.KPI_COLUMNS}
    return render(
        request,
        "analytics/console/ranking.html",
        {
            "month": month,
            "metric": metric,
            "metric_label": labels[metric],
            "metrics": [(name, labels[name]) for name in kpi.RANKABLE],
            "red": red,
            "black": black,
            "ranking": result,
            "f": f,
            "unit_id": f.unit.pk if f.unit else "",
            "units": selectors.units_in_scope(scope),
            "links": {
                r.unit.pk: queue_link(f, unit=r.unit.pk) for r in result.ranked + result.hidden
            },
            "handlers": selectors.handler_table(scope, f),
        },
    )


# ---------------------------------------------------------------- exports


EXPORT_TABLES = ("summary", "trend", "channels", "types", "categories", "places", "units")
EXPORT_TITLES = {
    "summary": "总体",
    "trend": "趋势",
    "channels": "按渠道",
    "types": "按类型",
    "categories": "按分类",
    "places": "按地区",
    "units": "按承办单位",
    "ranking": "排名",
    "handlers": "按承办人",
}


def _xlsx(file: Any, name: str) -> FileResponse:
    return FileResponse(file, as_attachment=True, filename=name, content_type=exports.XLSX)


@stats_view
def export_table(request: HttpRequest, table: str) -> HttpResponse:
    """One statistics table of the dashboard (same filter) as .xlsx."""
    if table not in EXPORT_TABLES:
        raise DomainError(AnalyticsError.BAD_PARAMETER, {"table": table[:20]})
    user, scope, f, _form = _filter(request)
    title = EXPORT_TITLES[table]
    rows: list[tuple[list[Any], kpi.Counters]]
    if table == "summary":
        headers, rows = ["范围"], [([f"{f.date_from}~{f.date_to}"], selectors.totals(scope, f))]
    elif table == "trend":
        grain = _grain(request, f)
        headers = ["开始", "结束"]
        rows = [([b.start, b.end], b.counters) for b in selectors.trend(scope, f, grain)]
    elif table == "channels":
        found = selectors.by_dimension(scope, f, "channel")
        headers = ["渠道"]
        rows = [([_zh(c.label)], found.get(c.value, kpi.Counters())) for c in Channel]
    elif table == "types":
        found = selectors.by_dimension(scope, f, "appeal_type")
        headers = ["类型"]
        rows = [([_zh(t.label)], found.get(t.value, kpi.Counters())) for t in AppealType]
    elif table == "categories":
        headers = ["分类"]
        rows = [
            ([r.category.name if r.category else "未分类"], r.counters)
            for r in selectors.category_table(scope, f)
        ]
    elif table == "places":
        headers = ["地区"]
        rows = [
            ([r.unit.name if r.unit else "未填地点"], r.counters)
            for r in selectors.unit_table(scope, f, axis="territory")
        ]
    else:
        headers = ["承办单位"]
        rows = [
            ([r.unit.name if r.unit else "中心直接办理"], r.counters)
            for r in selectors.unit_table(scope, f)
        ]
    return _xlsx(
        exports.table_file(title, headers, rows), f"{table}-{f.date_from}-{f.date_to}.xlsx"
    )


def _zh(label: Any) -> str:
    from django.utils import translation

    with translation.override("zh-hans"):
        return str(label)


def _queue_query(request: HttpRequest) -> str:
    """The queue's own query string (without its page cursor): the job's link back to it."""
    params = request.GET.copy()
    params.pop("cursor", None)
    return params.urlencode()


@login_required
@require_http_methods(["GET", "POST"])
def export_queue(request: HttpRequest) -> HttpResponse:
    """The console queue with the same filters (``/console/appeals/?…``) as .xlsx.

    GET: a small queue downloads at once; a larger one gets a page that offers a background
    job. POST (that page's form, same query string): creates the job (a state change, so never
    on a GET) and sends the user to their exports, where the file appears when it is written.
    """
    try:
        return _export_queue(request)
    except DomainError as error:
        return _error(request, error)


def _export_queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not export_jobs.may_export(user):
        raise DomainError(AnalyticsError.NO_ACCESS)
    form = queue_filter_form(request)
    data: dict[str, Any] = {}
    if form.is_bound:
        if not form.is_valid():
            raise DomainError(AnalyticsError.BAD_PARAMETER, {"fields": sorted(form.errors)})
        data = form.cleaned_data
    if data.get("received_from") and data.get("received_to"):
        selectors.check_period(data["received_from"], data["received_to"])
    filters = queue_filter(form, request)
    query = _queue_query(request)
    if request.method == "POST":
        job = export_jobs.create_job(owner=user, filters=filters, query=query)
        return redirect(f"{reverse('analytics:exports')}?job={job.pk}")
    if not export_jobs.fits_inline(user, filters):
        return render(
            request,
            "analytics/console/export_confirm.html",
            {
                "limit": settings.MINSHENG_EXPORT_INLINE_ROWS,
                "queue_url": f"{reverse(QUEUE)}?{query}" if query else reverse(QUEUE),
            },
        )
    result = export_jobs.export_inline(owner=user, filters=filters, query=query)
    return FileResponse(
        result.file, as_attachment=True, filename="appeals.xlsx", content_type=exports.XLSX
    )


@stats_view
def export_list(request: HttpRequest) -> HttpResponse:
    """The user's background exports: status, size, and a download link when done."""
    jobs = export_jobs.jobs_of(_user(request))
    pending = any(j.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for j in jobs)
    return render(
        request,
        "analytics/console/exports.html",
        {
            "jobs": [
                {
                    "job": j,
                    "queue_url": f"{reverse(QUEUE)}?{j.query}" if j.query else reverse(QUEUE),
                    "error": _(j.error) if j.error else "",
                    "new": str(j.pk) == request.GET.get("job"),
                }
                for j in jobs
            ],
            "pending": pending,
            "keep_days": settings.MINSHENG_EXPORT_KEEP_DAYS,
        },
    )


@stats_view
def export_download(request: HttpRequest, job_id: int) -> HttpResponse:
    """A finished background export, for its owner only (anyone else: 404), audited."""
    found = export_jobs.open_download(job_id=job_id, actor=_user(request))
    if found is None:
        raise Http404
    job, handle = found
    name = f"appeals-{timezone.localtime(job.created_at):%Y%m%d-%H%M}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=name, content_type=exports.XLSX)


@stats_view
def report_docx(request: HttpRequest) -> HttpResponse:
    """The annual or quarterly report for the city (center roles at the city only)."""
    scope = selectors.require_scope(_user(request))
    if not scope.everything:
        raise DomainError(AnalyticsError.NO_ACCESS)
    try:
        year = int(request.GET.get("year") or selectors.today().year)
        quarter = int(request.GET["quarter"]) if request.GET.get("quarter") else None
    except ValueError as exc:
        raise DomainError(AnalyticsError.BAD_PERIOD) from exc
    out = exports.spooled()
    build_report(year, quarter, output=out)
    out.seek(0)
    name = f"report-{year}" + (f"-Q{quarter}" if quarter else "") + ".docx"
    return FileResponse(
        out,
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
