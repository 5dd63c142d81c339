"""Shared fixtures: a small city with every role, built through the services users call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from hypothesis import settings as hypothesis_settings

from minsheng.appeals.models import Category, DispatchRule, TimeLimit
from minsheng.org.choices import Role, UnitKind
from minsheng.org.models import OrgUnit, User
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
