"""Separated administrator duties (三员分立): who may administer what, and one duty per account."""

from __future__ import annotations

import re

import pytest
from django.core import checks

from minsheng.appeals.models import TimeLimit
from minsheng.core.checks import check_separated_duties
from minsheng.core.errors import DomainError
from minsheng.core.models import AuditRecord
from minsheng.org import permissions
from minsheng.org.choices import Role
from minsheng.org.models import ApiToken, Membership, OrgUnit, User
from minsheng.org.services import (
    create_api_token,
    create_staff,
    grant_role,
    revoke_api_token,
    revoke_role,
)
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def _state() -> tuple[list[tuple[int, str, int]], int]:
    """Every role assignment and the audit log's length: what a refused action must not touch."""
    rows = sorted(Membership.objects.values_list("user_id", "role", "unit_id"))
    return rows, AuditRecord.objects.count()


# --- predicates ----------------------------------------------------------------------------------

PREDICATES = {
    "use_admin": permissions.can_use_admin,
    "reference_data": permissions.can_manage_reference_data,
    "staff_accounts": permissions.can_manage_staff_accounts,
    "roles": permissions.can_manage_roles,
    "api_tokens": permissions.can_manage_api_tokens,
    "unlock": permissions.can_unlock_account,
    "audit_log": permissions.can_view_audit_log,
    "change_audit_log": permissions.can_change_audit_log,
}
ALLOWED = {
    "center_admin": {"use_admin", "reference_data", "staff_accounts"},
    "security_admin": {"use_admin", "roles", "api_tokens", "unlock"},
    "auditor": {"audit_log"},
    "dispatcher": set(),
    "supervisor": set(),
    "agent": set(),
    "town_leader": set(),
    "town_handler": set(),
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
@pytest.mark.parametrize("predicate", sorted(PREDICATES))
def test_each_duty_may_do_exactly_its_own_part(world, name, predicate):
    allowed = PREDICATES[predicate](fresh(world[name]))
    assert allowed is (predicate in ALLOWED[name])


def test_a_deactivated_duty_holder_may_do_nothing(world):
    for name in ("center_admin", "security_admin", "auditor"):
        User.objects.filter(pk=world[name].pk).update(is_active=False)
        user = fresh(world[name])
        assert [p(user) for p in PREDICATES.values()] == [False] * len(PREDICATES)


def test_the_security_administrator_is_no_center_role_and_sees_no_appeal(world):
    from minsheng.appeals.models import Appeal
    from minsheng.appeals.permissions import can_view, visible_to
    from minsheng.org.choices import CENTER_ROLES
    from tests.appeals.factories import dispatched

    appeal = dispatched(world)
    security = fresh(world["security_admin"])

    assert Role.SECURITY_ADMIN not in CENTER_ROLES
    assert not can_view(security, appeal)
    assert list(Appeal.objects.filter(visible_to(security))) == []
    assert list(Appeal.objects.filter(visible_to(fresh(world["center_admin"])))) == [appeal]


def test_the_center_administrator_cannot_take_over_the_other_duties_accounts(world):
    admin = fresh(world["center_admin"])
    assert permissions.can_change_staff_account(admin, world["town_handler"])
    assert permissions.can_change_staff_account(admin, world["center_admin"])
    assert not permissions.can_change_staff_account(admin, world["security_admin"])
    assert not permissions.can_change_staff_account(admin, world["auditor"])
    token, _secret = create_api_token(name="话务", unit=world.city, actor=None)
    assert not permissions.can_change_staff_account(admin, token.account)


def test_a_superuser_passes_every_duty_rule_but_the_audit_logs(world):
    root = User.objects.create_superuser("root", password=None)
    assert [name for name, p in sorted(PREDICATES.items()) if p(root)] == [
        "api_tokens",
        "reference_data",
        "roles",
        "staff_accounts",
        "unlock",
        "use_admin",
    ]


# --- grant_role / revoke_role --------------------------------------------------------------------


def test_the_security_administrator_grants_a_role_audited(world):
    handler = world["town_handler"]

    membership = grant_role(
        user=handler, unit=world.city, role=Role.DISPATCHER, actor=world["security_admin"]
    )

    assert (membership.user_id, membership.unit_id, membership.role) == (
        handler.pk,
        world.city.pk,
        "dispatcher",
    )
    record = AuditRecord.objects.get(action="org.role.grant")
    assert (record.actor_id, record.target_type, record.target_id) == (
        world["security_admin"].pk,
        "org.user",
        str(handler.pk),
    )
    assert record.data == {"role": "dispatcher", "unit": "C", "membership": membership.pk}


@pytest.mark.parametrize("name", ["center_admin", "auditor", "dispatcher", "town_leader"])
def test_no_one_but_the_security_administrator_grants_or_revokes_roles(world, name):
    actor = world[name]
    before = _state()
    with pytest.raises(DomainError) as refused:
        grant_role(user=world["town_handler"], unit=world.city, role="dispatcher", actor=actor)
    assert (refused.value.code, refused.value.status) == ("org_not_permitted", 403)
    membership = Membership.objects.get(user=world["town_handler"])
    with pytest.raises(DomainError) as refused:
        revoke_role(membership=membership, actor=actor)
    assert refused.value.code == "org_not_permitted"
    assert _state() == before


@pytest.mark.parametrize(
    ("holder", "duty"),
    [
        ("center_admin", Role.AUDITOR),
        ("center_admin", Role.SECURITY_ADMIN),
        ("auditor", Role.CENTER_ADMIN),
        ("auditor", Role.SECURITY_ADMIN),
    ],
)
def test_one_account_holds_at_most_one_duty(world, holder, duty):
    before = _state()
    with pytest.raises(DomainError) as refused:
        grant_role(user=world[holder], unit=world.town, role=duty, actor=world["security_admin"])
    assert (refused.value.code, refused.value.status) == ("duty_conflict", 409)
    assert _state() == before


def test_the_same_duty_in_a_second_unit_and_other_roles_beside_a_duty_are_allowed(world):
    admin = world["center_admin"]
    grant_role(user=admin, unit=world.town, role=Role.CENTER_ADMIN, actor=world["security_admin"])
    grant_role(user=admin, unit=world.city, role=Role.DISPATCHER, actor=world["security_admin"])
    assert sorted(Membership.objects.filter(user=admin).values_list("role", flat=True)) == [
        "center_admin",
        "center_admin",
        "dispatcher",
    ]


def test_nobody_grants_or_removes_their_own_roles(world):
    security = world["security_admin"]
    before = _state()
    with pytest.raises(DomainError) as refused:
        grant_role(user=security, unit=world.city, role=Role.DISPATCHER, actor=security)
    assert refused.value.code == "own_roles"
    with pytest.raises(DomainError) as refused:
        revoke_role(membership=Membership.objects.get(user=security), actor=security)
    assert refused.value.code == "own_roles"
    assert _state() == before


def test_an_integration_role_and_unknown_roles_are_not_grantable(world):
    before = _state()
    for role in (Role.INTEGRATION, "root"):
        with pytest.raises(DomainError) as refused:
            grant_role(
                user=world["agent"], unit=world.city, role=role, actor=world["security_admin"]
            )
        assert (refused.value.code, refused.value.status) == ("role_not_grantable", 422)
    assert _state() == before


def test_a_role_held_already_is_refused(world):
    before = _state()
    with pytest.raises(DomainError) as refused:
        grant_role(
            user=world["agent"],
            unit=world.city,
            role="hotline_agent",
            actor=world["security_admin"],
        )
    assert refused.value.code == "role_already_held"
    assert _state() == before


def test_the_security_administrator_revokes_a_role_audited(world):
    membership = Membership.objects.get(user=world["auditor"])

    revoke_role(membership=membership.pk, actor=world["security_admin"])

    assert not Membership.objects.filter(pk=membership.pk).exists()
    record = AuditRecord.objects.get(action="org.role.revoke")
    assert record.data == {"role": "auditor", "unit": "C", "membership": membership.pk}
    assert record.actor_id == world["security_admin"].pk
    with pytest.raises(DomainError) as refused:
        revoke_role(membership=membership.pk, actor=world["security_admin"])
    assert (refused.value.code, refused.value.status) == ("membership_not_found", 404)


def test_creating_an_account_with_two_duties_is_refused(world):
    users = User.objects.count()
    with pytest.raises(DomainError) as refused:
        create_staff(
            username="both",
            password=None,
            posts=[(world.city, Role.CENTER_ADMIN), (world.city, Role.AUDITOR)],
        )
    assert refused.value.code == "duty_conflict"
    assert User.objects.count() == users


# --- API tokens ----------------------------------------------------------------------------------


def test_only_the_security_administrator_issues_and_revokes_tokens(world):
    before = (ApiToken.objects.count(), AuditRecord.objects.count())
    for name in ("center_admin", "auditor", "dispatcher"):
        with pytest.raises(DomainError) as refused:
            create_api_token(name="话务", unit=world.city, actor=world[name])
        assert refused.value.code == "org_not_permitted"
    assert (ApiToken.objects.count(), AuditRecord.objects.count()) == before

    token, _secret = create_api_token(name="话务", unit=world.city, actor=world["security_admin"])
    with pytest.raises(DomainError):
        revoke_api_token(token=token, actor=world["center_admin"])
    token.refresh_from_db()
    assert token.revoked_at is None

    revoke_api_token(token=token, actor=world["security_admin"])
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not User.objects.get(pk=token.account_id).is_active
    with pytest.raises(DomainError) as refused:
        revoke_api_token(token=token, actor=world["security_admin"])
    assert refused.value.code == "token_revoked"


# --- the admin -----------------------------------------------------------------------------------


def _login(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(("name", "status"), [("center_admin", 200), ("security_admin", 200)])
def test_the_admin_opens_to_the_system_and_security_administrators(client, world, name, status):
    assert _login(client, world[name]).get("/admin/").status_code == status


@pytest.mark.parametrize("name", ["auditor", "dispatcher", "town_handler"])
def test_the_admin_sends_everyone_else_back_to_the_console(client, world, name):
    User.objects.filter(pk=world[name].pk).update(is_staff=True)  # the flag alone opens nothing
    response = _login(client, world[name]).get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/console/", 302)


def test_the_admin_login_is_the_consoles(client, world):
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=")


def test_reference_data_is_the_center_administrators(client, world):
    limit = TimeLimit.objects.get(urgency="")
    url = f"/admin/appeals/timelimit/{limit.pk}/change/"
    assert _login(client, world["center_admin"]).get(url).status_code == 200
    client.logout()
    assert _login(client, world["security_admin"]).get(url).status_code == 403
    assert client.get("/admin/appeals/timelimit/").status_code == 403
    assert client.get("/admin/core/calendarday/").status_code == 403
    assert client.get("/admin/appeals/category/").status_code == 403
    assert client.get("/admin/appeals/dispatchrule/").status_code == 403


def _user_form(user: User, memberships: list[Membership], new: list[tuple[int, str]]) -> dict:
    form = {
        "username": user.username,
        "display_name": "新名字",
        "phone": "",
        "is_active": "on",
        "first_name": "",
        "last_name": "",
        "email": "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "memberships-TOTAL_FORMS": str(len(memberships) + len(new)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, membership in enumerate(memberships):
        form[f"memberships-{i}-id"] = str(membership.pk)
        form[f"memberships-{i}-user"] = str(user.pk)
        form[f"memberships-{i}-unit"] = str(membership.unit_id)
        form[f"memberships-{i}-role"] = membership.role
    for j, (unit_id, role) in enumerate(new, start=len(memberships)):
        form[f"memberships-{j}-user"] = str(user.pk)
        form[f"memberships-{j}-unit"] = str(unit_id)
        form[f"memberships-{j}-role"] = role
    return form


def test_the_center_administrator_edits_a_profile_but_not_its_roles(client, world):
    handler = world["town_handler"]
    roles_before = _state()[0]
    form = _user_form(
        handler, list(Membership.objects.filter(user=handler)), [(world.city.pk, "dispatcher")]
    )
    form["is_staff"] = "on"
    form["is_superuser"] = "on"

    response = _login(client, world["center_admin"]).post(
        f"/admin/org/user/{handler.pk}/change/", form
    )

    assert response.status_code == 302
    handler = User.objects.get(pk=handler.pk)
    assert (handler.display_name, handler.is_staff, handler.is_superuser) == (
        "新名字",
        False,
        False,
    )
    assert _state()[0] == roles_before


def test_the_security_administrator_grants_in_the_admin_but_edits_no_profile(client, world):
    handler = world["town_handler"]
    form = _user_form(
        handler, list(Membership.objects.filter(user=handler)), [(world.city.pk, "dispatcher")]
    )

    response = _login(client, world["security_admin"]).post(
        f"/admin/org/user/{handler.pk}/change/", form
    )

    assert response.status_code == 302
    assert User.objects.get(pk=handler.pk).display_name == ""
    assert sorted(Membership.objects.filter(user=handler).values_list("role", flat=True)) == [
        "dispatcher",
        "handler",
    ]
    grant = AuditRecord.objects.get(action="org.role.grant")
    assert (grant.actor_id, grant.data["role"]) == (world["security_admin"].pk, "dispatcher")


def test_the_admin_refuses_a_second_duty_with_a_clear_message(client, world):
    admin = world["center_admin"]
    before = _state()
    form = _user_form(
        admin, list(Membership.objects.filter(user=admin)), [(world.city.pk, "auditor")]
    )

    response = _login(client, world["security_admin"]).post(
        f"/admin/org/user/{admin.pk}/change/", form, headers={"accept-language": "en"}
    )

    assert response.status_code == 200
    assert (
        "One account may hold only one of the duties center administrator, security "
        "administrator and auditor (separation of duties)."
    ) in response.content.decode()
    assert _state() == before


def test_the_admin_removes_a_role_through_the_service(client, world):
    auditor = world["auditor"]
    membership = Membership.objects.get(user=auditor)
    form = _user_form(auditor, [membership], [])
    form["memberships-0-DELETE"] = "on"

    response = _login(client, world["security_admin"]).post(
        f"/admin/org/user/{auditor.pk}/change/", form
    )

    assert response.status_code == 302
    assert not Membership.objects.filter(user=auditor).exists()
    assert (
        AuditRecord.objects.filter(action="org.role.revoke", target_id=str(auditor.pk)).count() == 1
    )


def test_the_security_administrator_cannot_change_their_own_roles_in_the_admin(client, world):
    security = world["security_admin"]
    before = _state()
    form = _user_form(
        security, list(Membership.objects.filter(user=security)), [(world.city.pk, "dispatcher")]
    )

    response = _login(client, security).post(f"/admin/org/user/{security.pk}/change/", form)

    assert response.status_code == 403
    assert _state() == before


@pytest.mark.parametrize(
    ("target", "status"), [("town_handler", 200), ("security_admin", 403), ("auditor", 403)]
)
def test_the_center_administrator_sets_passwords_of_plain_staff_only(client, world, target, status):
    url = f"/admin/org/user/{world[target].pk}/password/"
    assert _login(client, world["center_admin"]).get(url).status_code == status


def test_the_security_administrator_finds_units_to_grant_roles_in(client, world):
    _login(client, world["security_admin"])
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "org", "model_name": "membership", "field_name": "unit", "term": "和兴"},
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["和兴镇"]
    assert client.get(f"/admin/org/orgunit/{world.town.pk}/change/").status_code == 200
    before = OrgUnit.objects.values_list("pk", "name").get(pk=world.town.pk)
    client.post(f"/admin/org/orgunit/{world.town.pk}/change/", {"name": "改名", "code": "T1"})
    assert OrgUnit.objects.values_list("pk", "name").get(pk=world.town.pk) == before


def test_the_center_administrator_cannot_deactivate_the_security_administrator(client, world):
    security = world["security_admin"]
    form = _user_form(security, list(Membership.objects.filter(user=security)), [])
    del form["is_active"]

    response = _login(client, world["center_admin"]).post(
        f"/admin/org/user/{security.pk}/change/", form
    )

    assert response.status_code == 403
    assert User.objects.get(pk=security.pk).is_active


def test_the_security_administrator_sets_no_password(client, world):
    url = f"/admin/org/user/{world['town_handler'].pk}/password/"
    assert _login(client, world["security_admin"]).get(url).status_code == 403


def test_no_account_is_deleted_in_the_admin(client, world):
    url = f"/admin/org/user/{world['town_handler'].pk}/delete/"
    assert _login(client, world["center_admin"]).get(url).status_code == 403
    assert User.objects.filter(pk=world["town_handler"].pk).exists()


def test_tokens_are_revoked_by_the_security_administrator_in_the_admin(client, world):
    token, _secret = create_api_token(name="话务", unit=world.city, actor=None)
    assert _login(client, world["center_admin"]).get("/admin/org/apitoken/").status_code == 403
    client.logout()

    _login(client, world["security_admin"])
    assert client.get("/admin/org/apitoken/").status_code == 200
    response = client.post(
        "/admin/org/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditRecord.objects.filter(action="org.token.revoke").get().actor_id == (
        world["security_admin"].pk
    )


@pytest.mark.parametrize("name", ["center_admin", "security_admin"])
def test_the_audit_log_has_no_admin_pages(client, world, name):
    assert _login(client, world[name]).get("/admin/core/auditrecord/").status_code == 404


# --- system checks -------------------------------------------------------------------------------


def test_the_check_lists_accounts_holding_two_duties(world):
    # given: a second duty slipped in past the services (a hand-made database row)
    Membership.objects.create(user=world["center_admin"], unit=world.city, role=Role.AUDITOR)

    messages = check_separated_duties()

    assert [(m.id, m.level) for m in messages] == [("minsheng.core.W003", checks.WARNING)]
    assert "center_admin: auditor, center_admin" in messages[0].msg


def test_the_check_warns_of_an_active_superuser_beside_the_three_duties(world):
    root = User.objects.create_superuser("root", password=None)
    assert [m.id for m in check_separated_duties()] == ["minsheng.core.W001"]
    User.objects.filter(pk=root.pk).update(is_active=False)
    assert check_separated_duties() == []


def test_a_bootstrap_superuser_before_the_duties_exist_is_fine(db):
    User.objects.create_superuser("root", password=None)
    assert check_separated_duties() == []


def test_minsheng_manage_check_names_the_violators(world):
    # a warning, not an error: an error would also stop `migrate` (an upgrade) until fixed
    from io import StringIO

    from django.core.management import call_command

    Membership.objects.create(user=world["auditor"], unit=world.town, role=Role.SECURITY_ADMIN)
    out = StringIO()

    call_command("check", stdout=out, stderr=out)

    assert "(minsheng.core.W003)" in out.getvalue()
    assert "auditor: auditor, security_admin" in out.getvalue()


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        (
            "center_admin",
            [
                "/admin/appeals/category/",
                "/admin/appeals/dispatchrule/",
                "/admin/appeals/timelimit/",
                "/admin/core/calendarday/",
                "/admin/core/calendaryear/",
                "/admin/org/orgunit/",
                "/admin/org/user/",
            ],
        ),
        ("security_admin", ["/admin/org/apitoken/", "/admin/org/user/"]),
    ],
)
def test_the_admin_index_lists_each_duty_its_own_models(client, world, name, listed):
    page = _login(client, world[name]).get("/admin/").content.decode()
    shown = sorted(set(re.findall(r'href="(/admin/[a-z_]+/[a-z]+/)"', page)))
    assert shown == listed


def test_the_security_administrator_reads_no_citizen_data_in_the_console_or_the_api(client, world):
    from tests.appeals.factories import dispatched

    appeal = dispatched(world, phone="13812341234")
    _login(client, world["security_admin"])

    assert client.get(f"/console/appeals/{appeal.pk}/").status_code == 404
    assert "13812341234" not in client.get("/console/appeals/").content.decode()
    assert appeal.tracking_code not in client.get("/console/appeals/").content.decode()
    assert client.get("/api/v1/appeals").json()["items"] == []
    assert client.get("/console/stats/").status_code in (403, 404)
    assert client.get("/console/hotspots/").status_code in (403, 404)
