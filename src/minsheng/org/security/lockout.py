"""Lockout after repeated failed logins (django-axes), per username; see the package docs."""

from __future__ import annotations

from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

from minsheng.core import audit

from ..models import User


def _credentials(username: str) -> dict[str, str]:
    return {"username": username}


def is_locked(request: HttpRequest, username: str) -> bool:
    """Whether this username may not log in now."""
    return not AxesProxyHandler.is_allowed(request, _credentials(username))


def count_failure(request: HttpRequest, username: str) -> bool:
    """Count a failed step of a login that axes does not see (a wrong second-factor code) the
    way a wrong password counts; True when this failure locked the account."""
    user_login_failed.send(sender=__name__, credentials=_credentials(username), request=request)
    return bool(getattr(request, "axes_locked_out", False))


def clear_failures(request: HttpRequest, username: str) -> None:
    """A complete login (password, and the code where required) forgets earlier failures."""
    AxesProxyHandler.reset_attempts(username=username)


def record_lockout(request: HttpRequest, username: str) -> None:
    """Audit the failure that locked the account (once per lockout, not per refused try)."""
    if getattr(request, "_minsheng_lockout_audited", False):
        return
    request._minsheng_lockout_audited = True  # type: ignore[attr-defined]
    target = User.objects.filter(username=username).first()
    with transaction.atomic():
        audit.record(
            actor=None,
            action="org.staff.lockout",
            target=target,
            target_type="" if target else "org.user",
            target_id="" if target else username[:64],
            data={
                "username": username[:150],
                "ip": getattr(request, "axes_ip_address", None),
                "minutes": settings.MINSHENG_LOCKOUT_MINUTES,
            },
        )


def locked_usernames() -> dict[str, datetime]:
    """Usernames locked now, with the time of their last failure."""
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - get_cool_off())
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
    )
    return {row["username"]: row["last"] for row in rows if row["username"]}


@transaction.atomic
def unlock(*, username: str, actor: User) -> int:
    """Lift a lockout (a security administrator's act, audited); the number of rows cleared."""
    count = AxesProxyHandler.reset_attempts(username=username)
    target = User.objects.filter(username=username).first()
    audit.record(
        actor=actor,
        action="org.staff.unlock",
        target=target,
        target_type="" if target else "org.user",
        target_id="" if target else username[:64],
        data={"username": username, "attempts_cleared": count},
    )
    return count
