"""The public transparency page (``/stats/``): the city's figures, no personal data at all.

Only counts and rates from the rollups are shown: no names, phones, addresses or texts, and no
unit below a township, so no single appeal can be recognised.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import kpi, selectors


def _figures(first: Any, last: Any) -> dict[str, Any]:
    totals, places = selectors.public_figures(first, last)
    return {
        "first": first,
        "last": last,
        "totals": totals,
        "places": [(row.unit.name, row.counters) for row in places if row.unit is not None],
    }


@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    today = selectors.today()
    return render(
        request,
        "analytics/portal/stats.html",
        {
            "year": _figures(today.replace(month=1, day=1), today),
            "month": _figures(today.replace(day=1), today),
            "today": today,
            "min_sample": kpi.min_sample(),
        },
    )
