"""Shared fixtures: a small city with every role, built through the services users call."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import settings as hypothesis_settings

from minsheng.appeals.models import Category, DispatchRule, TimeLimit
from minsheng.org.choices import Role, UnitKind
from minsheng.org.models import OrgUnit, User
from minsheng.org.security import gate, two_factor
from minsheng.org.services import create_staff, create_unit

# CI explores the same examples on every run, so a red build always means a change broke
# something; local runs keep exploring new examples (and remember failures in .hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@dataclass
class World:
    city: OrgUnit
    town: OrgUnit  # 和兴镇
    village: OrgUnit  # 和兴镇 · 东村
    other_town: OrgUnit  # 青石镇
    other_village: OrgUnit  # 青石镇 · 西村
    dept: OrgUnit  # 住建局
    other_dept: OrgUnit  # 环保局
    road: Category  # 城乡建设 › 道路
    noise: Category  # 环境保护 › 噪音
    staff: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, name: str) -> User:
        return self.staff[name]


def make_world() -> World:
    city = create_unit(name="和安市", code="C", kind=UnitKind.CITY)
    town = create_unit(name="和兴镇", code="T1", kind=UnitKind.TOWNSHIP, parent=city)
    village = create_unit(name="东村", code="T1V1", kind=UnitKind.VILLAGE, parent=town)
    other_town = create_unit(name="青石镇", code="T2", kind=UnitKind.TOWNSHIP, parent=city)
    other_village = create_unit(name="西村", code="T2V1", kind=UnitKind.VILLAGE, parent=other_town)
    dept = create_unit(name="住建局", code="D1", kind=UnitKind.DEPARTMENT, parent=city)
    other_dept = create_unit(name="环保局", code="D2", kind=UnitKind.DEPARTMENT, parent=city)

    build = Category.objects.create(code="01", name="城乡建设", level=1)
    road = Category.objects.create(code="0101", name="道路", parent=build, level=2)
    env = Category.objects.create(code="02", name="环境保护", level=1)
    noise = Category.objects.create(code="0201", name="噪音", parent=env, level=2)
    TimeLimit.objects.create(
        accept_amount=2, accept_unit="hours", complete_amount=5, complete_unit="working_days"
    )
    TimeLimit.objects.create(
        urgency="critical",
        accept_amount=30,
        accept_unit="hours",
        complete_amount=24,
        complete_unit="hours",
    )
    DispatchRule.objects.create(category=build, territory=None, unit=dept)
    DispatchRule.objects.create(category=road, territory=town, unit=town)
    DispatchRule.objects.create(category=env, territory=None, unit=other_dept)

    posts = {
        "agent": (city, Role.HOTLINE_AGENT),
        "dispatcher": (city, Role.DISPATCHER),
        "supervisor": (city, Role.SUPERVISOR),
        "center_admin": (city, Role.CENTER_ADMIN),
        "auditor": (city, Role.AUDITOR),
        "security_admin": (city, Role.SECURITY_ADMIN),  # 三员分立 (org/permissions.py)
        "town_handler": (town, Role.HANDLER),
        "town_leader": (town, Role.UNIT_LEADER),
        "village_handler": (village, Role.HANDLER),
        "other_handler": (other_town, Role.HANDLER),
        "other_leader": (other_town, Role.UNIT_LEADER),
        "dept_handler": (dept, Role.HANDLER),
        "town_dispatcher": (town, Role.DISPATCHER),
    }
    world = World(city, town, village, other_town, other_village, dept, other_dept, road, noise)
    for name, (unit, role) in posts.items():
        world.staff[name] = create_staff(username=name, password=None, posts=[(unit, role)])
    return world


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def fresh(user: User) -> User:
    """The same account without cached memberships (as on a new request)."""
    return User.objects.get(pk=user.pk)


# --- Staff login security: test clients log in as complete staff sessions -----------------------
# ``force_login``/``login`` finish the second factor for users whose role needs it exactly the
# way ``django_otp.login`` does after a real code (the confirmed device's id in the session) and
# start the idle clock; the rule itself is not weakened (a session without a code is still
# refused). tests/org/test_two_factor.py walks the real flow. Many tests build ``Client()``
# themselves, so the behaviour is installed on Django's Client for the whole run, and the
# ``client`` fixture is that Client.
_django_client_login = Client._login


def confirmed_device(user: User) -> TOTPDevice:
    """The user's confirmed authenticator (made, as if enrolled, when there is none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the authenticator shows now (or the next one, if now's was used already:
    django-otp refuses a step twice and accepts one step ahead)."""
    device.refresh_from_db()
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if token.t() <= device.last_t:
        token.time = time.time() + device.step
    return f"{token.token():0{device.digits}d}"


def _login_as_complete_staff_session(self: Client, user: User, backend: str | None = None) -> None:
    _django_client_login(self, user, backend)
    account = User.objects.get(pk=user.pk)  # no role cache left on the caller's object
    session = self.session
    if two_factor.required_for(account):
        # What ``django_otp.login`` stores after a right code (Client's request has no user).
        session[DEVICE_ID_SESSION_KEY] = confirmed_device(account).persistent_id
    gate.start_session(session, account)
    session.save()


def _login_through_axes(self: Client, **credentials: str) -> bool:
    """``Client.login`` with a request, which django-axes needs to count failures."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    user = authenticate(request, **credentials)
    if user is None:
        return False
    self._login(user)
    return True


@pytest.fixture(autouse=True, scope="session")
def _staff_test_client() -> Iterator[None]:
    original_login = Client.login
    Client._login = _login_as_complete_staff_session  # type: ignore[method-assign]
    Client.login = _login_through_axes  # type: ignore[method-assign]
    yield
    Client._login = _django_client_login  # type: ignore[method-assign]
    Client.login = original_login  # type: ignore[method-assign]


@pytest.fixture
def client() -> Client:
    """pytest-django's ``client``: Django's Client with the staff login above."""
    return Client()
