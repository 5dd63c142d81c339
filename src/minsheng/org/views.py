"""Staff login security pages: login, second factor, password change, lockout, unlock/reset.

The rules live in ``minsheng.org.security`` and ``minsheng.org.passwords``; these views parse
input and call them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import passwords, permissions
from .models import User
from .security import lockout, two_factor


def _next_url(request: HttpRequest, default: str = "console:home") -> str:
    """Where to go after a step: the ``next`` asked for, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


def locked_out(
    request: HttpRequest,
    response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout answer (``AXES_LOCKOUT_CALLABLE``): our page, HTTP 429."""
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")
    if getattr(request, "axes_failures_since_start", None) is not None and username:
        # This request's failure reached the limit (later refused tries are not counted).
        lockout.record_lockout(request, username)
    return render(
        request,
        "org/locked_out.html",
        {"minutes": settings.MINSHENG_LOCKOUT_MINUTES},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


class StaffLoginView(auth_views.LoginView):
    """Django's login page; a password alone completes the login only for roles without a
    second factor (and only then are earlier failures forgotten)."""

    template_name = "appeals/console/login.html"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if two_factor.required_for(user):
            return HttpResponseRedirect(
                reverse("console:two_factor") + "?" + urlencode({"next": self.get_success_url()})
            )
        lockout.clear_failures(self.request, user.get_username())
        return response


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Six-digit code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


@never_cache
@login_required
def two_factor_page(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app (first time) or confirm its code (every login)."""
    user: User = request.user  # type: ignore[assignment]
    target = _next_url(request)
    if not two_factor.required_for(user) or two_factor.is_verified(request):
        return HttpResponseRedirect(target)
    username = user.get_username()
    if lockout.is_locked(request, username):
        logout(request)
        return locked_out(request)
    device = two_factor.confirmed_device(user)
    enrolling = device is None
    if enrolling:
        device = two_factor.enrolment_device(user)
    assert device is not None  # noqa: S101 — for the type checker: made just above
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = two_factor.clean_code(form.cleaned_data["code"])
        if code is not None and enrolling:
            done = two_factor.confirm_enrolment(request, device, code)
        elif code is not None:
            done = two_factor.verify(request, device, code)
        else:
            done = False
        if done:
            lockout.clear_failures(request, username)
            if enrolling:
                messages.success(request, _("Your authenticator app is set up."))
            return HttpResponseRedirect(target)
        if lockout.count_failure(request, username):
            logout(request)
            return locked_out(request, credentials={"username": username})
        form.add_error("code", _("This code is not right, or was already used. Try the next one."))
    context: dict[str, Any] = {"form": form, "enrolling": enrolling, "next": target}
    if enrolling:
        uri = device.config_url
        context.update(secret=two_factor.secret_text(device), uri=uri, qr=two_factor.qr_svg(uri))
    return render(request, "org/two_factor.html", context)


class StaffPasswordChangeForm(PasswordChangeForm):
    """Django's form (old password, validators), and the new password must be new."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password = cleaned.get("new_password2")
        if password and not self.has_error("new_password2") and self.user.check_password(password):
            self.add_error(
                "new_password2",
                forms.ValidationError(
                    _("The new password must differ from the current one."),
                    code="password_reused",
                ),
            )
        return cleaned


@method_decorator(never_cache, name="dispatch")
class StaffPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, through the audited service; asked for when it expired."""

    template_name = "org/password_change.html"
    form_class = StaffPasswordChangeForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["expired"] = passwords.password_expired(self.request.user)  # type: ignore[arg-type]
        context["max_age_days"] = settings.MINSHENG_PASSWORD_MAX_AGE_DAYS
        context["next"] = _next_url(self.request)
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.user
        passwords.change_password(
            user=user, new_password=form.cleaned_data["new_password1"], actor=user
        )
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password has been changed."))
        return HttpResponseRedirect(_next_url(self.request))


def _security_admin(request: HttpRequest) -> User:
    user = request.user
    if not permissions.can_unlock_account(user):
        raise Http404
    return user  # type: ignore[return-value]


@never_cache
@login_required
def security_page(request: HttpRequest) -> HttpResponse:
    """Locked accounts and second-factor devices, for the security administrator."""
    _security_admin(request)
    locked = lockout.locked_usernames()
    enrolled = set(
        TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True).distinct()
    )
    staff = list(
        User.objects.filter(is_active=True, api_token__isnull=True).order_by("username")[:500]
    )
    rows = [
        {"user": u, "locked": u.username in locked, "enrolled": u.pk in enrolled} for u in staff
    ]
    known = {u.username for u in staff}
    unknown_locked = sorted(name for name in locked if name not in known)
    return render(
        request,
        "org/security.html",
        {
            "rows": rows,
            "unknown_locked": unknown_locked,
            "minutes": settings.MINSHENG_LOCKOUT_MINUTES,
        },
    )


@require_POST
@login_required
def unlock_account(request: HttpRequest) -> HttpResponse:
    actor = _security_admin(request)
    username = request.POST.get("username", "")[:150]
    target = User.objects.filter(username=username).first()
    if not username or not permissions.can_unlock_account(actor, target):
        raise Http404
    lockout.unlock(username=username, actor=actor)
    messages.success(request, _("%(username)s may log in again.") % {"username": username})
    return redirect("console:security")


@require_POST
@login_required
def reset_two_factor(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = _security_admin(request)
    target = get_object_or_404(User, pk=user_id)
    if not permissions.can_unlock_account(actor, target):
        raise Http404
    two_factor.reset_devices(user=target, actor=actor)
    messages.success(
        request,
        _("%(name)s will set up an authenticator app at the next login.") % {"name": target},
    )
    return redirect("console:security")
