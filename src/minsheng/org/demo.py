"""The demo organisation: the fictional county-level city 和安市, its units and demo accounts.

Everything is created through ``minsheng.org.services`` — the same functions an administrator's
actions call — so loading the demo also exercises them (DESIGN.md §9.12). All place names are
invented; no account carries a personal name.

Unit codes are hierarchical numeric strings: the city ``330100``; a township or street
``3301NN``; a village or community ``3301NNVVV`` under it; a department ``3301DD`` (51–65).
Pinyin initials are written by hand so pickers find a place by typing ("hxz" → 和兴镇).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.db import transaction

from minsheng.core import audit

from .choices import Role, UnitKind
from .models import OrgUnit, User
from .services import create_staff, create_unit

CITY_CODE = "330100"
CITY_NAME = "和安市"
CITY_INITIALS = "has"

# (name, initials, kind, [(village or community name, initials), …]) — codes follow the order.
TERRITORIES: list[tuple[str, str, UnitKind, list[tuple[str, str]]]] = [
    (
        "安澜街道",
        "aljd",
        UnitKind.STREET,
        [
            ("江滨社区", "jbsq"),
            ("澜苑社区", "lysq"),
            ("春晖社区", "chsq"),
            ("锦绣社区", "jxsq"),
            ("新桥社区", "xqsq"),
            ("翠柳社区", "clsq"),
        ],
    ),
    (
        "临溪街道",
        "lxjd",
        UnitKind.STREET,
        [
            ("溪畔社区", "xpsq"),
            ("临溪社区", "lxsq"),
            ("枫林社区", "flsq"),
            ("南苑社区", "nysq"),
            ("书香社区", "sxsq"),
        ],
    ),
    (
        "文昌街道",
        "wcjd",
        UnitKind.STREET,
        [
            ("文昌社区", "wcsq"),
            ("学府社区", "xfsq"),
            ("状元社区", "zysq"),
            ("明德社区", "mdsq"),
            ("桂花社区", "ghsq"),
            ("育才社区", "ycsq"),
        ],
    ),
    (
        "望江街道",
        "wjjd",
        UnitKind.STREET,
        [
            ("望江社区", "wjsq"),
            ("观澜社区", "glsq"),
            ("码头社区", "mtsq"),
            ("船厂社区", "ccsq"),
            ("滨湖社区", "bhsq"),
        ],
    ),
    (
        "东湖街道",
        "dhjd",
        UnitKind.STREET,
        [
            ("东湖社区", "dhsq"),
            ("荷花社区", "hhsq"),
            ("湖光社区", "hgsq"),
            ("柳岸社区", "lasq"),
            ("晨光社区", "cgsq"),
            ("金湾社区", "jwsq"),
        ],
    ),
    (
        "和兴镇",
        "hxz",
        UnitKind.TOWNSHIP,
        [
            ("和兴村", "hxc"),
            ("上庄村", "szc"),
            ("下庄村", "xzc"),
            ("杨柳村", "ylc"),
            ("大塘村", "dtc"),
            ("新丰村", "xfc"),
            ("永安村", "yac"),
        ],
    ),
    (
        "石桥镇",
        "sqz",
        UnitKind.TOWNSHIP,
        [
            ("石桥村", "sqc"),
            ("双井村", "sjc"),
            ("前进村", "qjc"),
            ("红岩村", "hyc"),
            ("桃源村", "tyc"),
            ("松林村", "slc"),
            ("马鞍村", "mac"),
        ],
    ),
    (
        "柳塘镇",
        "ltz",
        UnitKind.TOWNSHIP,
        [
            ("柳塘村", "ltc"),
            ("荷塘村", "htc"),
            ("联合村", "lhc"),
            ("丰收村", "fsc"),
            ("金田村", "jtc"),
            ("水口村", "skc"),
        ],
    ),
    (
        "青岭镇",
        "qlz",
        UnitKind.TOWNSHIP,
        [
            ("青岭村", "qlc"),
            ("竹园村", "zyc"),
            ("茶山村", "csc"),
            ("岭下村", "lxc"),
            ("高坪村", "gpc"),
        ],
    ),
    (
        "白沙镇",
        "bsz",
        UnitKind.TOWNSHIP,
        [
            ("白沙村", "bsc"),
            ("沙洲村", "szc"),
            ("渡口村", "dkc"),
            ("芦苇村", "lwc"),
            ("河东村", "hdc"),
            ("河西村", "hxc"),
            ("新港村", "xgc"),
        ],
    ),
    (
        "云岗乡",
        "ygx",
        UnitKind.TOWNSHIP,
        [
            ("云岗村", "ygc"),
            ("雾峰村", "wfc"),
            ("山背村", "sbc"),
            ("石门村", "smc"),
            ("龙潭村", "ltc"),
        ],
    ),
    (
        "梅溪乡",
        "mxx",
        UnitKind.TOWNSHIP,
        [
            ("梅溪村", "mxc"),
            ("梅林村", "mlc"),
            ("溪口村", "xkc"),
            ("凤凰村", "fhc"),
            ("坪上村", "psc"),
        ],
    ),
]

# Functional departments (条) under the city, coded 330151–330165 in this order.
DEPARTMENTS: list[tuple[str, str]] = [
    ("住房和城乡建设局", "zfhcxjsj"),
    ("生态环境局", "sthjj"),
    ("交通运输局", "jtysj"),
    ("市场监督管理局", "scjdglj"),
    ("人力资源和社会保障局", "rlzyhshbzj"),
    ("教育局", "jyj"),
    ("卫生健康委员会", "wsjkwyh"),
    ("公安局", "gaj"),
    ("城市管理综合执法局", "csglzhzfj"),
    ("自然资源和规划局", "zrzyhghj"),
    ("水务局", "swj"),
    ("民政局", "mzj"),
    ("农业农村局", "nyncj"),
    ("应急管理局", "yjglj"),
    ("供电公司", "gdgs"),
]


def territory_code(index: int) -> str:
    """Code of the ``index``-th township or street (1-based)."""
    return f"{CITY_CODE[:4]}{index:02d}"


def village_code(territory_index: int, index: int) -> str:
    """Code of the ``index``-th village or community (1-based) of a township or street."""
    return f"{territory_code(territory_index)}{index:03d}"


def department_code(index: int) -> str:
    """Code of the ``index``-th department (1-based)."""
    return f"{CITY_CODE[:4]}{50 + index:02d}"


# Department name → code, for reference data (dispatch catalogue) that names its units.
DEPARTMENT_CODES: dict[str, str] = {
    name: department_code(i) for i, (name, _initials) in enumerate(DEPARTMENTS, start=1)
}
TERRITORY_CODES: dict[str, str] = {
    name: territory_code(i) for i, (name, *_rest) in enumerate(TERRITORIES, start=1)
}

_DEMO_TOWNSHIP = territory_code(6)  # 和兴镇
_DEMO_VILLAGE = village_code(6, 1)  # 和兴村
_DEMO_DEPARTMENT = department_code(1)  # 住房和城乡建设局

# One account per role: (username, role, unit code).
DEMO_ACCOUNTS: list[tuple[str, Role, str]] = [
    ("hotline", Role.HOTLINE_AGENT, CITY_CODE),
    ("dispatcher", Role.DISPATCHER, CITY_CODE),
    ("supervisor", Role.SUPERVISOR, CITY_CODE),
    ("center_admin", Role.CENTER_ADMIN, CITY_CODE),
    ("auditor", Role.AUDITOR, CITY_CODE),
    ("security_admin", Role.SECURITY_ADMIN, CITY_CODE),
    ("hexing_leader", Role.UNIT_LEADER, _DEMO_TOWNSHIP),
    ("hexing_handler", Role.HANDLER, _DEMO_TOWNSHIP),
    ("hexingcun_handler", Role.HANDLER, _DEMO_VILLAGE),
    ("zhujian_handler", Role.HANDLER, _DEMO_DEPARTMENT),
]

_ROLE_TITLES = {
    Role.HOTLINE_AGENT: "话务员",
    Role.DISPATCHER: "派单员",
    Role.SUPERVISOR: "督办员",
    Role.CENTER_ADMIN: "中心管理员",
    Role.AUDITOR: "审计员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.UNIT_LEADER: "负责人",
    Role.HANDLER: "承办人",
}

# No 0/O, 1/l/I: the password is read off a terminal and typed into a login form.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105


@dataclass
class DemoOrg:
    city: OrgUnit
    townships: list[OrgUnit] = field(default_factory=list)  # townships and streets
    villages: list[OrgUnit] = field(default_factory=list)  # villages and communities
    departments: list[OrgUnit] = field(default_factory=list)
    accounts: dict[str, User] = field(default_factory=dict)
    password: str = ""  # "" when the organisation was already there (the password is hashed)


def generate_password(length: int = 14) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def has_demo_org() -> bool:
    return OrgUnit.objects.filter(code=CITY_CODE, name=CITY_NAME).exists()


def _display_name(role: Role, unit: OrgUnit) -> str:
    prefix = "" if unit.kind == UnitKind.CITY else unit.name
    return f"{prefix}{_ROLE_TITLES[role]}（演示）"


def _existing_demo_org(password: str) -> DemoOrg:
    city = OrgUnit.objects.get(code=CITY_CODE)
    children = list(OrgUnit.objects.filter(parent=city).order_by("code"))
    territorial = [u for u in children if u.kind in (UnitKind.TOWNSHIP, UnitKind.STREET)]
    return DemoOrg(
        city=city,
        townships=territorial,
        villages=list(OrgUnit.objects.filter(parent__in=territorial).order_by("code")),
        departments=[u for u in children if u.kind == UnitKind.DEPARTMENT],
        accounts={
            user.username: user
            for user in User.objects.filter(
                is_demo=True, username__in=[account[0] for account in DEMO_ACCOUNTS]
            )
        },
        password=password,
    )


@transaction.atomic
def reset_demo_password() -> str:
    """Give every demo account one new password (the old one is only stored as a hash)."""
    password = generate_password()
    for user in User.objects.select_for_update().filter(is_demo=True).order_by("pk"):
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(actor=None, action="org.staff.demo_password_reset", target=user, data={})
    return password


@transaction.atomic
def load_demo_org() -> DemoOrg:
    """Create 和安市 with its townships, streets, villages, communities, departments and one
    demo account per role, all sharing one new password (``DemoOrg.password``).

    Safe to call again: a later call creates and changes nothing and returns the existing
    organisation with ``password=""``, since only a hash of the password is kept
    (``reset_demo_password`` gives the accounts a new one)."""
    if has_demo_org():
        return _existing_demo_org(password="")

    city = create_unit(name=CITY_NAME, code=CITY_CODE, kind=UnitKind.CITY, initials=CITY_INITIALS)
    org = DemoOrg(city=city, password=generate_password())
    by_code = {city.code: city}

    for t_index, (name, initials, kind, places) in enumerate(TERRITORIES, start=1):
        territory = create_unit(
            name=name, code=territory_code(t_index), kind=kind, parent=city, initials=initials
        )
        org.townships.append(territory)
        by_code[territory.code] = territory
        place_kind = UnitKind.COMMUNITY if kind == UnitKind.STREET else UnitKind.VILLAGE
        for v_index, (place, place_initials) in enumerate(places, start=1):
            village = create_unit(
                name=place,
                code=village_code(t_index, v_index),
                kind=place_kind,
                parent=territory,
                initials=place_initials,
            )
            org.villages.append(village)
            by_code[village.code] = village

    for d_index, (name, initials) in enumerate(DEPARTMENTS, start=1):
        department = create_unit(
            name=name,
            code=department_code(d_index),
            kind=UnitKind.DEPARTMENT,
            parent=city,
            initials=initials,
        )
        org.departments.append(department)
        by_code[department.code] = department

    for username, role, unit_code in DEMO_ACCOUNTS:
        unit = by_code[unit_code]
        org.accounts[username] = create_staff(
            username=username,
            password=org.password,
            display_name=_display_name(role, unit),
            posts=[(unit, role)],
            is_demo=True,
        )
    return org
