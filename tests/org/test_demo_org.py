"""The demo organisation 和安市: its tree, its accounts, and a second load that adds nothing."""

from __future__ import annotations

import pytest

from minsheng.core.models import AuditRecord
from minsheng.org.choices import Role, UnitKind
from minsheng.org.demo import (
    CITY_CODE,
    DEMO_ACCOUNTS,
    DEPARTMENT_CODES,
    has_demo_org,
    load_demo_org,
    reset_demo_password,
)
from minsheng.org.models import Membership, OrgUnit, User

pytestmark = pytest.mark.django_db

TERRITORY_KINDS = {UnitKind.TOWNSHIP, UnitKind.STREET}


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # Argon2 costs ~0.1 s a password; the demo hashes nine. The hasher is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_org_has_twelve_townships_and_streets_under_the_city():
    org = load_demo_org()

    assert org.city.code == CITY_CODE
    assert org.city.kind == UnitKind.CITY
    assert org.city.parent is None
    assert len(org.townships) == 12
    assert {unit.kind for unit in org.townships} == TERRITORY_KINDS
    assert all(unit.parent_id == org.city.pk for unit in org.townships)
    assert OrgUnit.objects.filter(kind__in=TERRITORY_KINDS).count() == 12


def test_every_village_and_community_hangs_under_a_township_or_street():
    org = load_demo_org()

    assert len(org.villages) == 70
    per_territory = {}
    for village in OrgUnit.objects.filter(kind__in=[UnitKind.VILLAGE, UnitKind.COMMUNITY]):
        parent = village.parent
        assert parent.kind in TERRITORY_KINDS
        # 村 under 乡镇, 社区 under 街道.
        expected = UnitKind.VILLAGE if parent.kind == UnitKind.TOWNSHIP else UnitKind.COMMUNITY
        assert village.kind == expected
        assert village.code.startswith(parent.code)
        assert village.path.startswith(parent.path)
        per_territory[parent.pk] = per_territory.get(parent.pk, 0) + 1
    assert len(per_territory) == 12
    assert all(4 <= count <= 8 for count in per_territory.values())


def test_departments_sit_directly_under_the_city():
    org = load_demo_org()

    departments = OrgUnit.objects.filter(kind=UnitKind.DEPARTMENT)
    assert 10 <= departments.count() <= 20
    assert len(org.departments) == departments.count() == len(DEPARTMENT_CODES)
    assert all(unit.parent_id == org.city.pk for unit in departments)
    assert departments.get(code=DEPARTMENT_CODES["住房和城乡建设局"]).name == "住房和城乡建设局"


def test_codes_are_unique_and_every_unit_has_pinyin_initials():
    load_demo_org()

    units = list(OrgUnit.objects.all())
    assert len({unit.code for unit in units}) == len(units) == 1 + 12 + 70 + 15
    assert all(unit.code.isdigit() for unit in units)
    assert all(unit.initials.isascii() and unit.initials.islower() for unit in units)
    assert OrgUnit.objects.get(name="和兴镇").initials == "hxz"


def test_units_and_accounts_are_created_through_the_services():
    load_demo_org()

    # The services write one audit record per unit and per account.
    assert AuditRecord.objects.filter(action="org.unit.create").count() == 98
    assert AuditRecord.objects.filter(action="org.staff.create").count() == len(DEMO_ACCOUNTS)


def test_one_demo_account_per_role_with_a_working_password():
    org = load_demo_org()

    expected_roles = {
        Role.SECURITY_ADMIN,
        Role.HOTLINE_AGENT,
        Role.DISPATCHER,
        Role.HANDLER,
        Role.UNIT_LEADER,
        Role.SUPERVISOR,
        Role.CENTER_ADMIN,
        Role.AUDITOR,
    }
    assert {role for _username, role, _code in DEMO_ACCOUNTS} == expected_roles
    assert set(org.accounts) == {username for username, _role, _code in DEMO_ACCOUNTS}
    assert len(org.password) >= 12
    for username, role, code in DEMO_ACCOUNTS:
        user = User.objects.get(username=username)
        assert user.is_demo
        assert user.is_active
        assert user.check_password(org.password)
        assert not user.check_password("wrong password")
        assert [(m.unit.code, m.role) for m in Membership.objects.filter(user=user)] == [
            (code, role)
        ]
    assert User.objects.filter(is_demo=True).count() == len(DEMO_ACCOUNTS)


def test_center_roles_sit_at_the_city_and_handlers_spread_over_three_levels():
    load_demo_org()

    center = {Role.HOTLINE_AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.CENTER_ADMIN}
    center |= {Role.AUDITOR}
    memberships = Membership.objects.select_related("unit")
    assert {m.unit.code for m in memberships.filter(role__in=center)} == {CITY_CODE}
    handler_kinds = {m.unit.kind for m in memberships.filter(role=Role.HANDLER)}
    assert handler_kinds == {UnitKind.TOWNSHIP, UnitKind.VILLAGE, UnitKind.DEPARTMENT}
    leader = memberships.get(role=Role.UNIT_LEADER)
    assert memberships.filter(role=Role.HANDLER, unit=leader.unit).exists()


def test_has_demo_org_flips_to_true():
    assert has_demo_org() is False

    load_demo_org()

    assert has_demo_org() is True


def test_a_second_load_creates_and_changes_nothing():
    first = load_demo_org()
    units_before = OrgUnit.objects.count()
    audit_before = AuditRecord.objects.count()

    second = load_demo_org()

    assert OrgUnit.objects.count() == units_before
    assert User.objects.count() == len(DEMO_ACCOUNTS)
    assert AuditRecord.objects.count() == audit_before
    assert second.city.pk == first.city.pk
    assert [u.pk for u in second.townships] == [u.pk for u in first.townships]
    assert [u.pk for u in second.villages] == [u.pk for u in first.villages]
    assert [u.pk for u in second.departments] == [u.pk for u in first.departments]
    assert set(second.accounts) == set(first.accounts)
    # Only a hash is stored, so the second load cannot tell the password; it still works.
    assert second.password == ""
    assert User.objects.get(username="dispatcher").check_password(first.password)


def test_reset_demo_password_gives_every_demo_account_a_new_one():
    first = load_demo_org()

    password = reset_demo_password()

    assert password != first.password
    for user in User.objects.filter(is_demo=True):
        assert user.check_password(password)
        assert not user.check_password(first.password)
    resets = AuditRecord.objects.filter(action="org.staff.demo_password_reset")
    assert resets.count() == len(DEMO_ACCOUNTS)
