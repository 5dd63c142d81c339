"""Console pages of the bell: the user's notifications, newest first; mark read (POST)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from minsheng.org.models import User

from . import services
from .models import Notification

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required guards every view


def _cursor(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """Keyset-paged by id, the recipient's own only (the index on recipient, -id)."""
    user = _user(request)
    rows = Notification.objects.filter(recipient=user).select_related("appeal")
    before = _cursor(request.GET.get("before"))
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows.order_by("-pk")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    next_url = f"{reverse('console:notifications')}?before={page[-1].pk}" if more and page else None
    return render(
        request,
        "appeals/console/notifications_list.html",
        {"notifications": page, "next_url": next_url, "unread": services.unread_count(user)},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    user = _user(request)
    if not Notification.objects.filter(pk=notification_id, recipient=user).exists():
        raise Http404
    services.mark_read(user=user, notification_id=notification_id)
    return HttpResponseRedirect(reverse("console:notifications"))


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    services.mark_read(user=_user(request))
    return HttpResponseRedirect(reverse("console:notifications"))
