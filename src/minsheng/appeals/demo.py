"""Demo reference data (taxonomy, time limits, dispatch catalogue) and a believable year.

The year is replayed through the same service functions staff and citizens call, with the
clock set to each step's moment (``clock.replaying``), so the demo proves the lifecycle code:
every appeal has a real event history, real deadlines and a consistent audit chain.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import transaction

from minsheng.core import clock
from minsheng.org.choices import Role
from minsheng.org.demo import DEPARTMENT_CODES, DemoOrg, load_demo_org
from minsheng.org.models import OrgUnit, User
from minsheng.org.services import create_staff

from . import services
from .models import Appeal, Category, DispatchRule, TimeLimit
from .reference import bulk_session, cached_unit, remembered_appeal

if TYPE_CHECKING:
    from minsheng.supervision.models import SupervisionOrder

SH = ZoneInfo("Asia/Shanghai")

# (code, name, department that handles it city-wide, [(code, name, territorial?)…]).
# Territorial subcategories go to the township/street of the place (块), the rest to the
# department (条) — the two axes of the dispatch catalogue.
TAXONOMY: list[tuple[str, str, str, list[tuple[str, str, bool]]]] = [
    (
        "01",
        "城乡建设",
        "住房和城乡建设局",
        [
            ("0101", "道路桥梁", False),
            ("0102", "物业管理", True),
            ("0103", "房屋安全", False),
            ("0104", "老旧小区改造", True),
        ],
    ),
    (
        "02",
        "市容环境",
        "城市管理综合执法局",
        [
            ("0201", "占道经营", True),
            ("0202", "垃圾清运", True),
            ("0203", "违章搭建", True),
            ("0204", "户外广告", False),
        ],
    ),
    (
        "03",
        "生态环境",
        "生态环境局",
        [
            ("0301", "噪声扰民", False),
            ("0302", "油烟污染", False),
            ("0303", "水体污染", False),
            ("0304", "大气污染", False),
        ],
    ),
    (
        "04",
        "交通出行",
        "交通运输局",
        [("0401", "公交线路", False), ("0402", "出租车网约车", False), ("0403", "道路停车", True)],
    ),
    (
        "05",
        "市场监管",
        "市场监督管理局",
        [("0501", "食品安全", False), ("0502", "价格收费", False), ("0503", "消费维权", False)],
    ),
    (
        "06",
        "劳动社保",
        "人力资源和社会保障局",
        [("0601", "拖欠工资", False), ("0602", "社会保险", False), ("0603", "就业创业", False)],
    ),
    (
        "07",
        "教育",
        "教育局",
        [("0701", "入学招生", False), ("0702", "校外培训", False), ("0703", "校园安全", False)],
    ),
    (
        "08",
        "医疗卫生",
        "卫生健康委员会",
        [("0801", "医疗服务", False), ("0802", "疫苗接种", False)],
    ),
    ("09", "治安秩序", "公安局", [("0901", "户籍证件", False), ("0902", "治安隐患", False)]),
    ("10", "供水排水", "水务局", [("1001", "停水水压", False), ("1002", "排水内涝", True)]),
    ("11", "供电", "供电公司", [("1101", "停电故障", False), ("1102", "电费", False)]),
    (
        "12",
        "民政服务",
        "民政局",
        [("1201", "低保救助", True), ("1202", "养老服务", True), ("1203", "殡葬管理", False)],
    ),
    (
        "13",
        "农业农村",
        "农业农村局",
        [("1301", "村容村貌", True), ("1302", "土地承包", True), ("1303", "农资农技", False)],
    ),
    ("14", "邻里纠纷", "民政局", [("1401", "邻里纠纷", True)]),
]

# (type, urgency, accept amount, unit, complete amount, unit): blank = any.
TIME_LIMITS = [
    ("", "", 2, "hours", 5, "working_days"),
    ("consultation", "", 2, "hours", 2, "working_days"),
    ("suggestion", "", 4, "hours", 10, "working_days"),
    ("report", "", 4, "hours", 15, "working_days"),
    ("", "urgent", 1, "hours", 2, "working_days"),
    ("", "critical", 1, "hours", 24, "hours"),
]

CHANNELS = [
    ("hotline", 55),
    ("mini_program", 18),
    ("web_portal", 10),
    ("home_visit", 9),
    ("walk_in", 6),
    ("api", 2),
]
TYPES = [
    ("help", 34),
    ("complaint", 30),
    ("consultation", 20),
    ("suggestion", 9),
    ("report", 5),
    ("praise", 2),
]
URGENCY = [("normal", 92), ("urgent", 6), ("critical", 2)]

# Phrases an appeal's text is built from (invented, never copied from real messages).
SNIPPETS = {
    "01": [
        "小区门口道路坑洼积水，行人车辆通行困难",
        "楼道墙体出现裂缝，担心房屋安全",
        "物业长期不维修电梯，老人上下楼不便",
    ],
    "02": [
        "路边流动摊贩占道经营，晚上堵塞通行",
        "垃圾桶满溢多日无人清运，气味难闻",
        "有住户在楼顶违规搭建彩钢棚",
    ],
    "03": [
        "附近工地夜间施工噪声扰民，影响休息",
        "楼下餐馆油烟直排，窗户都不敢开",
        "河道发黑发臭，疑似有企业偷排",
    ],
    "04": ["公交车发车间隔太长，早高峰挤不上车", "小区周边乱停车，消防通道被堵"],
    "05": ["在超市买到过期食品，要求处理", "停车场收费标准不公示，乱收费"],
    "06": ["工地老板拖欠农民工工资三个月", "咨询灵活就业人员如何缴纳养老保险"],
    "07": ["孩子入学报名材料不清楚，咨询政策", "校外培训机构退费难"],
    "08": ["医院挂号难，希望增加号源", "咨询老人接种疫苗的时间地点"],
    "09": ["咨询身份证异地补办流程", "小区监控损坏，存在治安隐患"],
    "10": ["小区停水一天没有通知", "暴雨后路口积水严重"],
    "11": ["整片区域频繁停电，冰箱食物变质", "电费突然比往月高出很多"],
    "12": ["家中困难，咨询低保申请条件", "希望社区增设老年食堂"],
    "13": ["村里道路两旁垃圾堆放，村容脏乱", "土地流转合同纠纷，请求调解"],
    "14": ["邻居装修占用公共楼道，协商无果"],
}


def has_demo_data() -> bool:
    return Appeal.objects.exists() and Category.objects.filter(code="01").exists()


@transaction.atomic
def load_reference_data(org: DemoOrg) -> None:
    """Taxonomy, time limits and the dispatch catalogue for the demo city (idempotent)."""
    if Category.objects.filter(code="01").exists():
        return
    departments = {u.code: u for u in org.departments}
    for code, name, department, children in TAXONOMY:
        parent = Category.objects.create(code=code, name=name, level=1)
        handler = departments[DEPARTMENT_CODES[department]]
        DispatchRule.objects.create(category=parent, territory=None, unit=handler)
        for child_code, child_name, territorial in children:
            child = Category.objects.create(
                code=child_code, name=child_name, parent=parent, level=2
            )
            if territorial:
                DispatchRule.objects.bulk_create(
                    DispatchRule(category=child, territory=town, unit=town)
                    for town in org.townships
                )
    for appeal_type, urgency, accept, accept_unit, complete, complete_unit in TIME_LIMITS:
        TimeLimit.objects.create(
            appeal_type=appeal_type,
            urgency=urgency,
            accept_amount=accept,
            accept_unit=accept_unit,
            complete_amount=complete,
            complete_unit=complete_unit,
        )


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


@dataclass
class _Cast:
    """Who acts in the replayed year: the demo center staff and one handler and one leader
    per unit."""

    agent: User
    dispatcher: User
    supervisor: User
    handlers: dict[int, User]

    def handler(self, unit: OrgUnit) -> User:
        user = self.handlers.get(unit.pk)
        if user is None:
            user = User.objects.filter(username=f"handler-{unit.code}").first()
        if user is None:
            user = create_staff(
                username=f"handler-{unit.code}",
                password=None,
                display_name=f"{unit.name}承办人",
                posts=[(unit, Role.HANDLER)],
            )
            # and its leader (负责人), whom supervision orders address, unless it has one
            if not User.objects.filter(
                memberships__unit=unit, memberships__role=Role.UNIT_LEADER
            ).exists():
                create_staff(
                    username=f"leader-{unit.code}",
                    password=None,
                    display_name=f"{unit.name}负责人",
                    posts=[(unit, Role.UNIT_LEADER)],
                )
        self.handlers[unit.pk] = user
        return user


class _Year:
    def __init__(self, org: DemoOrg, rng: random.Random, end: datetime, sweeps: bool) -> None:
        from minsheng.supervision.services import ReplaySweep

        self.org = org
        self.rng = rng
        self.end = end
        self.sweeps = ReplaySweep(answer=self.answer) if sweeps else None
        # the leaders' answers draw from their own sequence: with or without the sweeps, the
        # year's steps are the same
        self.answers = random.Random(rng.random())
        self.cast = _Cast(
            agent=org.accounts["hotline"],
            dispatcher=org.accounts["dispatcher"],
            supervisor=org.accounts["supervisor"],
            handlers={},
        )
        self.leaves = list(Category.objects.filter(level=2).select_related("parent"))
        self.places = org.villages

    def answer(self, order: SupervisionOrder) -> tuple[datetime, User, str] | None:
        """Most supervision orders are answered by the unit's leader within hours, before
        their deadline; about one in seven is left to escalate."""
        from minsheng.supervision.recipients import unit_leaders

        leaders = unit_leaders(order.unit)
        if not leaders or self.answers.random() < 0.15:
            return None
        delay = timedelta(minutes=self.answers.uniform(30, 600))
        return order.issued_at + delay, leaders[0], "已责成专人限期办结，办理结果将按时反馈。"

    def at(self, moment: datetime) -> bool:
        """Whether a step at ``moment`` has already happened by the end of the demo year."""
        return moment <= self.end

    def one(self, received: datetime) -> None:
        rng, cast = self.rng, self.cast
        category = rng.choice(self.leaves)
        place = rng.choice(self.places)
        appeal_type = _pick(rng, TYPES)
        channel = _pick(rng, CHANNELS)
        intake = cast.agent
        if channel in ("home_visit", "walk_in"):
            intake = cast.handler(place)
        text = rng.choice(SNIPPETS[category.parent.code]) + "。"
        with clock.replaying(received):
            appeal = services.submit_appeal(
                actor=None if channel in ("mini_program", "web_portal") else intake,
                channel=channel,
                appeal_type=appeal_type,
                urgency=_pick(rng, URGENCY),
                category=category,
                territory=place,
                content=f"{place.name}{text}",
                phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                name=rng.choice(["", "张", "王", "李", "赵", "陈", "刘"])
                + rng.choice(["", "先生", "女士"]),
                anonymous=rng.random() < 0.03,
                address=f"{place.name}{rng.randrange(1, 120)}号",
            )
        self.lifecycle(appeal, received)

    @staticmethod
    def refresh_lead(appeal: Appeal) -> None:
        # In the bulk session the services update this very instance; otherwise re-read.
        if remembered_appeal(appeal.pk) is not appeal:
            lead_id = Appeal.objects.values_list("lead_unit_id", flat=True).get(pk=appeal.pk)
            appeal.lead_unit = cached_unit(lead_id)

    def lifecycle(self, appeal: Appeal, t: datetime) -> None:
        step = _Step(self, appeal, t)
        self._steps(appeal, step)
        if self.sweeps is not None and self.at(step.t):
            # after the last step, the sweeps up to the year's end: clearing what the step
            # made outdated, an order's answer still to come
            self.sweeps.between(appeal.pk, step.t, self.end)

    def _steps(self, appeal: Appeal, step: _Step) -> None:
        rng, cast = self.rng, self.cast
        roll = rng.random()
        if appeal.appeal_type in ("consultation", "praise") and roll < 0.65:
            step(
                rng.uniform(3, 15),
                lambda: services.direct_close_appeal(
                    appeal=appeal, actor=cast.agent, reply="已在电话中答复政策并告知办理渠道。"
                ),
            )
            return
        if roll < 0.01:
            step(
                rng.uniform(5, 60),
                lambda: services.invalidate_appeal(
                    appeal=appeal, actor=cast.dispatcher, reason="无实质诉求内容"
                ),
            )
            return
        if not step(
            rng.uniform(5, 90),
            lambda: services.dispatch_appeal(appeal=appeal, actor=cast.dispatcher),
        ):
            return
        self.refresh_lead(appeal)
        if rng.random() < 0.012:  # the same matter called in again: merge the duplicate (并单)
            t_dup = step.t + timedelta(minutes=rng.uniform(20, 120))
            if self.at(t_dup):
                with clock.replaying(t_dup):
                    duplicate = services.submit_appeal(
                        actor=cast.agent,
                        channel="hotline",
                        appeal_type=appeal.appeal_type,
                        category=appeal.category,
                        territory=appeal.territory,
                        content=appeal.content,
                        phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                    )
                    services.merge_appeal(
                        appeal=duplicate,
                        actor=cast.dispatcher,
                        into=appeal,
                        reason="同一事项重复来电",
                    )
        if rng.random() < 0.05:  # returned: wrong unit
            if not step(
                rng.uniform(30, 240),
                lambda: services.return_appeal(
                    appeal=appeal,
                    actor=cast.handler(appeal.lead_unit),
                    reason="该事项不属于本单位职责范围",
                ),
            ):
                return
            if rng.random() < 0.7:
                if not step(
                    rng.uniform(20, 180),
                    lambda: services.approve_return(appeal=appeal, actor=cast.dispatcher),
                ):
                    return
                target = rng.choice(self.org.departments)
                if not step(
                    rng.uniform(5, 60),
                    lambda: services.dispatch_appeal(
                        appeal=appeal, actor=cast.dispatcher, unit=target
                    ),
                ):
                    return
            elif not step(
                rng.uniform(20, 180),
                lambda: services.reject_return(
                    appeal=appeal, actor=cast.dispatcher, reason="属地管理事项，请承办"
                ),
            ):
                return
            self.refresh_lead(appeal)
        unit = appeal.lead_unit
        if unit is None:  # returned and still waiting for the dispatcher at the year's end
            return
        if not step(
            rng.uniform(10, 110),
            lambda: services.accept_appeal(appeal=appeal, actor=cast.handler(unit)),
        ):
            return
        if unit.kind in ("township", "street") and rng.random() < 0.3:
            village = rng.choice([v for v in self.places if v.parent_id == unit.pk])
            if not step(
                rng.uniform(30, 300),
                lambda: services.transfer_appeal(
                    appeal=appeal, actor=cast.handler(unit), unit=village
                ),
            ):
                return
            unit = village
            if not step(
                rng.uniform(10, 110),
                lambda: services.accept_appeal(appeal=appeal, actor=cast.handler(unit)),
            ):
                return
        self.handle(appeal, unit, step, reopened=False)

    def handle(
        self, appeal: Appeal, unit: OrgUnit, step: Callable[..., bool], reopened: bool
    ) -> None:
        rng, cast = self.rng, self.cast
        handler = cast.handler(unit)
        if rng.random() < 0.03:
            if not step(
                rng.uniform(60, 1440),
                lambda: services.suspend_appeal(
                    appeal=appeal, actor=handler, reason="等待群众提供补充材料"
                ),
            ):
                return
            if not step(
                rng.uniform(1440, 4320),
                lambda: services.resume_appeal(appeal=appeal, actor=handler),
            ):
                return
        if rng.random() < 0.05:
            if not step(
                rng.uniform(600, 4000),
                lambda: services.request_extension(
                    appeal=appeal,
                    actor=handler,
                    amount=rng.choice([3, 5]),
                    unit="working_days",
                    reason="需多部门现场协调",
                ),
            ):
                return
            decide = (
                services.approve_extension
                if rng.random() < 0.8
                else lambda **kw: services.refuse_extension(reason="时限内可以办结", **kw)
            )
            if not step(rng.uniform(60, 600), lambda: decide(appeal=appeal, actor=cast.supervisor)):
                return
        # most replies within 1–4 days; a few run late
        late = rng.random() < 0.04
        minutes = rng.uniform(9000, 14000) if late else rng.lognormvariate(7.5, 0.8)
        if not step(
            minutes,
            lambda: services.reply_appeal(
                appeal=appeal,
                actor=handler,
                reply="经现场核实，已安排人员处理完毕，并与来电人沟通。",
            ),
        ):
            return
        if rng.random() < 0.05:
            if not step(
                rng.uniform(60, 600),
                lambda: services.rework_appeal(
                    appeal=appeal, actor=cast.supervisor, reason="答复未回应核心诉求，请重新办理"
                ),
            ):
                return
            if not step(
                rng.uniform(600, 2880),
                lambda: services.reply_appeal(
                    appeal=appeal, actor=handler, reply="已重新核实并处理，结果已告知来电人。"
                ),
            ):
                return
        if not step(
            rng.uniform(60, 1200),
            lambda: services.approve_reply(appeal=appeal, actor=cast.supervisor),
        ):
            return
        if rng.random() > 0.88:
            return  # not reached on the callback
        roll = rng.random()
        rating = (
            "satisfied" if roll < 0.82 else "basically_satisfied" if roll < 0.95 else "unsatisfied"
        )
        if not step(
            rng.uniform(240, 2880),
            lambda: services.rate_appeal(
                appeal=appeal,
                actor=cast.agent,
                rating=rating,
                solved=rating != "unsatisfied" or rng.random() < 0.2,
            ),
        ):
            return
        if rating == "unsatisfied" and not reopened:
            self.handle(appeal, unit, step, reopened=True)


class _Step:
    """One appeal's replay clock: each step waits, lets the deadline sweep do what it did
    meanwhile, then acts at its moment; False once the moment is past the year's end."""

    def __init__(self, year: _Year, appeal: Appeal, t: datetime) -> None:
        self.year, self.appeal, self.t = year, appeal, t

    def __call__(self, minutes: float, call: Callable[[], object]) -> bool:
        later = self.t + timedelta(minutes=minutes)
        if self.year.sweeps is not None:
            self.year.sweeps.between(self.appeal.pk, self.t, min(later, self.year.end))
        self.t = later
        if not self.year.at(later):
            return False
        with clock.replaying(later):
            call()
        return True


def seed_year(
    appeals: int = 32_000,
    seed: int = 2026,
    progress: Callable[[int, int], None] | None = None,
    end: datetime | None = None,
    org: DemoOrg | None = None,
    sweeps: bool = False,
) -> None:
    """Replay ``appeals`` appeals spread over the year before ``end`` (default: now).

    With ``sweeps`` the deadline sweep runs as the worker would have run it all year: the
    warnings, reminders, supervision orders (mostly answered by the unit's leader) and
    escalations of the appeals that ran late. It slows the replay by about half again, so the
    demo leaves it off (its closing sweep warns the appeals still open); the scale generator
    turns it on.
    """
    if org is None:
        org = load_demo_org()
    load_reference_data(org)
    rng = random.Random(seed)
    end = end or clock.now()
    start = end - timedelta(days=365)
    # Arrival times: more by day than by night, spread over the year, in order.
    moments = sorted(start + timedelta(days=rng.uniform(0, 365)) for _ in range(appeals))
    year = _Year(org, rng, end, sweeps)
    batch = 250
    for offset in range(0, appeals, batch):
        # One commit per batch (each service is a savepoint); reference data read once.
        with transaction.atomic(), bulk_session():
            for moment in moments[offset : offset + batch]:
                local = moment.astimezone(SH)
                if local.hour < 7 and rng.random() < 0.7:
                    moment += timedelta(hours=8)
                year.one(min(moment, end))
        if progress:
            progress(min(offset + batch, appeals), appeals)
