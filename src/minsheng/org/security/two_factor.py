"""TOTP second factor (django-otp) for privileged staff roles; see the package docs."""

from __future__ import annotations

import base64
import re
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from minsheng.core import audit

from ..models import User
from ..selectors import roles_of

CODE_PATTERN = re.compile(r"^\d{6}$")


def required_for(user: Any) -> bool:
    """Whether the account must confirm a code after its password: by its roles, and every
    superuser (the install-time bootstrap account can do everything)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or user.is_demo:
        return False
    if user.is_superuser:
        return True
    return bool(roles_of(user) & set(settings.MINSHENG_TWO_FACTOR_ROLES))


def is_verified(request: HttpRequest) -> bool:
    """Whether this session confirmed a code (``django_otp.login`` stored the device)."""
    return DEVICE_ID_SESSION_KEY in request.session


def session_device_valid(request: HttpRequest) -> bool:
    """Whether the device the session was verified with still exists, is confirmed and is the
    user's (a reset deletes it)."""
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return bool(device and device.confirmed and device.user_id == request.user.pk)


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled: the same secret across page loads."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def clean_code(raw: str) -> str | None:
    """Six digits (spaces and dashes typed between them are dropped), or None."""
    code = re.sub(r"[\s-]", "", raw or "")
    return code if CODE_PATTERN.match(code) else None


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps expect it typed: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str) -> SafeString:
    """The otpauth URI as an inline SVG QR code: attributes only, no style, no script, so the
    strict Content-Security-Policy holds."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff")
    return mark_safe(svg)  # noqa: S308 — segno's own markup of a URI we built


def _checked(device: TOTPDevice, user_id: int, code: str, confirmed: bool) -> TOTPDevice | None:
    """The device, row-locked, if the code is right: two requests with one code cannot both
    pass (django-otp records the used time step on the locked row)."""
    locked = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user_id=user_id).first()
    if locked is None or locked.confirmed != confirmed or not locked.verify_token(code):
        return None
    return locked


@transaction.atomic
def confirm_enrolment(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Confirm a new device with its first code; the session is then verified."""
    checked = _checked(device, request.user.pk, code, confirmed=False)
    if checked is None:
        return False
    device = checked
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    otp_login(request, device)
    audit.record(
        actor=request.user,
        action="org.two_factor.enrol",
        target=request.user,
        data={"device": device.persistent_id},
    )
    return True


@transaction.atomic
def verify(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Check a code of the user's confirmed device; the session is then verified. A code
    already used is refused (django-otp remembers the last time step)."""
    checked = _checked(device, request.user.pk, code, confirmed=True)
    if checked is None:
        return False
    otp_login(request, checked)
    return True


@transaction.atomic
def reset_devices(*, user: User, actor: User) -> int:
    """Remove a staff member's devices (lost phone): the next login enrols again. Audited."""
    count, _ = TOTPDevice.objects.filter(user=user).delete()
    audit.record(
        actor=actor, action="org.two_factor.reset", target=user, data={"devices_removed": count}
    )
    return count
