"""Reference-data edits in the admin are audited, secrets never copied into the log."""

from __future__ import annotations

import pytest

from minsheng.appeals.models import TimeLimit
from minsheng.core.audit import verify_chain
from minsheng.core.models import AuditRecord
from minsheng.org.models import Membership, User

pytestmark = pytest.mark.django_db


def test_time_limit_edit_is_audited(admin_client, world):
    limit = TimeLimit.objects.get(urgency="")
    response = admin_client.post(
        f"/admin/appeals/timelimit/{limit.pk}/change/",
        {
            "appeal_type": "",
            "category": "",
            "urgency": "",
            "accept_amount": 3,
            "accept_unit": "hours",
            "complete_amount": 7,
            "complete_unit": "working_days",
        },
    )
    assert response.status_code == 302
    record = AuditRecord.objects.filter(action="admin.timelimit.change").get()
    assert record.data == {"changed": {"accept_amount": "3", "complete_amount": "7"}}
    assert record.actor.username == "admin"
    assert list(verify_chain()) == []


def test_staff_roles_and_password_changes_are_audited_without_the_hash(admin_client, world):
    user = world["town_handler"]
    form = {
        "username": user.username,
        "display_name": "新名字",
        "phone": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "first_name": "",
        "last_name": "",
        "email": "",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(Membership.objects.get(user=user).pk),
        "memberships-0-user": str(user.pk),
        "memberships-0-unit": str(world.town.pk),
        "memberships-0-role": "handler",
        "memberships-1-user": str(user.pk),
        "memberships-1-unit": str(world.town.pk),
        "memberships-1-role": "unit_leader",
    }
    response = admin_client.post(f"/admin/org/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(pk=user.pk).display_name == "新名字"
    # the role is recorded once, by the service that granted it
    granted = AuditRecord.objects.get(action="org.role.grant")
    assert (granted.data["role"], granted.data["unit"]) == ("unit_leader", world.town.code)
    assert not AuditRecord.objects.filter(action="admin.membership.add").exists()

    # when a new password is set on the admin's password page
    new_password = "Zx9!kq2#Lm7pR"
    response = admin_client.post(
        f"/admin/org/user/{user.pk}/password/",
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert user.check_password(new_password)
    changed = AuditRecord.objects.get(action="admin.user.password")
    assert (changed.target_id, changed.data) == (
        str(user.pk),
        {"changed": {"password": "(changed)"}},
    )
    for record in AuditRecord.objects.filter(action__startswith="admin."):
        assert "argon2" not in str(record.data)
        assert new_password not in str(record.data)
    assert list(verify_chain()) == []
