"""Password complexity and the periodic change of staff passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from minsheng.core.models import AuditRecord
from minsheng.org.models import User

PASSWORD = "Hx-2026-desk-lamp"
NEW = "Quiet#River-7021"


def errors(password: str, user: User | None = None) -> set[str]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("Ab1!xyz", {"password_too_short"}),  # 7 characters
        ("Short1!aB", {"password_too_short"}),  # 9
        ("lowercaseonly", {"password_too_simple"}),  # one class
        ("lower and 123", set()),  # three classes: lower case, digits, spaces (symbols)
        ("abcdefghij12", {"password_too_simple"}),  # two classes
        ("ABCDEFGH-!!", {"password_too_simple"}),  # upper + symbol
        ("Password123", {"password_too_common"}),
        ("Quiet#River-7021", set()),
        ("长城长城长城长城长城1a", {"password_too_simple"}),  # Chinese letters count in no class
    ],
)
def test_complexity_rules(db, password, codes):
    assert errors(password) == codes


def test_a_password_like_the_account_or_containing_its_name_is_refused(db):
    user = User(username="zhangwei", display_name="Zhang Wei", phone="13800001111")

    assert "password_too_similar" in errors("Zhangwei1!", user)
    assert errors("my-ZHANGWEI-Key-2026", user) == {"password_contains_username"}
    assert errors("Own13800001111x!", user) == {"password_too_similar"}
    assert errors(NEW, user) == set()


def test_every_rule_explains_itself_on_the_form(db):
    from django.utils import translation

    with translation.override("zh-hans"):
        texts = password_validation.password_validators_help_texts()
    assert len(texts) == 5


def test_setting_a_password_stamps_the_change_time(world):
    user = world["town_handler"]
    before = timezone.now()

    user.set_password(PASSWORD)
    user.save(update_fields=["password"])  # the stamp goes with it

    stored = User.objects.get(pk=user.pk)
    assert stored.password_changed_at >= before
    assert stored.check_password(PASSWORD)


def age(user: User, days: int, field: str = "password_changed_at") -> None:
    User.objects.filter(pk=user.pk).update(**{field: timezone.now() - timedelta(days=days)})


def client_for(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_an_expired_password_sends_every_staff_page_to_the_change_page(world):
    user = world["town_handler"]
    user.set_password(PASSWORD)
    user.save()
    age(user, 91)
    client = client_for(user)

    queue = client.get("/console/appeals/?status=dispatched")
    admin = client.get("/admin/")
    api = client.get("/api/v1/appeals")
    page = client.get("/console/password/")

    assert (queue.status_code, queue["Location"]) == (
        302,
        "/console/password/?next=%2Fconsole%2Fappeals%2F%3Fstatus%3Ddispatched",
    )
    assert admin["Location"].startswith("/console/password/")
    assert (api.status_code, api.json()["code"]) == (403, "password_expired")
    assert page.status_code == 200
    assert "more than 90 days old" in page.content.decode()
    assert client.get("/").status_code == 200  # the portal is not a staff page


def test_a_password_never_changed_counts_from_when_the_account_was_created(world):
    user = world["town_handler"]
    user.set_password(PASSWORD)
    user.save()
    User.objects.filter(pk=user.pk).update(password_changed_at=None)
    age(user, 89, "date_joined")
    assert client_for(user).get("/console/").status_code == 200

    age(user, 91, "date_joined")

    assert client_for(user).get("/console/")["Location"].startswith("/console/password/")


def test_demo_accounts_and_a_zero_max_age_are_exempt(world, settings):
    demo = world["town_handler"]
    User.objects.filter(pk=demo.pk).update(is_demo=True)
    age(demo, 400)
    other = world["town_leader"]
    age(other, 400)

    assert client_for(demo).get("/console/").status_code == 200
    settings.MINSHENG_PASSWORD_MAX_AGE_DAYS = 0
    assert client_for(other).get("/console/").status_code == 200


def test_changing_the_password_lifts_the_block_and_is_audited(world):
    user = world["town_handler"]
    user.set_password(PASSWORD)
    user.save()
    age(user, 91)
    client = client_for(user)

    response = client.post(
        "/console/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW,
            "new_password2": NEW,
            "next": "/console/appeals/",
        },
    )

    assert (response.status_code, response["Location"]) == (302, "/console/appeals/")
    stored = User.objects.get(pk=user.pk)
    assert stored.check_password(NEW)
    assert timezone.now() - stored.password_changed_at < timedelta(minutes=1)
    assert client.get("/console/appeals/").status_code == 200  # still signed in
    record = AuditRecord.objects.get(action="org.staff.password_change")
    assert (record.actor_id, record.target_id, record.data) == (
        user.pk,
        str(user.pk),
        {"by_self": True},
    )
    assert PASSWORD not in str(record.data) and NEW not in str(record.data)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("wrong", NEW, "Your old password was entered incorrectly"),
        (PASSWORD, "weakpass", "This password is too short"),
        (PASSWORD, PASSWORD, "The new password must differ from the current one"),
    ],
)
def test_a_refused_change_changes_nothing(world, old, new, message):
    user = world["town_handler"]
    user.set_password(PASSWORD)
    user.save()
    age(user, 91)
    client = client_for(user)

    response = client.post(
        "/console/password/", {"old_password": old, "new_password1": new, "new_password2": new}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    stored = User.objects.get(pk=user.pk)
    assert stored.check_password(PASSWORD)
    assert timezone.now() - stored.password_changed_at > timedelta(days=90)
    assert not AuditRecord.objects.filter(action="org.staff.password_change").exists()


def test_the_second_factor_comes_before_the_password_change(world):
    user = world["supervisor"]
    user.set_password(PASSWORD)
    user.save()
    age(user, 91)
    client = Client()
    response = client.post("/console/login/", {"username": user.username, "password": PASSWORD})

    assert response["Location"].startswith("/console/two-factor/")
    assert client.get("/console/password/")["Location"].startswith("/console/two-factor/")
