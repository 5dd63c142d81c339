"""TOTP second factor for center_admin, supervisor, auditor and security_admin: the real flow."""

from __future__ import annotations

import base64
import re
import time

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from minsheng.core.middleware import LAST_ACTIVITY
from minsheng.core.models import AuditRecord
from minsheng.org.choices import Role
from minsheng.org.models import User
from minsheng.org.services import create_staff
from tests.conftest import World, totp_code

PASSWORD = "Hx-2026-desk-lamp"
TWO_FACTOR = "/console/two-factor/"


def with_password(user: User) -> User:
    user.set_password(PASSWORD)
    user.save()
    return user


def password_login(user: User) -> tuple[Client, str]:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/console/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client, response["Location"]


def code_from_secret(secret_text: str) -> str:
    key = base64.b32decode(
        secret_text.replace(" ", "") + "=" * (-len(secret_text.replace(" ", "")) % 8)
    )
    return f"{TOTP(key).token():06d}"


def enrol(user: User) -> Client:
    client, _ = password_login(user)
    page = client.get(TWO_FACTOR).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    response = client.post(TWO_FACTOR, {"code": code_from_secret(secret), "next": "/console/"})
    assert response.status_code == 302
    return client


def security_admin(world: World) -> User:
    existing = [u for u in world.staff.values() if u.username == "security_admin"]
    if existing:
        return existing[0]
    return create_staff(
        username="security_admin", password=None, posts=[(world.city, Role.SECURITY_ADMIN)]
    )


@pytest.mark.parametrize("role", ["supervisor", "center_admin", "auditor"])
def test_password_alone_leads_to_enrolment_and_opens_nothing(world, role):
    user = with_password(world[role])

    client, location = password_login(user)

    assert location == "/console/two-factor/?next=%2Fconsole%2F"
    page = client.get(TWO_FACTOR).content.decode()
    assert 'id="totp-secret"' in page
    assert "otpauth://totp/" in page
    assert "<svg" in page and "style=" not in page and "<script" not in page
    home = client.get("/console/appeals/")
    assert (home.status_code, home["Location"]) == (
        302,
        "/console/two-factor/?next=%2Fconsole%2Fappeals%2F",
    )
    assert client.get("/admin/")["Location"].startswith("/console/two-factor/")
    api = client.get("/api/v1/appeals")
    assert api.status_code == 403
    assert api.json()["code"] == "two_factor_required"
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_the_security_admin_needs_the_second_factor_too(world):
    user = with_password(security_admin(world))

    _, location = password_login(user)

    assert location.startswith(TWO_FACTOR)


@pytest.mark.parametrize("role", ["town_handler", "agent", "dispatcher"])
def test_other_roles_are_not_asked(world, role):
    user = with_password(world[role])

    client, location = password_login(user)

    assert location == "/console/"
    assert client.get("/console/").status_code == 200
    assert not TOTPDevice.objects.exists()


def test_enrolment_confirms_the_device_and_opens_the_console(world):
    user = with_password(world["supervisor"])
    client, _ = password_login(user)
    first = client.get(TWO_FACTOR).content.decode()
    again = client.get(TWO_FACTOR).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', first).group(1)
    assert secret in again  # the same secret across page loads

    wrong = client.post(TWO_FACTOR, {"code": "000000"})
    assert wrong.status_code == 200
    assert "This code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    response = client.post(TWO_FACTOR, {"code": code_from_secret(secret), "next": "/console/"})

    assert (response.status_code, response["Location"]) == (302, "/console/")
    assert client.get("/console/").status_code == 200
    assert client.get("/api/v1/appeals").status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert (
        AuditRecord.objects.filter(action="org.two_factor.enrol", target_id=str(user.pk)).count()
        == 1
    )
    assert AccessAttempt.objects.filter(username=user.username).count() == 0  # cleared


def test_later_logins_ask_for_a_code_and_refuse_a_used_one(world):
    user = with_password(world["supervisor"])
    enrol(user)
    device = TOTPDevice.objects.get(user=user)

    client, location = password_login(user)
    page = client.get(location).content.decode()
    assert 'id="totp-secret"' not in page  # no secret shown once enrolled
    used = f"{TOTP(device.bin_key).token():06d}"  # the code enrolment just consumed
    refused = client.post(TWO_FACTOR, {"code": used})
    assert refused.status_code == 200
    assert client.get("/console/").status_code == 302

    response = client.post(TWO_FACTOR, {"code": totp_code(device), "next": "/console/appeals/"})

    assert (response.status_code, response["Location"]) == (302, "/console/appeals/")
    assert client.get("/console/appeals/").status_code == 200


def test_an_outside_next_is_ignored(world):
    user = with_password(world["auditor"])
    client, _ = password_login(user)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', client.get(TWO_FACTOR).content.decode())

    response = client.post(
        TWO_FACTOR, {"code": code_from_secret(secret.group(1)), "next": "https://evil.example/"}
    )

    assert response["Location"] == "/console/"


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1" * 100, "12 34 5x"])
def test_malformed_codes_are_refused_without_a_500(world, code):
    user = with_password(world["supervisor"])
    client, _ = password_login(user)

    response = client.post(TWO_FACTOR, {"code": code})

    assert response.status_code == 200
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_wrong_codes_count_toward_the_lockout(world):
    user = with_password(world["supervisor"])
    enrol(user)
    client, _ = password_login(user)
    for _ in range(4):
        assert client.post(TWO_FACTOR, {"code": "000000"}).status_code == 200

    response = client.post(TWO_FACTOR, {"code": "000000"})

    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert "_auth_user_id" not in client.session  # the half-login is over
    assert AuditRecord.objects.filter(action="org.staff.lockout").count() == 1
    again = Client().post("/console/login/", {"username": user.username, "password": PASSWORD})
    assert again.status_code == 429


def test_a_new_password_login_does_not_reset_the_code_failures(world):
    user = with_password(world["supervisor"])
    enrol(user)
    for _ in range(2):
        client, _ = password_login(user)
        client.post(TWO_FACTOR, {"code": "000000"})
        client.post(TWO_FACTOR, {"code": "000000"})
    client, _ = password_login(user)

    assert client.post(TWO_FACTOR, {"code": "000000"}).status_code == 429


def test_security_admin_resets_a_device_and_the_user_enrols_again(world):
    user = with_password(world["supervisor"])
    session_of_user = enrol(user)
    admin = security_admin(world)
    console = Client()
    console.force_login(admin)

    response = console.post(f"/console/security/{user.pk}/reset-two-factor/")

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    reset = AuditRecord.objects.get(action="org.two_factor.reset")
    assert (reset.actor_id, reset.target_id, reset.data) == (
        admin.pk,
        str(user.pk),
        {"devices_removed": 1},
    )
    # The running session loses its second factor at its next once-a-minute check.
    session = session_of_user.session
    session[LAST_ACTIVITY] = int(time.time()) - 61
    session.save()
    assert session_of_user.get("/console/")["Location"].startswith(TWO_FACTOR)
    client, _ = password_login(user)
    assert 'id="totp-secret"' in client.get(TWO_FACTOR).content.decode()


@pytest.mark.parametrize("role", ["center_admin", "supervisor", "town_handler"])
def test_only_the_security_admin_resets_devices(world, role):
    user = with_password(world["auditor"])
    enrol(user)
    client = Client()
    client.force_login(world[role])

    assert client.post(f"/console/security/{user.pk}/reset-two-factor/").status_code == 404
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert not AuditRecord.objects.filter(action="org.two_factor.reset").exists()


def test_a_role_granted_during_a_session_asks_for_the_code_within_a_minute(world):
    user = with_password(world["town_handler"])
    client, _ = password_login(user)
    assert client.get("/console/").status_code == 200

    user.memberships.create(unit=world.city, role=Role.SUPERVISOR)
    session = client.session
    session[LAST_ACTIVITY] = int(time.time()) - 61
    session.save()

    assert client.get("/console/")["Location"].startswith(TWO_FACTOR)


def test_demo_accounts_are_not_asked(world):
    user = with_password(world["center_admin"])
    User.objects.filter(pk=user.pk).update(is_demo=True)

    client, location = password_login(user)

    assert location == "/console/"


def test_api_tokens_are_not_affected(world):
    from minsheng.org.services import create_api_token

    _, secret = create_api_token(name="话务系统", unit=world.city, actor=None)

    response = Client().get("/api/v1/appeals", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 200


def test_a_token_works_beside_an_unverified_session(world):
    from minsheng.org.services import create_api_token

    _, secret = create_api_token(name="话务系统", unit=world.city, actor=None)
    client, _ = password_login(with_password(world["supervisor"]))

    response = client.get("/api/v1/appeals", HTTP_AUTHORIZATION=f"Bearer {secret}")
    bad_token = client.get("/api/v1/appeals", HTTP_AUTHORIZATION="Bearer ms_x_y")

    assert response.status_code == 200
    assert bad_token.status_code == 401  # the unverified session does not stand in


def test_a_superuser_needs_the_second_factor(db):
    user = User.objects.create_superuser("root", password=PASSWORD)

    client, location = password_login(user)

    assert location.startswith(TWO_FACTOR)
    assert client.get("/admin/")["Location"].startswith(TWO_FACTOR)
