"""Citizen portal (``/``): submit an appeal, follow it, add to it, rate the answer.

Server-rendered and usable without JavaScript. Views parse what the citizen sent and call the
services; every rule lives there. A refused step re-renders the page with everything typed
(uploaded files kept server-side by their upload tokens) and the problem next to its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from minsheng.core import ratelimit
from minsheng.core.errors import CoreError, DomainError
from minsheng.core.idempotency import run_once
from minsheng.core.masking import mask_phone

from .. import citizen_login, presenters, reference, selectors, services, workflow
from ..choices import OPEN_STATUSES, Action, AppealType, Channel, Status, TimeUnit, Urgency
from ..errors import AppealError
from ..forms.portal import (
    LoginCodeForm,
    PhoneLoginForm,
    RateForm,
    SubmitForm,
    SupplementForm,
    TrackForm,
    new_submission_key,
)
from ..models import Appeal
from .uploads import Uploads, collect_uploads, error_message

# Tracking codes this browser submitted or looked up with the phone: the session is the proof
# that lets it see the confirmation and follow-up pages without typing the phone again.
SESSION_CODES = "portal_codes"
# The phone number this session proved with a texted code ("My appeals"): it opens that number's
# own appeals too. One key, replaced whole by a new login and dropped at logout.
SESSION_CITIZEN_PHONE = "citizen_phone"
REMEMBERED_CODES = 20

# The timeline in the citizen's words; ``%(unit)s`` is the unit's name when the event has one.
PLAIN_EVENTS = {
    Action.SUBMIT: _("We received your appeal"),
    Action.DISPATCH: _("Sent to %(unit)s to handle"),
    Action.REDISPATCH: _("Sent to %(unit)s instead"),
    Action.ACCEPT: _("%(unit)s took up your appeal"),
    Action.TRANSFER: _("Passed on to %(unit)s"),
    Action.APPROVE_EXTENSION: _("%(unit)s was given more time"),
    Action.SUSPEND: _("Paused while waiting for information"),
    Action.RESUME: _("Work on it resumed"),
    Action.APPROVE_REPLY: _("Answered and closed"),
    Action.DIRECT_CLOSE: _("Answered and closed"),
    Action.RATE: _("You rated the answer"),
    Action.REOPEN: _("Reopened for more work"),
    Action.INVALIDATE: _("Closed: it could not be handled as an appeal"),
    Action.MERGE: _("Joined with another appeal about the same matter"),
    Action.SUPPLEMENT: _("You added information"),
}

PLAIN_STATUS = {
    Status.RECEIVED: _("It will be sent to the unit responsible soon."),
    Status.DISPATCHED: _("Waiting for the unit responsible to take it up."),
    Status.RETURNED: _("Being sent on to the right unit."),
    Status.IN_PROGRESS: _("The unit responsible is working on it."),
    Status.SUSPENDED: _("Paused while waiting for information."),
    Status.REPLIED: _("The answer is being checked before it reaches you."),
    Status.CLOSED: _("Finished. You can read the answer below."),
    Status.INVALID: _("It could not be handled as an appeal."),
    Status.MERGED: _("Joined with another appeal about the same matter."),
}

# Which form field a service's refusal belongs to; others are shown above the form.
_SUBMIT_FIELD_OF_CODE = {
    AppealError.INVALID_PHONE.code: "phone",
    AppealError.CONTACT_REQUIRED.code: "phone",
    AppealError.UNKNOWN_CATEGORY.code: "category",
    AppealError.UNKNOWN_TERRITORY.code: "place",
}
_PHOTO_CODES = {
    AppealError.TOO_MANY_ATTACHMENTS.code,
    AppealError.UNKNOWN_UPLOAD.code,
    AppealError.ATTACHMENT_TYPE.code,
    AppealError.ATTACHMENT_TOO_LARGE.code,
    AppealError.ATTACHMENT_CORRUPT.code,
}
# ``reason_required`` names the service's argument in ``details.field``.
_FORM_FIELD_OF_ARGUMENT = {"content": "text", "text": "text", "comment": "comment"}


# ---------------------------------------------------------------- helpers


def _remember(request: HttpRequest, code: str) -> None:
    codes = [c for c in request.session.get(SESSION_CODES, []) if c != code]
    request.session[SESSION_CODES] = [*codes, code][-REMEMBERED_CODES:]


def _is_remembered(request: HttpRequest, code: str) -> bool:
    if code in request.session.get(SESSION_CODES, []):
        return True
    phone = request.session.get(SESSION_CITIZEN_PHONE, "")
    return bool(phone) and citizen_login.owns_appeal(phone, code)


def grouped(code: str) -> list[str]:
    """The code in groups of three, the last of up to four (``ABC DEF GHJK``): easy to read out."""
    groups = [code[i : i + 3] for i in range(0, len(code), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def _with_key(data: QueryDict) -> QueryDict:
    """The posted data, with a fresh submission key if the page came without a usable one."""
    data = data.copy()
    key = data.get("submission_key", "")
    if not key or len(key) > 128:
        data["submission_key"] = new_submission_key()
    return data


def _place_error(
    form: forms.Form, uploads: Uploads, error: DomainError, field_of_code: dict[str, str]
) -> None:
    """Put a service's refusal next to the field it concerns, in the citizen's language."""
    message = error_message(error)
    if error.code in _PHOTO_CODES:
        uploads.errors.append(message)
        return
    name = field_of_code.get(error.code)
    if error.code == AppealError.REASON_REQUIRED.code:
        name = _FORM_FIELD_OF_ARGUMENT.get(str(error.details.get("field", "")))
        if "max_length" in error.details:
            message = gettext("This is too long: at most %(max_length)s characters.") % (
                error.details
            )
    form.add_error(name if name in form.fields else None, message)


def _once(*, scope: str, key: str, payload: dict[str, Any], run: Callable[[], str]) -> str:
    """Run a citizen's write once per submission key; a resent page gets the first result."""
    outcome = run_once(scope=scope, key=key, payload=payload, run=lambda: (201, {"result": run()}))
    return str(outcome.body["result"])


def _typical_limits() -> dict[str, Any] | None:
    """The ordinary time limits, for the plain-language guidance; None if none is configured."""
    try:
        limits = reference.resolve_time_limit(
            appeal_type=AppealType.COMPLAINT, category=None, urgency=Urgency.NORMAL
        )
    except DomainError:
        return None
    return {
        "accept_amount": limits.accept_amount,
        "accept_unit": TimeUnit(limits.accept_unit).label,
        "complete_amount": limits.complete_amount,
        "complete_unit": TimeUnit(limits.complete_unit).label,
    }


def _photo_context() -> dict[str, Any]:
    return {
        "max_photos": settings.MINSHENG_ATTACHMENTS_PER_APPEAL,
        "max_megabytes": settings.MINSHENG_ATTACHMENT_MAX_BYTES // (1024 * 1024),
    }


# ---------------------------------------------------------------- home


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "appeals/portal/home.html", {"limits": _typical_limits()})


# ---------------------------------------------------------------- submit


@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = SubmitForm(initial={"submission_key": new_submission_key()})
        return _render_submit(request, form, Uploads())
    form = SubmitForm(_with_key(request.POST))
    uploads = collect_uploads(request)
    if form.is_valid() and not uploads.errors:
        try:
            code = _submit_once(form, uploads)
        except DomainError as error:
            if error.code == CoreError.IDEMPOTENCY_KEY_REUSED.code:
                # Sent before with other content (back button, then edits): offer a fresh send.
                form.data["submission_key"] = new_submission_key()
                form.add_error(
                    None,
                    gettext(
                        "This form was already sent once. Check the details and send it again "
                        "to make a new appeal."
                    ),
                )
            else:
                _place_error(form, uploads, error, _SUBMIT_FIELD_OF_CODE)
        else:
            _remember(request, code)
            return redirect("portal:done", code=code)
    form.describe()
    return _render_submit(request, form, uploads, status=422)


def _submit_once(form: SubmitForm, uploads: Uploads) -> str:
    data = form.cleaned_data
    payload = {
        "appeal_type": data["appeal_type"],
        "category": data["category"],
        "place": data["place"],
        "address": data["address"],
        "text": data["text"],
        "name": data["name"],
        "phone": data["phone"],
        "anonymous": data["anonymous"],
        "position": [str(data["latitude"]), str(data["longitude"])],
        "attachments": uploads.fingerprint(),
    }

    def run() -> str:
        category = None
        if data["category"] is not None:
            category = reference.active_category(data["category"])
            if category is None:
                raise DomainError(AppealError.UNKNOWN_CATEGORY, {"category": data["category"]})
        territory = reference.active_territory(data["place"])
        if territory is None:
            raise DomainError(AppealError.UNKNOWN_TERRITORY, {"territory": data["place"]})
        appeal = services.submit_appeal(
            actor=None,
            channel=Channel.WEB_PORTAL,
            appeal_type=data["appeal_type"],
            content=data["text"],
            phone=data["phone"],
            name=data["name"],
            anonymous=data["anonymous"],
            category=category,
            territory=territory,
            address=data["address"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            upload_tokens=uploads.tokens,
        )
        return appeal.tracking_code

    return _once(scope="portal", key=data["submission_key"], payload=payload, run=run)


def _render_submit(
    request: HttpRequest, form: SubmitForm, uploads: Uploads, status: int = 200
) -> HttpResponse:
    context = {"form": form, "uploads": uploads, **_photo_context()}
    return render(request, "appeals/portal/submit.html", context, status=status)


def done(request: HttpRequest, code: str) -> HttpResponse:
    """The confirmation: only for the browser that submitted (or looked up) this code."""
    code = services.normalize_tracking_code(code)
    if not _is_remembered(request, code):
        raise Http404
    phone = Appeal.objects.filter(tracking_code=code).values_list("citizen_phone", flat=True)
    context = {
        "code": code,
        "groups": grouped(code),
        "masked_phone": mask_phone(phone.first() or ""),
        "limits": _typical_limits(),
    }
    return render(request, "appeals/portal/done.html", context)


def done_text(request: HttpRequest, code: str) -> HttpResponse:
    """The tracking code as a small text file, to keep on the phone."""
    code = services.normalize_tracking_code(code)
    if not _is_remembered(request, code):
        raise Http404
    follow = request.build_absolute_uri(reverse("portal:track"))
    text = "\n".join(
        [
            gettext("Minsheng citizen service"),
            gettext("Tracking code: %(code)s") % {"code": " ".join(grouped(code))},
            gettext("Follow your appeal at %(url)s with this code and the phone number you gave.")
            % {"url": follow},
            "",
        ]
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appeal-{code}.txt"'
    return response


# ---------------------------------------------------------------- follow


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """Look an appeal up by tracking code and phone (POST: the phone never goes in a URL)."""
    if request.method != "POST":
        form = TrackForm(initial={"tracking_code": request.GET.get("code", "")[:32]})
        return render(request, "appeals/portal/track.html", {"form": form})
    form = TrackForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            ratelimit.hit(
                "track",
                ratelimit.client_address(request),
                limit=settings.MINSHENG_TRACKING_RATE,
            )
            appeal = _look_up(form.cleaned_data["tracking_code"], form.cleaned_data["phone"])
        except DomainError as error:
            form.add_error(None, error_message(error))
            status = error.status
        else:
            _remember(request, appeal.tracking_code)
            return redirect("portal:followup", code=appeal.tracking_code)
    form.describe()
    return render(request, "appeals/portal/track.html", {"form": form}, status=status)


def _look_up(code: str, phone: str) -> Appeal:
    try:
        digits = services.normalize_phone(phone) if phone.strip() else ""
    except DomainError:  # a malformed phone matches nothing; say so the same way
        raise DomainError(AppealError.TRACKING_NOT_FOUND) from None
    return selectors.by_tracking(code, digits)


def _remembered_appeal(code: str) -> Appeal:
    """The appeal of a code this session proved with the phone, with its public timeline."""
    phone = Appeal.objects.filter(tracking_code=code).values_list("citizen_phone", flat=True)
    found = phone.first()
    if found is None:
        raise Http404
    return selectors.by_tracking(code, found)


def followup(request: HttpRequest, code: str) -> HttpResponse:
    code = services.normalize_tracking_code(code)
    if not _is_remembered(request, code):
        return redirect(f"{reverse('portal:track')}?{urlencode({'code': code[:32]})}")
    return _render_followup(request, _remembered_appeal(code))


@require_POST
def supplement(request: HttpRequest, code: str) -> HttpResponse:
    code = services.normalize_tracking_code(code)
    if not _is_remembered(request, code):
        raise Http404
    appeal = _remembered_appeal(code)
    form = SupplementForm(_with_key(request.POST))
    uploads = collect_uploads(request)
    status = 422
    if form.is_valid() and not uploads.errors:
        text = form.cleaned_data["text"]

        def run() -> str:
            services.add_supplement(
                appeal=appeal.pk, actor=None, text=text, upload_tokens=uploads.tokens
            )
            return code

        try:
            _once(
                scope="portal-supplement",
                key=form.cleaned_data["submission_key"],
                payload={"code": code, "text": text, "attachments": uploads.fingerprint()},
                run=run,
            )
        except DomainError as error:
            _place_error(form, uploads, error, {})
            status = 409 if error.status == 409 else 422
        else:
            messages.success(request, gettext("Thank you. What you added is now with your appeal."))
            return redirect("portal:followup", code=code)
    form.describe()
    return _render_followup(request, appeal, supplement_form=form, uploads=uploads, status=status)


@require_POST
def rate(request: HttpRequest, code: str) -> HttpResponse:
    code = services.normalize_tracking_code(code)
    if not _is_remembered(request, code):
        raise Http404
    appeal = _remembered_appeal(code)
    form = RateForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            services.rate_appeal(
                appeal=appeal.pk,
                actor=None,
                rating=form.cleaned_data["rating"],
                solved=form.solved_value(),
                comment=form.cleaned_data["comment"],
            )
        except DomainError as error:
            _place_error(form, Uploads(), error, {})
            status = error.status
        else:
            messages.success(request, gettext("Thank you for your answer."))
            return redirect("portal:followup", code=code)
    form.describe()
    return _render_followup(request, appeal, rate_form=form, status=status)


def _render_followup(
    request: HttpRequest,
    appeal: Appeal,
    *,
    supplement_form: SupplementForm | None = None,
    uploads: Uploads | None = None,
    rate_form: RateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    public = presenters.public_view(appeal)
    timeline = []
    for event in public["timeline"]:
        plain = PLAIN_EVENTS.get(event["action"])
        if plain is None or ("%(unit)s" in str(plain) and not event["unit"]):
            label = event["action_label"]
        else:
            label = str(plain) % {"unit": event["unit"] or ""}
        timeline.append({**event, "label": label})
    context = {
        "public": public,
        "timeline": timeline,
        "plain_status": PLAIN_STATUS.get(public["status"], public["status_label"]),
        "is_open": public["status"] in OPEN_STATUSES,
        "code": appeal.tracking_code,
        "groups": grouped(appeal.tracking_code),
        "can_supplement": workflow.can_start(Action.SUPPLEMENT, public["status"]),
        "supplement_form": supplement_form
        or SupplementForm(initial={"submission_key": new_submission_key()}),
        "uploads": uploads or Uploads(),
        "rate_form": rate_form or RateForm(),
        **_photo_context(),
    }
    return render(request, "appeals/portal/followup.html", context, status=status)


# ---------------------------------------------------------------- my appeals (phone + texted code)

# The number a code was just texted to, waiting for the code: not yet proof of anything.
SESSION_LOGIN_PHONE = "citizen_login_phone"
MY_PAGE_SIZE = 50


def _citizen_phone(request: HttpRequest) -> str:
    return str(request.session.get(SESSION_CITIZEN_PHONE, ""))


def _rate_message(error: DomainError) -> str:
    """A refused code request in plain words, with how long to wait."""
    if error.code != CoreError.RATE_LIMITED.code:
        return error_message(error)
    seconds = int(error.details.get("retry_after_seconds", 60))
    if error.details.get("limit") == "phone_minute":
        return gettext(
            "A code was sent to this number less than a minute ago. "
            "You can ask for a new one in %(seconds)s seconds."
        ) % {"seconds": seconds}
    minutes = max(1, -(-seconds // 60))  # rounded up
    message = gettext("Too many codes were asked for. Please try again in %(minutes)s minutes.")
    return message % {"minutes": minutes}


def _log_in_citizen(request: HttpRequest, phone: str) -> None:
    # A new session key at login: a key planted in this browser before cannot ride along.
    request.session.cycle_key()
    request.session[SESSION_CITIZEN_PHONE] = phone
    request.session.pop(SESSION_LOGIN_PHONE, None)


@never_cache
def my_appeals(request: HttpRequest) -> HttpResponse:
    """The appeals sent with the phone this session proved, newest first, 50 a page."""
    phone = _citizen_phone(request)
    if not phone:
        return redirect("portal:my_login")
    raw = request.GET.get("before", "")
    before = None
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            raise Http404
        before = int(raw)
    rows, more = citizen_login.appeals_page(phone, before=before, limit=MY_PAGE_SIZE)
    items = [
        {
            "code": appeal.tracking_code,
            "groups": grouped(appeal.tracking_code),
            "created_at": appeal.created_at,
            "appeal_type": appeal.get_appeal_type_display(),
            "category": appeal.category.name if appeal.category else "",
            "status": appeal.status,
            "status_label": appeal.get_status_display(),
            "plain_status": PLAIN_STATUS.get(appeal.status, ""),
        }
        for appeal in rows
    ]
    context = {
        "items": items,
        "more": more,
        "first_page": before is None,
        "masked_phone": mask_phone(phone),
    }
    return render(request, "appeals/portal/my_list.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def my_login(request: HttpRequest) -> HttpResponse:
    """Step 1: the phone number. Any valid number gets a code, whether it has appeals or not."""
    if request.method != "POST":
        if _citizen_phone(request):
            return redirect("portal:my_appeals")
        form = PhoneLoginForm(initial={"phone": request.session.get(SESSION_LOGIN_PHONE, "")})
        return render(request, "appeals/portal/my_login.html", {"form": form})
    form = PhoneLoginForm(request.POST)
    status = 422
    code_pending = False
    if form.is_valid():
        phone = form.cleaned_data["phone"]
        try:
            citizen_login.request_login_code(
                phone=phone, client_ip=ratelimit.client_address(request)
            )
        except DomainError as error:
            if error.details.get("limit") == "phone_minute":
                # A code went to this number moments ago; typing it in is the way forward.
                request.session[SESSION_LOGIN_PHONE] = phone
                code_pending = True
            form.add_error("phone", _rate_message(error))
            status = error.status
        else:
            request.session[SESSION_LOGIN_PHONE] = phone
            return redirect("portal:my_login_code")
    form.describe()
    context = {"form": form, "code_pending": code_pending}
    return render(request, "appeals/portal/my_login.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def my_login_code(request: HttpRequest) -> HttpResponse:
    """Step 2: the code from the text message; right, and the session holds the phone."""
    phone = str(request.session.get(SESSION_LOGIN_PHONE, ""))
    if not phone:
        return redirect("portal:my_login")
    if request.method != "POST":
        return _render_login_code(request, LoginCodeForm(), phone)
    form = LoginCodeForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            citizen_login.verify_login_code(phone=phone, code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error_message(error))
            status = error.status
        else:
            _log_in_citizen(request, phone)
            return redirect("portal:my_appeals")
    form.describe()
    return _render_login_code(request, form, phone, status=status)


@require_POST
def my_login_resend(request: HttpRequest) -> HttpResponse:
    """A new code to the number waiting for one, within the same limits as the first."""
    phone = str(request.session.get(SESSION_LOGIN_PHONE, ""))
    if not phone:
        return redirect("portal:my_login")
    try:
        citizen_login.request_login_code(phone=phone, client_ip=ratelimit.client_address(request))
    except DomainError as error:
        return _render_login_code(
            request,
            LoginCodeForm(),
            phone,
            resend_error=_rate_message(error),
            status=error.status,
        )
    messages.success(request, gettext("A new code was sent. The earlier one no longer works."))
    return redirect("portal:my_login_code")


def _render_login_code(
    request: HttpRequest,
    form: LoginCodeForm,
    phone: str,
    *,
    resend_error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "masked_phone": mask_phone(phone),
        "minutes": max(1, citizen_login.code_ttl_seconds() // 60),
        "resend_error": resend_error,
    }
    return render(request, "appeals/portal/my_login_code.html", context, status=status)


@require_POST
def my_logout(request: HttpRequest) -> HttpResponse:
    """Forget everything this browser proved: the phone and the tracking codes looked up."""
    request.session.flush()
    messages.success(request, gettext("You have logged out."))
    return redirect("portal:home")
