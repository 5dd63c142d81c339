"""Citizens log in to "My appeals" (我的诉求) with their phone number and a texted one-time code.

A verified phone number is the citizen's identity on the portal: it may list the appeals that
carry that number (not the anonymous ones) and open them without typing the number again.

Rules, and why:
- A code goes to any valid number, whether or not it has appeals, so the login page never tells
  anyone which numbers have appeals.
- Only a keyed hash of the code is stored (HMAC with the secret key), never the code.
- A code is valid for ``MINSHENG_SMS_CODE_TTL_SECONDS`` (5 minutes), once; a new code replaces
  the old one; five wrong tries kill it. With at most five codes an hour per number, that is at
  most 25 guesses an hour at a million possible codes.
- Texts cost money and annoy: one code a minute and five an hour per number, twenty an hour per
  client address.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from minsheng.core import clock, ratelimit
from minsheng.core.errors import CoreError, DomainError
from minsheng.notify.sms import send_sms

from . import services
from .errors import AppealError
from .models import Appeal, PhoneLoginCode

CODE_DIGITS = 6
MAX_WRONG_ATTEMPTS = 5
RESEND_AFTER_SECONDS = 60
PER_PHONE_PER_HOUR = 5
PER_ADDRESS_PER_HOUR = 20
HOUR = 3600
# Old codes are deleted when the same number asks again, once nothing can depend on them.
KEEP_OLD_CODES = timedelta(days=1)
_HMAC_SALT = "minsheng.appeals.citizen_login"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")  # the mobile part of services.normalize_phone's pattern


def code_ttl_seconds() -> int:
    return int(getattr(settings, "MINSHENG_SMS_CODE_TTL_SECONDS", 300))


def mobile_number(phone: str) -> str:
    """The digits of a mobile number; the portal's phone check, and only mobiles get texts."""
    digits = services.normalize_phone(phone)
    if not _MOBILE.match(digits):
        raise DomainError(AppealError.NOT_A_MOBILE, {"field": "phone"})
    return digits


def _code_hash(phone: str, code: str) -> str:
    # The phone is part of the message: the same code for two numbers hashes differently.
    return salted_hmac(_HMAC_SALT, f"{phone}:{code}", algorithm="sha256").hexdigest()


def _refuse_too_soon(phone: str) -> None:
    """One code a minute per number, counted from the last code's own time (exact wait)."""
    last = (
        PhoneLoginCode.objects.filter(phone=phone)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is None:
        return
    waited = (clock.now() - last).total_seconds()
    if waited < RESEND_AFTER_SECONDS:
        wait = max(1, math.ceil(RESEND_AFTER_SECONDS - waited))
        raise DomainError(
            CoreError.RATE_LIMITED, {"retry_after_seconds": wait, "limit": "phone_minute"}
        )


def _hit(bucket: str, ident: str, *, limit: int, window_seconds: int, name: str) -> None:
    """``ratelimit.hit`` with the seconds left in its fixed window, for a precise message."""
    try:
        ratelimit.hit(bucket, ident, limit=limit, window_seconds=window_seconds)
    except DomainError:
        left = window_seconds - int(time.time() % window_seconds)
        raise DomainError(
            CoreError.RATE_LIMITED, {"retry_after_seconds": max(1, left), "limit": name}
        ) from None


@transaction.atomic
def request_login_code(*, phone: str, client_ip: str) -> None:
    """Text a new one-time login code to ``phone``; earlier unused codes stop working.

    Raises ``invalid_phone`` or ``not_a_mobile`` for a number that cannot get a text, and
    ``rate_limited`` (with
    ``retry_after_seconds``) past the limits. The text leaves after commit, so a refused or
    rolled-back request never sends one.
    """
    digits = mobile_number(phone)
    _refuse_too_soon(digits)
    _hit("login-code-ip", client_ip, limit=PER_ADDRESS_PER_HOUR, window_seconds=HOUR, name="ip")
    # The database check above gives the exact wait; this counter also holds when two requests
    # for one number arrive at the same moment (the cache's add is atomic, a read is not).
    _hit("login-code-phone-minute", digits, limit=1, window_seconds=60, name="phone_minute")
    _hit("login-code-phone", digits, limit=PER_PHONE_PER_HOUR, window_seconds=HOUR, name="phone")

    now = clock.now()
    PhoneLoginCode.objects.filter(phone=digits, created_at__lt=now - KEEP_OLD_CODES).delete()
    PhoneLoginCode.objects.filter(phone=digits, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    ttl = code_ttl_seconds()
    PhoneLoginCode.objects.create(
        phone=digits,
        code_hash=_code_hash(digits, code),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    # Translated now, in the language of the page the citizen used.
    text = gettext(
        "Your Minsheng verification code is %(code)s, valid for %(minutes)s minutes. "
        "Do not share it."
    ) % {"code": code, "minutes": max(1, ttl // 60)}
    transaction.on_commit(lambda: send_sms(digits, text))


def verify_login_code(*, phone: str, code: str) -> None:
    """Accept ``code`` as proof that the caller holds ``phone``, once; raise if it is not.

    Refusals: ``login_code_wrong`` (the wrong try is counted), ``login_code_locked`` (five wrong
    tries), ``login_code_expired`` (too old, replaced, or none asked for), ``login_code_used``.

    Not wrapped in one transaction like other services: a wrong try must be counted even though
    the call is refused, so the count commits first and the refusal is raised afterwards.
    """
    digits = services.normalize_phone(phone)
    refusal = _check_code(digits, code.strip())
    if refusal is not None:
        raise DomainError(refusal)


@transaction.atomic
def _check_code(phone: str, code: str) -> AppealError | None:
    # The row lock makes two verifications of one code queue up, so only the first can use it
    # (on SQLite the IMMEDIATE transaction already holds the database's write lock).
    row = (
        PhoneLoginCode.objects.select_for_update()
        .filter(phone=phone)
        .order_by("-created_at", "-pk")
        .first()
    )
    now = clock.now()
    if row is None or row.expires_at <= now:
        return AppealError.LOGIN_CODE_EXPIRED
    if row.used_at is not None:
        return AppealError.LOGIN_CODE_USED
    if row.failed_attempts >= MAX_WRONG_ATTEMPTS:
        return AppealError.LOGIN_CODE_LOCKED
    if not constant_time_compare(row.code_hash, _code_hash(phone, code)):
        row.failed_attempts += 1
        row.save(update_fields=["failed_attempts"])
        if row.failed_attempts >= MAX_WRONG_ATTEMPTS:
            return AppealError.LOGIN_CODE_LOCKED
        return AppealError.LOGIN_CODE_WRONG
    # The condition on ``used_at`` is the last word: even without the lock one update wins.
    used = PhoneLoginCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
    return None if used == 1 else AppealError.LOGIN_CODE_USED


# ---------------------------------------------------------------- what a verified phone may read


def citizen_appeals(phone: str) -> QuerySet[Appeal]:
    """The appeals a verified phone owns: those that carry it and are not anonymous.

    An anonymous appeal stays out of reach of the number it was sent with: its sender chose not
    to be linked to it (it can still be followed with its tracking code).
    """
    if not phone:
        return Appeal.objects.none()
    return Appeal.objects.filter(citizen_phone=phone, is_anonymous=False)


def appeals_page(
    phone: str, *, before: int | None = None, limit: int = 50
) -> tuple[list[Appeal], int | None]:
    """Newest first, ``limit`` at a time, keyset-paged by id; returns the rows and the next key."""
    rows = citizen_appeals(phone).select_related("category").order_by("-pk")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    found = list(rows[: limit + 1])
    more = found[limit - 1].pk if len(found) > limit else None
    return found[:limit], more


def owns_appeal(phone: str, tracking_code: str) -> bool:
    return citizen_appeals(phone).filter(tracking_code=tracking_code).exists()
