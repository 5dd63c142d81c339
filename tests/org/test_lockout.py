"""Lockout after five failed logins (django-axes), per username; unlock by a security admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from minsheng.core.models import AuditRecord
from minsheng.org.choices import Role
from minsheng.org.models import User
from minsheng.org.services import create_staff
from tests.conftest import World

PASSWORD = "Hx-2026-desk-lamp"
LOGIN = "/console/login/"


@pytest.fixture
def handler(world: World) -> User:
    user = world["town_handler"]
    user.set_password(PASSWORD)
    user.save()
    return user


def security_admin(world: World) -> User:
    existing = [u for u in world.staff.values() if u.username == "security_admin"]
    if existing:
        return existing[0]
    return create_staff(
        username="security_admin", password=None, posts=[(world.city, Role.SECURITY_ADMIN)]
    )


def browser(address: str = "10.0.0.1") -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=address)


def attempt(client: Client, username: str, password: str) -> int:
    return client.post(LOGIN, {"username": username, "password": password}).status_code


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock(username: str) -> None:
    for index in range(5):
        attempt(browser(f"10.0.0.{index + 1}"), username, "wrong")


def test_fifth_wrong_password_locks_the_account_with_a_translated_429_page(handler: User):
    client = browser()
    for _ in range(4):
        response = client.post(LOGIN, {"username": handler.username, "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    response = client.post(LOGIN, {"username": handler.username, "password": "wrong"})

    assert response.status_code == 429
    body = response.content.decode()
    assert "Account locked" in body
    assert "locked for 30 minutes" in body
    assert list(
        AuditRecord.objects.filter(action="org.staff.lockout").values_list(
            "target_id", "data__username"
        )
    ) == [(str(handler.pk), handler.username)]


def test_a_locked_account_is_refused_even_with_the_right_password(handler: User):
    lock(handler.username)
    client = browser("10.9.9.9")

    response = client.post(LOGIN, {"username": handler.username, "password": PASSWORD})

    assert response.status_code == 429
    assert not logged_in(client)
    # Refused tries during the lockout neither count nor add audit records.
    assert AuditRecord.objects.filter(action="org.staff.lockout").count() == 1


def test_lockout_is_per_username_from_any_address_and_leaves_others_alone(world, handler):
    other = world["town_leader"]
    other.set_password(PASSWORD)
    other.save()

    lock(handler.username)  # five different addresses

    same_office = browser("10.0.0.1")
    assert attempt(same_office, other.username, PASSWORD) == 302
    assert logged_in(same_office)
    assert attempt(browser("10.0.0.7"), handler.username, PASSWORD) == 429


def test_unknown_usernames_are_locked_the_same_way(db):
    lock("nobody")

    response = browser().post(LOGIN, {"username": "nobody", "password": "x"})

    assert response.status_code == 429
    assert list(
        AuditRecord.objects.filter(action="org.staff.lockout").values_list(
            "target_type", "target_id"
        )
    ) == [("org.user", "nobody")]


def test_the_lock_ends_after_the_cool_off(handler: User):
    lock(handler.username)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    client = browser()

    assert attempt(client, handler.username, PASSWORD) == 302
    assert logged_in(client)


def test_a_complete_login_forgets_earlier_failures(handler: User):
    client = browser()
    for _ in range(4):
        attempt(client, handler.username, "wrong")
    assert attempt(client, handler.username, PASSWORD) == 302
    client.post("/console/logout/")

    for _ in range(4):
        assert attempt(client, handler.username, "wrong") == 200

    assert attempt(client, handler.username, PASSWORD) == 302


def test_the_test_clients_login_counts_failures_too(handler: User):
    client = Client()
    for _ in range(5):
        assert client.login(username=handler.username, password="wrong") is False

    assert client.login(username=handler.username, password=PASSWORD) is False
    assert AccessAttempt.objects.get(username=handler.username).failures_since_start == 5


def test_security_admin_sees_and_lifts_a_lockout(world, handler):
    lock(handler.username)
    admin = security_admin(world)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)

    page = client.get("/console/security/")
    assert page.status_code == 200
    assert "Locked" in page.content.decode()

    response = client.post("/console/security/unlock/", {"username": handler.username})

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=handler.username).exists()
    unlock = AuditRecord.objects.get(action="org.staff.unlock")
    assert (unlock.actor_id, unlock.target_id) == (admin.pk, str(handler.pk))
    assert attempt(browser(), handler.username, PASSWORD) == 302


@pytest.mark.parametrize("role", ["center_admin", "town_handler", "auditor"])
def test_other_roles_cannot_unlock(world, handler, role):
    lock(handler.username)
    client = Client()
    client.force_login(world[role])

    assert client.get("/console/security/").status_code == 404
    assert (
        client.post("/console/security/unlock/", {"username": handler.username}).status_code == 404
    )

    assert AccessAttempt.objects.filter(username=handler.username).count() == 5
    assert not AuditRecord.objects.filter(action="org.staff.unlock").exists()


def test_unlock_by_get_is_refused(world, handler):
    lock(handler.username)
    client = Client()
    client.force_login(security_admin(world))

    assert (
        client.get("/console/security/unlock/", {"username": handler.username}).status_code == 405
    )
    assert AccessAttempt.objects.filter(username=handler.username).count() == 5


def test_the_admin_signs_in_through_the_locking_console_login(handler: User):
    lock(handler.username)
    client = browser()

    shown = client.get("/admin/login/", {"next": "/admin/"})
    posted = client.post("/admin/login/", {"username": handler.username, "password": PASSWORD})

    assert (shown.status_code, shown["Location"]) == (302, "/console/login/?next=/admin/")
    assert posted.status_code == 302
    assert posted["Location"].startswith("/console/login/")
    assert not logged_in(client)
