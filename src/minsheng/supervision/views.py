"""Console pages of supervision: remind and order from the appeal page, the orders page.

Views parse input and call one service. An appeal or order outside the user's scope is a 404;
a refused action re-renders the page with the message and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minsheng.appeals.errors import AppealError
from minsheng.appeals.views.console import _render_detail, _visible_or_404
from minsheng.core.errors import DomainError
from minsheng.org.models import User

from . import selectors, services
from .errors import SupervisionError
from .forms import OrderForm, RemindForm, ResponseForm

NOT_FOUND = (AppealError.NOT_FOUND, SupervisionError.ORDER_NOT_FOUND)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required guards every view


@login_required
@require_POST
def remind(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """催办 by hand from the appeal's page."""
    user = _user(request)
    appeal = _visible_or_404(user, appeal_id)
    form = RemindForm(request.POST, auto_id="id_remind_%s")
    status = 422
    if form.is_valid():
        try:
            services.remind(appeal=appeal.pk, actor=user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            if error.error in NOT_FOUND:
                raise Http404 from None
            form.add_error(None, str(error.error.message))
            status = error.status
        else:
            messages.success(
                request, _("%(code)s: reminder sent.") % {"code": appeal.tracking_code}
            )
            return redirect("console:detail", appeal_id=appeal.pk)
    return _render_detail(request, appeal.pk, supervision_bound={"remind": form}, status=status)


@login_required
@require_POST
def supervise(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """督办 by hand from the appeal's page; a reason is required."""
    user = _user(request)
    appeal = _visible_or_404(user, appeal_id)
    form = OrderForm(request.POST, auto_id="id_supervise_%s")
    status = 422
    if form.is_valid():
        try:
            services.issue_order(appeal=appeal.pk, actor=user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            if error.error in NOT_FOUND:
                raise Http404 from None
            field = "reason" if error.details.get("field") == "reason" else None
            form.add_error(field, str(error.error.message))
            status = error.status
        else:
            messages.success(
                request,
                _("%(code)s: supervision order issued.") % {"code": appeal.tracking_code},
            )
            return redirect("console:detail", appeal_id=appeal.pk)
    return _render_detail(request, appeal.pk, supervision_bound={"supervise": form}, status=status)


def _orders_page(
    request: HttpRequest,
    *,
    bound: dict[int, ResponseForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    show_all = request.GET.get("all") == "1"
    rows = selectors.open_orders_page(user, include_answered=show_all)
    bound = bound or {}
    for row in rows:
        order = row["order"]
        row["form"] = bound.get(order.pk) or ResponseForm(auto_id=f"id_order{order.pk}_%s")
    return render(
        request,
        "appeals/console/supervision_orders.html",
        {"rows": rows, "show_all": show_all, "now": timezone.now()},
        status=status,
    )


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    """督办单: the leader's open orders to answer; the center's staff see those in scope."""
    return _orders_page(request)


@login_required
@require_POST
def respond(request: HttpRequest, order_id: int) -> HttpResponse:
    user = _user(request)
    if not selectors.orders_for(user).filter(pk=order_id).exists():
        raise Http404
    form = ResponseForm(request.POST, auto_id=f"id_order{order_id}_%s")
    status = 422
    if form.is_valid():
        try:
            order = services.respond(order=order_id, actor=user, text=form.cleaned_data["response"])
        except DomainError as error:
            if error.error in NOT_FOUND:
                raise Http404 from None
            form.add_error(None, str(error.error.message))
            status = error.status
        else:
            messages.success(
                request,
                _("%(code)s: supervision order answered.") % {"code": order.appeal.tracking_code},
            )
            return redirect("console:supervision_orders")
    return _orders_page(request, bound={order_id: form}, status=status)
