"""Console page of the audit log (审计日志) for auditors: read-only, filtered, keyset-paginated.

Only auditors see it (anyone else gets a 404: the page does not exist for them). Nothing here
writes: the records are shown with phone and ID numbers masked, and the chain is verified on
request with ``core.audit.verify_chain``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from minsheng.org.permissions import can_view_audit_log

from . import audit
from .calendar import SHANGHAI
from .models import AuditRecord

PAGE_SIZE = 50
# Problems listed after a verification; the count is always complete.
SHOWN_PROBLEMS = 50


class AuditFilterForm(forms.Form):
    """The page's filters, all optional; bad values are a 400 with the field's message."""

    actor = forms.CharField(label=_("Actor (user name)"), max_length=150, required=False)
    action = forms.CharField(
        label=_("Action"),
        max_length=60,
        required=False,
        help_text=_("Exact, or a prefix ending in a dot (appeal.)"),
    )
    target_type = forms.CharField(label=_("Target type"), max_length=60, required=False)
    target_id = forms.CharField(label=_("Target id"), max_length=64, required=False)
    date_from = forms.DateField(
        label=_("From (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _filtered(data: dict[str, Any]) -> QuerySet[AuditRecord]:
    records = AuditRecord.objects.all()
    if data.get("actor"):
        records = records.filter(actor_label=data["actor"])
    if data.get("action"):
        action = data["action"]
        records = (
            records.filter(action__startswith=action)
            if action.endswith(".")
            else records.filter(action=action)
        )
    if data.get("target_type"):
        records = records.filter(target_type=data["target_type"])
    if data.get("target_id"):
        records = records.filter(target_id=data["target_id"])
    if data.get("date_from"):
        records = records.filter(at__gte=_local_midnight(data["date_from"]))
    if data.get("date_to"):
        records = records.filter(at__lt=_local_midnight(data["date_to"] + timedelta(days=1)))
    return records


def _cursor(raw: str | None) -> int | None:
    """The keyset cursor: show records with a smaller id. None: the newest page."""
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not can_view_audit_log(request.user):
        raise Http404
    form = AuditFilterForm(request.GET or None)
    status = 200
    rows: list[dict[str, Any]] = []
    next_url = ""
    try:
        before = _cursor(request.GET.get("before"))
    except ValueError:
        form.is_valid()
        form.add_error(None, _("The page link is not valid."))
        before = None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        records = _filtered(data)
        if before is not None:
            records = records.filter(id__lt=before)
        page = list(records.order_by("-id")[: PAGE_SIZE + 1])
        rows = [
            {
                "record": record,
                "data": json.dumps(audit.masked(record.data), ensure_ascii=False),
            }
            for record in page[:PAGE_SIZE]
        ]
        if len(page) > PAGE_SIZE:
            query = {k: v for k, v in request.GET.items() if k not in ("before", "verify")}
            query["before"] = str(page[PAGE_SIZE - 1].pk)
            next_url = f"?{urlencode(query)}"
    verification = None
    if request.GET.get("verify") == "1" and status == 200:
        problems = audit.verify_chain()
        shown = list(islice(problems, SHOWN_PROBLEMS))
        verification = {"ok": not shown, "problems": shown, "more": sum(1 for _p in problems)}
    return render(
        request,
        "core/console/audit.html",
        {
            "form": form,
            "rows": rows,
            "next_url": next_url,
            "first_url": ""
            if before is None
            else "?" + urlencode({k: v for k, v in request.GET.items() if k != "before"}),
            "verification": verification,
            "verify_url": "?" + urlencode({**request.GET.dict(), "verify": "1"}),
        },
        status=status,
    )
