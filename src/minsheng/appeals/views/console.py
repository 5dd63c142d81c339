"""Staff console (``/console/``): role-aware home, queue, appeal detail, hotline intake.

Views parse input and call one service; every read starts at ``selectors.appeals_for(user)``,
so an appeal outside the user's scope is a 404. A refused action re-renders the page with the
translated message next to its field and changes nothing (the services are atomic).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from minsheng.core.errors import DomainError
from minsheng.core.idempotency import run_once
from minsheng.org.choices import UNIT_ROLES, Role
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import posts_of, roles_of, subtree_q, territory_units

from .. import permissions, presenters, reference, selectors, services
from ..choices import Action, AppealType, Channel, Status, Urgency
from ..errors import AppealError
from ..forms.console import (
    ACTION_BUTTONS,
    ACTION_FORMS,
    ERROR_FIELDS,
    ActionForm,
    BulkDispatchForm,
    IntakeForm,
    PhoneLookupForm,
    QueueFilterForm,
    RevealForm,
)
from ..models import Appeal, Category

R = Role
# Statuses whose completion clock runs while someone has to act: "due soon" and "overdue" count
# these. Suspended appeals have a stopped clock; replied ones wait for review, not for the unit.
RUNNING = selectors.RUNNING
DISPATCH_ROLES = frozenset({R.DISPATCHER, R.CENTER_ADMIN})
REVIEW_ROLES = frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN})
CALLBACK_ROLES = frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.CENTER_ADMIN})
DIRECT_CLOSE_ROLES = permissions.CENTER_ACTIONS[Action.DIRECT_CLOSE]
PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required guards every view


def _intake_channels(user: User) -> list[tuple[str, Any]]:
    allowed: set[str] = set()
    for post in posts_of(user):
        if post.role != R.INTEGRATION:
            allowed |= permissions.INTAKE_CHANNELS.get(Role(post.role), frozenset())
    return [(value, label) for value, label in Channel.choices if value in allowed]


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    user = _user(request)
    context.setdefault("nav_may_intake", bool(_intake_channels(user)))
    return render(request, template, context, status=status)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return default


def _attach_error(form: Form, error: DomainError) -> None:
    """The service's translated message next to the field it names, else above the form."""
    field = error.details.get("field") or ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, str(error.error.message))


# ---------------------------------------------------------------- home


@dataclass(frozen=True)
class Tile:
    key: str
    label: Any
    query: dict[str, str]
    roles: frozenset[str] | None  # None: everyone


TILES = [
    Tile(
        "to_dispatch",
        gettext_lazy("Waiting for dispatch"),
        {"status": Status.RECEIVED},
        DISPATCH_ROLES,
    ),
    Tile("to_accept", gettext_lazy("To accept"), {"status": Status.DISPATCHED}, UNIT_ROLES),
    Tile("in_progress", gettext_lazy("In progress"), {"status": Status.IN_PROGRESS}, None),
    Tile("due_24h", gettext_lazy("Due within 24 hours"), {"due": "24h"}, None),
    Tile("overdue", gettext_lazy("Overdue"), {"overdue": "1"}, None),
    Tile(
        "returned",
        gettext_lazy("Returns awaiting review"),
        {"status": Status.RETURNED},
        DISPATCH_ROLES,
    ),
    Tile(
        "replied",
        gettext_lazy("Replies awaiting review"),
        {"status": Status.REPLIED},
        REVIEW_ROLES,
    ),
    Tile("unrated", gettext_lazy("Closed, not yet rated"), {"unrated": "1"}, CALLBACK_ROLES),
]


def home_counts(user: User, keys: list[str], now: datetime) -> dict[str, int]:
    """The home page's figures in ONE aggregate query over the user's scope."""
    if not keys:
        return {}
    filters = selectors.attention_filters(now)
    return selectors.appeals_for(user).aggregate(
        **{key: Count("pk", filter=filters[key]) for key in keys}
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    roles = roles_of(user)
    tiles = [t for t in TILES if t.roles is None or roles & t.roles] if roles else []
    counts = home_counts(user, [t.key for t in tiles], timezone.now())
    queue_url = reverse("console:queue")
    return _page(
        request,
        "appeals/console/home.html",
        {
            "tiles": [
                {
                    "key": t.key,
                    "label": t.label,
                    "count": counts[t.key],
                    "url": f"{queue_url}?{urlencode(t.query)}",
                }
                for t in tiles
            ],
            "roles": [Role(r).label for r in sorted(roles)],
        },
    )


# ---------------------------------------------------------------- queue


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _queue_filter(data: dict[str, Any], query: Any) -> selectors.QueueFilter:
    received_to = data.get("received_to")
    return selectors.QueueFilter(
        # the home page's shortcuts
        due_24h=query.get("due") == "24h",
        overdue=query.get("overdue") == "1",
        unrated=query.get("unrated") == "1",
        status=[data["status"]] if data.get("status") else [],
        unit=data.get("unit"),
        channel=[data["channel"]] if data.get("channel") else [],
        appeal_type=[data["type"]] if data.get("type") else [],
        category=data.get("category"),
        received_from=_day_start(data["received_from"]) if data.get("received_from") else None,
        # The "to" date is inclusive: everything before the next day's midnight.
        received_to=_day_start(received_to + timedelta(days=1)) if received_to else None,
        text=data.get("q") or "",
    )


def _units() -> list[OrgUnit]:
    return list(OrgUnit.objects.filter(is_active=True).order_by("path"))


def _categories() -> list[Category]:
    return list(Category.objects.filter(is_active=True).order_by("code"))


def _row(appeal: Appeal, now: datetime) -> dict[str, Any]:
    item = presenters.list_item(appeal)  # masks the name and phone
    item.update(
        status_label=appeal.get_status_display(),
        type_label=appeal.get_appeal_type_display(),
        overdue=appeal.status in RUNNING and appeal.due_at is not None and appeal.due_at < now,
        dispatchable=appeal.status == Status.RECEIVED,
    )
    return item


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    units = _units()
    form = QueueFilterForm(request.GET or None, units=units, categories=_categories())
    if form.is_bound:
        form.is_valid()  # invalid fields are shown with their error and left out of the filter
        data = form.cleaned_data
    else:
        data = {}
    filters = _queue_filter(data, request.GET)
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.queue(user, filters, cursor=cursor, limit=PAGE_SIZE)
    except DomainError:  # a mangled cursor: start from the top
        page = selectors.queue(user, filters, limit=PAGE_SIZE)
    now = timezone.now()
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["cursor"] = page.next_cursor
        next_url = f"{request.path}?{params.urlencode()}"
    first_params = request.GET.copy()
    first_params.pop("cursor", None)
    may_dispatch = bool(roles_of(user) & DISPATCH_ROLES)
    return _page(
        request,
        "appeals/console/queue.html",
        {
            "form": form,
            "rows": [_row(a, now) for a in page.items],
            "next_url": next_url,
            "first_url": f"{request.path}?{first_params.urlencode()}" if cursor else None,
            "shortcuts": filters,  # due_24h / overdue / unrated flags
            "may_dispatch": may_dispatch,
            "bulk_form": BulkDispatchForm(units=units, auto_id="bulk_%s") if may_dispatch else None,
            "here": request.get_full_path(),
        },
    )


@login_required
@require_POST
def bulk_dispatch(request: HttpRequest) -> HttpResponse:
    """派单 for many: one service call per appeal the user can see, each reported."""
    user = _user(request)
    back = _safe_next(request, reverse("console:queue"))
    form = BulkDispatchForm(request.POST, units=_units())
    if not form.is_valid():
        messages.error(request, _("Select at least one appeal and a valid unit."))
        return HttpResponseRedirect(back)
    ids = form.cleaned_data["ids"]
    unit = form.cleaned_data["unit"]
    visible = dict(
        selectors.appeals_for(user).filter(pk__in=ids).values_list("pk", "tracking_code")
    )
    for pk in ids:
        code = visible.get(pk)
        if code is None:
            messages.error(request, _("#%(id)s: no such appeal.") % {"id": pk})
            continue
        try:
            event = services.dispatch_appeal(appeal=pk, actor=user, unit=unit)
        except DomainError as error:
            messages.error(
                request,
                _("%(code)s: not dispatched. %(message)s")
                % {"code": code, "message": error.error.message},
            )
        else:
            messages.success(
                request,
                _("%(code)s: dispatched to %(unit)s.")
                % {"code": code, "unit": event.unit.name if event.unit else ""},
            )
    return HttpResponseRedirect(back)


# ---------------------------------------------------------------- detail and actions


def _form_units(name: str, appeal: Appeal) -> list[OrgUnit]:
    if name in (Action.DISPATCH, Action.REDISPATCH):
        return list(OrgUnit.objects.filter(is_active=True, parent__isnull=False).order_by("path"))
    if name == Action.TRANSFER and appeal.lead_unit_id is not None:
        lead = appeal.lead_unit
        return list(
            OrgUnit.objects.filter(is_active=True, path__startswith=lead.path)
            .exclude(pk=lead.pk)
            .order_by("path")
        )
    return []


def _action_form(name: str, appeal: Appeal, data: Any = None) -> ActionForm:
    return ACTION_FORMS[name](data, auto_id=f"id_{name}_%s", units=_form_units(name, appeal))


def _deadline(label: str, at: datetime | None, running: bool, now: datetime) -> dict[str, Any]:
    return {
        "label": label,
        "at": at,
        "running": running and at is not None,
        "overdue": running and at is not None and at < now,
    }


def _render_detail(
    request: HttpRequest,
    appeal_id: int,
    *,
    bound: dict[str, ActionForm] | None = None,
    revealed: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    try:
        appeal = selectors.appeal_detail(user, appeal_id)
    except DomainError:
        raise Http404 from None
    data = presenters.detail(user, appeal)
    bound = bound or {}
    forms = [
        {
            "name": name,
            "title": Action(name).label,
            "button": ACTION_BUTTONS[name],
            "form": bound.get(name) or _action_form(name, appeal),
            "url": reverse("console:act", args=[appeal.pk, name]),
        }
        for name in data["allowed_actions"]
    ]
    for name, form in bound.items():
        if name not in data["allowed_actions"]:  # refused because it is no longer possible
            notice = " ".join(str(e) for errors in form.errors.values() for e in errors)
    now = timezone.now()
    events = [
        {
            **event,
            "to_label": Status(event["to_status"]).label if event["to_status"] else "",
            "actor_label": event["actor"]
            or (_("Citizen") if event["actor_kind"] == "citizen" else _("System")),
        }
        for event in data["events"]
    ]
    co_units = [a.unit for a in appeal.assignments.all() if a.active and a.role == "co"]
    return _page(
        request,
        "appeals/console/detail.html",
        {
            "appeal": appeal,
            "data": data,
            "events": events,
            "co_units": co_units,
            "deadlines": [
                _deadline(
                    _("Accept by"), appeal.accept_due_at, appeal.status == Status.DISPATCHED, now
                ),
                _deadline(_("Complete by"), appeal.due_at, appeal.status in RUNNING, now),
            ],
            "action_forms": forms,
            "may_reveal": permissions.may_see_unmasked(user, appeal),
            "reveal_form": RevealForm(auto_id="id_reveal_%s"),
            "revealed": revealed,
            "notice": notice,
        },
        status=status,
    )


@login_required
def detail(request: HttpRequest, appeal_id: int) -> HttpResponse:
    return _render_detail(request, appeal_id)


def _visible_or_404(user: User, appeal_id: int) -> Appeal:
    appeal = selectors.appeals_for(user).select_related("lead_unit").filter(pk=appeal_id).first()
    if appeal is None:
        raise Http404
    return appeal


def _merge_target(user: User, raw: str) -> Appeal:
    text = services.normalize_tracking_code(raw)
    match = Q(tracking_code=text)
    if text.isdigit() and len(text) < 16:
        match |= Q(pk=int(text))
    found = selectors.appeals_for(user).filter(match).first()
    if found is None:
        raise DomainError(AppealError.NOT_FOUND, {"field": "into"})
    return found


_SOLVED = {"yes": True, "no": False}
Run = Callable[[Appeal, User, dict[str, Any]], Any]
RUNS: dict[str, Run] = {
    Action.ACCEPT: lambda a, u, d: services.accept_appeal(appeal=a, actor=u),
    Action.RETURN: lambda a, u, d: services.return_appeal(appeal=a, actor=u, reason=d["reason"]),
    Action.TRANSFER: lambda a, u, d: services.transfer_appeal(
        appeal=a, actor=u, unit=d["unit"], note=d["note"]
    ),
    Action.REQUEST_EXTENSION: lambda a, u, d: services.request_extension(
        appeal=a, actor=u, amount=d["amount"], unit=d["time_unit"], reason=d["reason"]
    ),
    Action.SUSPEND: lambda a, u, d: services.suspend_appeal(appeal=a, actor=u, reason=d["reason"]),
    Action.RESUME: lambda a, u, d: services.resume_appeal(appeal=a, actor=u, note=d["note"]),
    Action.REPLY: lambda a, u, d: services.reply_appeal(appeal=a, actor=u, reply=d["reply"]),
    Action.DISPATCH: lambda a, u, d: services.dispatch_appeal(
        appeal=a, actor=u, unit=d["unit"], note=d["note"]
    ),
    Action.REDISPATCH: lambda a, u, d: services.redispatch_appeal(
        appeal=a, actor=u, unit=d["unit"], reason=d["reason"]
    ),
    Action.APPROVE_RETURN: lambda a, u, d: services.approve_return(
        appeal=a, actor=u, note=d["note"]
    ),
    Action.REJECT_RETURN: lambda a, u, d: services.reject_return(
        appeal=a, actor=u, reason=d["reason"]
    ),
    Action.APPROVE_EXTENSION: lambda a, u, d: services.approve_extension(
        appeal=a, actor=u, note=d["note"]
    ),
    Action.REFUSE_EXTENSION: lambda a, u, d: services.refuse_extension(
        appeal=a, actor=u, reason=d["reason"]
    ),
    Action.APPROVE_REPLY: lambda a, u, d: services.approve_reply(appeal=a, actor=u, note=d["note"]),
    Action.REWORK: lambda a, u, d: services.rework_appeal(appeal=a, actor=u, reason=d["reason"]),
    Action.RATE: lambda a, u, d: services.rate_appeal(
        appeal=a,
        actor=u,
        rating=d["rating"],
        solved=_SOLVED.get(d["solved"]),
        comment=d["comment"],
    ),
    Action.DIRECT_CLOSE: lambda a, u, d: services.direct_close_appeal(
        appeal=a, actor=u, reply=d["reply"]
    ),
    Action.INVALIDATE: lambda a, u, d: services.invalidate_appeal(
        appeal=a, actor=u, reason=d["reason"]
    ),
    Action.MERGE: lambda a, u, d: services.merge_appeal(
        appeal=a, actor=u, into=_merge_target(u, d["into"]), reason=d["reason"]
    ),
    Action.SUPPLEMENT: lambda a, u, d: services.add_supplement(appeal=a, actor=u, text=d["text"]),
}


@login_required
@require_POST
def act(request: HttpRequest, appeal_id: int, name: str) -> HttpResponse:
    """One action from the detail page: parse the form, call the service, report."""
    if name not in RUNS:
        raise Http404
    user = _user(request)
    appeal = _visible_or_404(user, appeal_id)
    form = _action_form(name, appeal, request.POST)
    status = 422
    if form.is_valid():
        try:
            RUNS[name](appeal, user, form.cleaned_data)
        except DomainError as error:
            if error.error is AppealError.NOT_FOUND and error.details.get("field") != "into":
                raise Http404 from None
            _attach_error(form, error)
            status = 422 if error.details.get("field") == "into" else error.status
        else:
            messages.success(
                request,
                _("%(code)s: %(action)s.")
                % {"code": appeal.tracking_code, "action": Action(name).label},
            )
            return redirect("console:detail", appeal_id=appeal.pk)
    return _render_detail(request, appeal.pk, bound={name: form}, status=status)


@login_required
@require_POST
def reveal(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """查看联系方式: shown on this response only, never stored in the page's URL; audited."""
    user = _user(request)
    appeal = _visible_or_404(user, appeal_id)
    form = RevealForm(request.POST)
    purpose = form.cleaned_data["purpose"] if form.is_valid() else ""
    try:
        contact = services.reveal_contact(appeal=appeal.pk, actor=user, purpose=purpose)
    except DomainError as error:
        if error.error is AppealError.NOT_FOUND:
            raise Http404 from None
        return _render_detail(
            request, appeal.pk, notice=str(error.error.message), status=error.status
        )
    response = _render_detail(request, appeal.pk, revealed=contact)
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- hotline intake


def _places(user: User) -> list[OrgUnit]:
    """Places the user may register appeals for: all under a root post, else their subtrees."""
    intake_posts = [p for p in posts_of(user) if Role(p.role) in permissions.INTAKE_CHANNELS]
    places = territory_units().order_by("path")
    if not any(p.unit_path.count("/") == 2 for p in intake_posts):
        places = places.filter(subtree_q([p.unit_path for p in intake_posts], "path"))
    return list(places)


def _phone_digits(raw: str) -> str:
    try:
        return services.normalize_phone(raw) if raw.strip() else ""
    except DomainError:
        return ""


def _suggestion(category_id: int | None, territory_id: int | None) -> dict[str, Any] | None:
    if category_id is None:
        return None
    category = reference.active_category(category_id)
    if category is None:
        return None
    territory = reference.active_territory(territory_id) if territory_id else None
    return {"unit": reference.suggest_unit(category=category, territory=territory)}


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """受理: the hotline agent's screen; "Register" or "Register and close directly"."""
    user = _user(request)
    channels = _intake_channels(user)
    if not channels:
        raise PermissionDenied
    options = {"channels": channels, "categories": _categories(), "places": _places(user)}
    values = [value for value, _label in channels]
    default_channel = Channel.HOTLINE if Channel.HOTLINE in values else values[0]
    status = 200
    suggestion = None
    if request.method == "POST":
        form = IntakeForm(request.POST, **options)
        intent = request.POST.get("intent", "register")
        if form.is_valid():
            data = form.cleaned_data
            suggestion = _suggestion(data["category"], data["territory"])
            if intent in ("register", "close"):
                outcome = _register(request, user, data, close=intent == "close")
                if isinstance(outcome, HttpResponse):
                    return outcome
                _attach_error(form, outcome)
                status = outcome.status
        else:
            status = 422
        phone = _phone_digits(request.POST.get("phone", ""))
    else:
        lookup_phone = request.GET.get("phone", "")
        form = IntakeForm(
            initial={
                "phone": lookup_phone,
                "channel": default_channel,
                "appeal_type": AppealType.COMPLAINT,
                "urgency": Urgency.NORMAL,
                "key": secrets.token_urlsafe(16),
            },
            **options,
        )
        phone = _phone_digits(lookup_phone)
    lookup = PhoneLookupForm(
        initial={"phone": request.GET.get("phone", "") or request.POST.get("phone", "")},
        auto_id="lookup_%s",
    )
    if request.method == "POST" or phone:  # the agent is past the phone number: no jump back
        lookup.fields["phone"].widget.attrs.pop("autofocus", None)
    history = selectors.caller_history(user, phone) if phone else []
    return _page(
        request,
        "appeals/console/intake.html",
        {
            "lookup": lookup,
            "form": form,
            "phone": phone,
            "history": [_row(a, timezone.now()) for a in history],
            "suggestion": suggestion,
            "may_close": bool(roles_of(user) & DIRECT_CLOSE_ROLES),
        },
        status=status,
    )


def _register(
    request: HttpRequest, user: User, data: dict[str, Any], *, close: bool
) -> HttpResponse | DomainError:
    """Submit (and close) once per form key, however often the form is sent."""

    def run() -> tuple[int, dict[str, Any]]:
        category = reference.active_category(data["category"]) if data["category"] else None
        if data["category"] and category is None:
            raise DomainError(AppealError.UNKNOWN_CATEGORY, {"field": "category"})
        territory = reference.active_territory(data["territory"]) if data["territory"] else None
        if data["territory"] and territory is None:
            raise DomainError(AppealError.UNKNOWN_TERRITORY, {"field": "territory"})
        appeal = services.submit_appeal(
            actor=user,
            channel=data["channel"],
            appeal_type=data["appeal_type"],
            urgency=data["urgency"],
            content=data["content"],
            phone=data["phone"],
            name=data["name"],
            anonymous=data["anonymous"],
            category=category,
            territory=territory,
            address=data["address"],
        )
        if close:
            services.direct_close_appeal(appeal=appeal, actor=user, reply=data["reply"])
        return 201, {"id": appeal.pk, "tracking_code": appeal.tracking_code, "closed": close}

    payload = {k: v for k, v in data.items() if k != "key"} | {"close": close}
    try:
        outcome = run_once(scope=f"console:{user.pk}", key=data["key"], payload=payload, run=run)
    except DomainError as error:
        return error
    body = outcome.body
    if outcome.replayed:
        messages.info(request, _("This form was already sent; here is the appeal it registered."))
    elif body["closed"]:
        messages.success(
            request,
            _("Registered and closed: %(code)s.") % {"code": body["tracking_code"]},
        )
    else:
        messages.success(request, _("Registered: %(code)s.") % {"code": body["tracking_code"]})
    return redirect("console:detail", appeal_id=body["id"])
