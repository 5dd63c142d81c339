"""Staff console (``/console/``): role-aware home, queue, appeal detail, hotline intake.

Views parse input and call one service; every read starts at ``selectors.appeals_for(user)``,
so an appeal outside the user's scope is a 404. A refused action re-renders the page with the
translated message next to its field and changes nothing (the services are atomic).
"""

from __future__ import annotations

import operator
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import reduce
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
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
from django.views.decorators.http import require_GET, require_POST

from minsheng.analytics.export_jobs import may_export
from minsheng.core import ratelimit
from minsheng.core.errors import DomainError
from minsheng.core.idempotency import run_once
from minsheng.notify import services as notify_services
from minsheng.org.choices import UNIT_ROLES, Role
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import posts_of, roles_of, subtree_q, territory_units
from minsheng.ui import drafts
from minsheng.ui.drafts import login_required_keeping_post

from .. import permissions, presenters, reference, selectors, services
from ..choices import OPEN_STATUSES, Action, AppealType, Channel, Status, Urgency
from ..errors import AppealError
from ..forms.console import (
    ACTION_BUTTONS,
    ACTION_FORMS,
    ERROR_FIELDS,
    QUEUE_SORTS,
    ActionForm,
    BulkDispatchForm,
    IntakeForm,
    QueueFilterForm,
    RevealForm,
)
from ..models import Appeal, Category

# Files kept server-side across a refused form, as on the portal.
from .uploads import Uploads, collect_uploads
from .uploads import error_message as upload_message

R = Role
# Statuses whose completion clock runs while someone has to act: "due soon" and "overdue" count
# these. Suspended appeals have a stopped clock; replied ones wait for review, not for the unit.
RUNNING = selectors.RUNNING
DISPATCH_ROLES = frozenset({R.DISPATCHER, R.CENTER_ADMIN})
REVIEW_ROLES = frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN})
CALLBACK_ROLES = frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.CENTER_ADMIN})
DIRECT_CLOSE_ROLES = permissions.CENTER_ACTIONS[Action.DIRECT_CLOSE]
PAGE_SIZE = 50
# Caller look-ups per staff account per minute: typing one number makes a few (the page waits
# for a pause in typing); a look-up reveals someone's history, so a script may not page through.
CALLER_LOOKUP_RATE = 30
# Service refusals about files: shown under the file input, not next to a form field.
UPLOAD_ERRORS = frozenset(
    {
        AppealError.TOO_MANY_ATTACHMENTS.code,
        AppealError.UNKNOWN_UPLOAD.code,
        AppealError.ATTACHMENT_TYPE.code,
        AppealError.ATTACHMENT_TOO_LARGE.code,
        AppealError.ATTACHMENT_CORRUPT.code,
    }
)


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


def _attach_error(form: Form, error: DomainError, uploads: Uploads | None = None) -> None:
    """The service's translated message next to the field it names, else above the form."""
    if uploads is not None and error.code in UPLOAD_ERRORS:
        uploads.errors.append(upload_message(error))
        return
    field = error.details.get("field") or ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, str(error.error.message))


def _upload_context(uploads: Uploads | None) -> dict[str, Any]:
    """What ``appeals/portal/_photos.html`` (the file input shared with the portal) needs."""
    return {
        "uploads": uploads or Uploads(),
        "max_photos": settings.MINSHENG_ATTACHMENTS_PER_APPEAL,
        "max_megabytes": settings.MINSHENG_ATTACHMENT_MAX_BYTES // (1024 * 1024),
    }


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


# The one figure about closed appeals (the 回访 worklist); every other tile counts open ones.
CLOSED_TILES = frozenset({"unrated"})


def home_counts(user: User, keys: list[str], now: datetime) -> dict[str, int]:
    """The home page's figures in at most two aggregate queries over the user's scope.

    The open tiles are counted among the open appeals only (``status IN open``): PostgreSQL
    then answers from ``appeal_status_due`` alone (an index-only scan), where an OR of the
    tiles' conditions made it fetch every open appeal's row (the dispatcher at 10M appeals:
    85 → 14 ms SQL). The callback tile is a plain count, which its partial index answers.
    """
    filters = selectors.attention_filters(now)
    scope = selectors.appeals_for(user)
    counts: dict[str, int] = {}
    for within, group in (
        (Q(status__in=sorted(OPEN_STATUSES)), [k for k in keys if k not in CLOSED_TILES]),
        (None, [k for k in keys if k in CLOSED_TILES]),
    ):
        if not group:
            continue
        # The open appeals are read whole (the index holds them all); an OR of the tiles'
        # conditions would send PostgreSQL to the table's rows instead.
        rows = scope.filter(within or reduce(operator.or_, (filters[key] for key in group)))
        if len(group) == 1:  # a plain COUNT(*): the partial index answers it without the table
            counts[group[0]] = rows.count()
        else:
            counts.update(
                rows.aggregate(**{key: Count("pk", filter=filters[key]) for key in group})
            )
    return counts


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
        counted=query.get("counted") == "1",  # the statistics' figures link with it
        place=data.get("place"),
        status=[data["status"]] if data.get("status") else [],
        unit=data.get("unit"),
        channel=[data["channel"]] if data.get("channel") else [],
        appeal_type=[data["type"]] if data.get("type") else [],
        category=data.get("category"),
        received_from=_day_start(data["received_from"]) if data.get("received_from") else None,
        # The "to" date is inclusive: everything before the next day's midnight.
        received_to=_day_start(received_to + timedelta(days=1)) if received_to else None,
        text=data.get("q") or "",
        sort=data.get("sort") or "newest",
    )


def _units() -> list[OrgUnit]:
    return list(OrgUnit.objects.filter(is_active=True).order_by("path"))


def _categories() -> list[Category]:
    return list(Category.objects.filter(is_active=True).order_by("code"))


def _row(appeal: Appeal, now: datetime, yellow: Collection[int] = ()) -> dict[str, Any]:
    item = presenters.list_item(appeal)  # masks the name and phone
    overdue = appeal.status in RUNNING and appeal.due_at is not None and appeal.due_at < now
    item.update(
        status_label=appeal.get_status_display(),
        type_label=appeal.get_appeal_type_display(),
        overdue=overdue,
        # 黄牌: most of a time limit used (the supervision sweep's warning), not yet overdue
        warning=not overdue and appeal.pk in yellow,
        dispatchable=appeal.status == Status.RECEIVED,
    )
    return item


def queue_filter_form(request: HttpRequest, units: list[OrgUnit] | None = None) -> QueueFilterForm:
    """The queue's filter form bound to the query string (also the queue export's filters)."""
    if units is None:
        units = _units()
    return QueueFilterForm(request.GET or None, units=units, categories=_categories())


def queue_filter(form: QueueFilterForm, request: HttpRequest) -> selectors.QueueFilter:
    """The filter a (validated) queue form and the home page's shortcuts ask for."""
    return _queue_filter(form.cleaned_data if form.is_bound else {}, request.GET)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    units = _units()
    form = queue_filter_form(request, units)
    if form.is_bound:
        form.is_valid()  # invalid fields are shown with their error and left out of the filter
    filters = queue_filter(form, request)
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.queue(user, filters, cursor=cursor, limit=PAGE_SIZE)
    except DomainError:  # a mangled cursor: start from the top
        page = selectors.queue(user, filters, limit=PAGE_SIZE)
    from minsheng.supervision.selectors import yellow_warned

    now = timezone.now()
    yellow = yellow_warned(a.pk for a in page.items)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["cursor"] = page.next_cursor
        next_url = f"{request.path}?{params.urlencode()}"
    first_params = request.GET.copy()
    first_params.pop("cursor", None)
    may_dispatch = bool(roles_of(user) & DISPATCH_ROLES)
    # The export reads the same parameters (not the cursor: it holds every page); a filter with
    # an error would be refused there, so the link waits until the form is corrected.
    export_url = None
    if may_export(user) and not form.errors:
        export_url = reverse("analytics:export_queue")
        if first_params:
            export_url += f"?{first_params.urlencode()}"
    return _page(
        request,
        "appeals/console/queue.html",
        {
            "form": form,
            "rows": [_row(a, now, yellow) for a in page.items],
            "next_url": next_url,
            "first_url": f"{request.path}?{first_params.urlencode()}" if cursor else None,
            "shortcuts": filters,  # due_24h / overdue / unrated flags
            "sort_label": dict(QUEUE_SORTS)[filters.sort],
            "may_dispatch": may_dispatch,
            "bulk_form": BulkDispatchForm(units=units, auto_id="bulk_%s") if may_dispatch else None,
            "here": request.get_full_path(),
            "export_url": export_url,
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
        for error in form.errors.get("co_units", []):
            messages.error(request, error)
        if "co_units" not in form.errors or len(form.errors) > 1:
            messages.error(request, _("Select at least one appeal and a valid unit."))
        return HttpResponseRedirect(back)
    ids = form.cleaned_data["ids"]
    unit = form.cleaned_data["unit"]
    co_units = form.cleaned_data["co_units"]
    visible = dict(
        selectors.appeals_for(user).filter(pk__in=ids).values_list("pk", "tracking_code")
    )
    for pk in ids:
        code = visible.get(pk)
        if code is None:
            messages.error(request, _("#%(id)s: no such appeal.") % {"id": pk})
            continue
        try:
            event = services.dispatch_appeal(appeal=pk, actor=user, unit=unit, co_units=co_units)
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


def _dispatch_units() -> list[OrgUnit]:
    """Units an appeal may be dispatched to (lead or co-unit): active, below the root."""
    return list(OrgUnit.objects.filter(is_active=True, parent__isnull=False).order_by("path"))


def _form_units(name: str, appeal: Appeal) -> list[OrgUnit]:
    if name in (Action.DISPATCH, Action.REDISPATCH):
        return _dispatch_units()
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
    uploads: Uploads | None = None,
    status: int = 200,
    supervision_bound: dict[str, Form] | None = None,
) -> HttpResponse:
    from minsheng.supervision.selectors import detail_panel

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
            # 催办 / 督办: warnings, orders and the small forms (minsheng.supervision).
            "supervision": detail_panel(user, appeal, supervision_bound),
            **_upload_context(uploads),
        },
        status=status,
    )


@login_required
def detail(request: HttpRequest, appeal_id: int) -> HttpResponse:
    # Before rendering, so the page's bell already counts them read. It touches only the
    # user's own notifications, so an appeal they may no longer see reveals nothing.
    notify_services.mark_read_about(user=_user(request), appeal_id=appeal_id)
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
        appeal=a, actor=u, unit=d["unit"], co_units=d["co_units"], note=d["note"]
    ),
    Action.REDISPATCH: lambda a, u, d: services.redispatch_appeal(
        appeal=a, actor=u, unit=d["unit"], co_units=d["co_units"], reason=d["reason"]
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
    Action.SUPPLEMENT: lambda a, u, d: services.add_supplement(
        appeal=a, actor=u, text=d["text"], upload_tokens=d["upload_tokens"]
    ),
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
    # Files only where they belong (补充 with attachments), and only from who may add them.
    takes_files = name == Action.SUPPLEMENT and permissions.can_act(user, Action(name), appeal)
    uploads = collect_uploads(request) if takes_files else None
    status = 422
    if form.is_valid() and not (uploads is not None and uploads.errors):
        data = {**form.cleaned_data, "upload_tokens": uploads.tokens if uploads else []}
        try:
            RUNS[name](appeal, user, data)
        except DomainError as error:
            if error.error is AppealError.NOT_FOUND and error.details.get("field") != "into":
                raise Http404 from None
            _attach_error(form, error, uploads)
            status = 422 if error.details.get("field") == "into" else error.status
        else:
            messages.success(
                request,
                _("%(code)s: %(action)s.")
                % {"code": appeal.tracking_code, "action": Action(name).label},
            )
            return redirect("console:detail", appeal_id=appeal.pk)
    return _render_detail(request, appeal.pk, bound={name: form}, uploads=uploads, status=status)


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


@dataclass
class CallerLookup:
    """What the caller-history region shows for the phone number typed so far."""

    state: str  # empty | incomplete | invalid | limited | found
    phone: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def _caller_lookup(user: User, raw: str) -> CallerLookup:
    """The caller's earlier appeals within the user's scope, masked; rate-limited per account."""
    text = (raw or "").strip()[:40]
    if not text:
        return CallerLookup("empty")
    typed = re.sub(r"[\s()+-]", "", text)
    try:
        digits = services.normalize_phone(text)
    except DomainError:
        # A number still being typed is not wrong yet; letters or a 13th digit are.
        return CallerLookup("incomplete" if typed.isdigit() and len(typed) < 11 else "invalid")
    if digits.startswith("1") and len(digits) < 11:  # a mobile number, half typed
        return CallerLookup("incomplete")
    try:
        ratelimit.hit("caller-lookup", str(user.pk), limit=CALLER_LOOKUP_RATE)
    except DomainError:
        return CallerLookup("limited", digits)
    now = timezone.now()
    rows = [_row(a, now) for a in selectors.caller_history(user, digits)]
    return CallerLookup("found", digits, rows)


def _suggestion(category_id: int | None, territory_id: int | None) -> dict[str, Any] | None:
    if category_id is None:
        return None
    category = reference.active_category(category_id)
    if category is None:
        return None
    territory = reference.active_territory(territory_id) if territory_id else None
    return {"unit": reference.suggest_unit(category=category, territory=territory)}


def _may_dispatch(user: User) -> bool:
    return bool(roles_of(user) & DISPATCH_ROLES)


def _require_intake(user: User) -> list[tuple[str, Any]]:
    channels = _intake_channels(user)
    if not channels:
        raise PermissionDenied
    return channels


def _id_param(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


def _prefill_unit(form: IntakeForm, suggestion: dict[str, Any] | None) -> None:
    """派单目录: an empty lead unit shows the catalogue's suggestion when the page comes back."""
    unit = suggestion["unit"] if suggestion else None
    if "unit" in form.fields and unit is not None and not form.data.get("unit"):
        form.data = form.data.copy()
        form.data["unit"] = str(unit.pk)


def _live_lookup(form: IntakeForm) -> None:
    """With htmx, typing the phone fills the history region after a pause (no-JS: a button)."""
    form.fields["phone"].widget.attrs.update(
        {
            "hx-get": reverse("console:intake_caller"),
            "hx-trigger": "input changed delay:300ms, search",
            "hx-target": "#caller-history",
            "hx-sync": "this:replace",
            "aria-controls": "caller-history",
        }
    )


INTENTS = ("register", "dispatch", "close")


@login_required_keeping_post
def intake(request: HttpRequest) -> HttpResponse:
    """受理: the hotline agent's screen; register, register and dispatch, or close directly.

    Other intents ("lookup", "suggest") only show the page again, with the caller's history
    and the catalogue's suggestion: what the page does by itself when JavaScript runs.
    """
    user = _user(request)
    channels = _require_intake(user)
    may_dispatch = _may_dispatch(user)
    options = {
        "channels": channels,
        "categories": _categories(),
        "places": _places(user),
        "units": _dispatch_units() if may_dispatch else None,
    }
    values = [value for value, _label in channels]
    default_channel = Channel.HOTLINE if Channel.HOTLINE in values else values[0]
    status = 200
    suggestion = None
    uploads = None
    if request.method == "POST":
        form = IntakeForm(request.POST, **options)
        uploads = collect_uploads(request)
        intent = request.POST.get("intent", "register")
        if form.is_valid():
            data = form.cleaned_data
            suggestion = _suggestion(data["category"], data["territory"])
            if intent in INTENTS and not uploads.errors:
                outcome = _register(request, user, data, uploads, intent=intent)
                if isinstance(outcome, HttpResponse):
                    return outcome
                _attach_error(form, outcome, uploads)
                status = outcome.status
            elif uploads.errors:
                status = 422
            _prefill_unit(form, suggestion)
        else:
            status = 422
        raw_phone = request.POST.get("phone", "")
    elif (kept := drafts.take(request)) is not None:
        # The login expired while the call was being taken: the form comes back as it was sent.
        form = IntakeForm(kept, **options)
        if not form.is_valid():
            status = 422
        raw_phone = kept.get("phone", "")
        messages.warning(
            request,
            _(
                "Your login had expired, so nothing was registered yet. Here is what you typed: "
                "check it, choose any files again, and send it."
            ),
        )
    else:
        raw_phone = request.GET.get("phone", "")
        form = IntakeForm(
            initial={
                "phone": raw_phone,
                "channel": default_channel,
                "appeal_type": AppealType.COMPLAINT,
                "urgency": Urgency.NORMAL,
                "key": secrets.token_urlsafe(16),
            },
            **options,
        )
        form.fields["phone"].widget.attrs["autofocus"] = True
    _live_lookup(form)
    lookup = _caller_lookup(user, raw_phone)
    return _page(
        request,
        "appeals/console/intake.html",
        {
            "form": form,
            "lookup": lookup,
            "phone": lookup.phone,
            "history": lookup.rows,
            "suggestion": suggestion,
            "may_close": bool(roles_of(user) & DIRECT_CLOSE_ROLES),
            "may_dispatch": may_dispatch,
            **_upload_context(uploads),
        },
        status=status,
    )


@login_required
@require_GET
def intake_caller(request: HttpRequest) -> HttpResponse:
    """The caller's earlier appeals as an HTML fragment, for the live look-up while typing."""
    user = _user(request)
    _require_intake(user)
    lookup = _caller_lookup(user, request.GET.get("phone", ""))
    response = render(
        request,
        "appeals/console/_caller_history.html",
        {"lookup": lookup},
        status=429 if lookup.state == "limited" else 200,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def intake_suggest(request: HttpRequest) -> HttpResponse:
    """The catalogue's unit for a category and place, as a fragment.

    For staff who may dispatch, the fragment also re-selects the lead unit (an out-of-band
    swap of the select's options), unless they chose a unit themselves: only an empty unit or
    the previous suggestion is replaced.
    """
    user = _user(request)
    _require_intake(user)
    suggestion = _suggestion(
        _id_param(request.GET.get("category")), _id_param(request.GET.get("territory"))
    )
    unit_options = None
    current = _id_param(request.GET.get("unit"))
    if _may_dispatch(user) and current in (None, _id_param(request.GET.get("suggested_unit"))):
        suggested = suggestion["unit"] if suggestion else None
        form = IntakeForm(
            initial={"unit": suggested.pk if suggested else None}, units=_dispatch_units()
        )
        unit_options = form["unit"].as_widget(attrs={"hx-swap-oob": "innerHTML"})
    return render(
        request,
        "appeals/console/_suggestion.html",
        {"suggestion": suggestion, "unit_options": unit_options},
    )


def _register(
    request: HttpRequest, user: User, data: dict[str, Any], uploads: Uploads, *, intent: str
) -> HttpResponse | DomainError:
    """Submit (and dispatch, or close) once per form key, however often the form is sent."""

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
            upload_tokens=uploads.tokens,
        )
        unit = ""
        if intent == "close":
            services.direct_close_appeal(appeal=appeal, actor=user, reply=data["reply"])
        elif intent == "dispatch":  # the unit chosen, else the catalogue's (the service's rule)
            event = services.dispatch_appeal(appeal=appeal, actor=user, unit=data.get("unit"))
            unit = event.unit.name if event.unit else ""
        body = {"id": appeal.pk, "tracking_code": appeal.tracking_code, "intent": intent}
        return 201, body | {"unit": unit}

    payload = {k: v for k, v in data.items() if k != "key"} | {
        "intent": intent,
        "attachments": uploads.fingerprint(),
    }
    try:
        outcome = run_once(scope=f"console:{user.pk}", key=data["key"], payload=payload, run=run)
    except DomainError as error:
        return error
    body = outcome.body
    code = body["tracking_code"]
    if outcome.replayed:
        messages.info(request, _("This form was already sent; here is the appeal it registered."))
    elif body["intent"] == "close":
        messages.success(request, _("Registered and closed: %(code)s.") % {"code": code})
    elif body["intent"] == "dispatch":
        messages.success(
            request,
            _("Registered and dispatched to %(unit)s: %(code)s.")
            % {"code": code, "unit": body["unit"]},
        )
    else:
        messages.success(request, _("Registered: %(code)s.") % {"code": code})
    return redirect("console:detail", appeal_id=body["id"])
