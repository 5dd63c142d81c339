"""热点: clusters of recent appeals about the same problem, with counts, trend and a title."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from minsheng.core import clock
from minsheng.dispatch import hotspots
from tests.appeals.factories import dispatched, submitted

MIXER = [
    "丽水小区旁边的搅拌站日夜施工，噪音扰民，灰尘很大，请环保部门查处。",
    "投诉丽水小区附近搅拌站噪音扰民，晚上施工灰尘大，请环保部门处理。",
    "丽水小区附近违建搅拌站，夜间施工噪音扰民、灰尘污染，请查处。",
    "丽水小区旁搅拌站噪音和灰尘严重影响居民休息，请环保部门查处。",
    "反映丽水小区旁边搅拌站夜间施工噪音扰民，灰尘很大的问题。",
    "丽水小区的居民投诉旁边搅拌站噪音扰民，灰尘污染严重，请查处。",
]
SCHOOL = [
    "实验小学今年入学划片不公平，学区内孩子没有学位，请教育局解决。",
    "实验小学入学划片不合理，学区内的孩子分不到学位，请教育局解决。",
    "学区内孩子在实验小学没有学位，入学划片不公平，请教育局尽快解决。",
    "请教育局解决实验小学入学划片问题，学区内孩子没有学位。",
]
NOISE = [
    "公交车站的站牌被撞坏了，希望尽快修复。",
    "菜市场的下水道堵塞，污水横流，气味难闻。",
    "申请办理低保需要哪些材料，到哪里办理？",
    "医保异地报销的流程太复杂，希望简化。",
    "路灯坏了一个月，晚上出行很不安全。",
    "河边有人非法捕鱼，用电网电鱼。",
    "工资被拖欠三个月，老板联系不上。",
    "图书馆周末开放时间太短，希望延长。",
]

# One dispute raised by four people in their own words: the bodies share almost nothing (cosine
# under 0.15), the titles name the same school and the same problem.
INTERNSHIP = [
    (
        "明德学院强制学生外出实习",
        "我是一名大三学生，临近毕业，学校要求我们必须去学校指定的几个地点，不去就不发毕业证，"
        "我们没有任何选择的权利，而且去的地方离家很远，住宿条件也很差，希望有关部门调查。",
    ),
    (
        "明德学院强制学生外出打工是否合理",
        "孩子今年在读中专，十月底突然接到通知要去外省的流水线上班，每天还要倒白夜班，"
        "工资被层层克扣，孩子才十六岁，家长们都非常担心，请教育部门管一管。",
    ),
    (
        "明德学院寒假强制学生去工厂实习",
        "过年本该是一家人团聚的时候，很多家长一年只回来一次，可是校方却安排孩子整个寒假去"
        "电子厂做工，每天工作十二个小时，这样做合法吗？",
    ),
    (
        "举报明德学院强制学生实习",
        "系里安排我们去的公司，工作内容和所学专业完全不对口，辅导员说不参加的话就扣学分，"
        "影响毕业，大家敢怒不敢言，恳请领导主持公道。",
    ),
]
TITLED_NOISE = [
    ("明德路口红绿灯时间太短", "早高峰行人过马路时间不够，老人和小孩经常走到一半就变灯，很危险。"),
    (
        "学院路菜市场下水道堵塞",
        "菜市场的下水道堵塞一周了，污水横流，气味难闻，商户和居民都受影响。",
    ),
    ("外出务工人员子女入学咨询", "我们在本地打工三年了，孩子明年上小学，需要准备哪些材料？"),
    ("工厂夜间生产噪音扰民", "小区北边的工厂每天夜里开工到凌晨，机器声音很大，居民无法休息。"),
]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_two_clear_topics_and_noise_give_two_clusters():
    texts = NOISE[:4] + MIXER + NOISE[4:] + SCHOOL

    found = hotspots.cluster(texts)

    assert [len(c.members) for c in found] == [6, 4]
    assert [texts[i] for i in found[0].members] == MIXER
    assert [texts[i] for i in found[1].members] == SCHOOL
    assert texts[found[0].representative] in MIXER
    assert texts[found[1].representative] in SCHOOL


def test_same_text_in_two_places_joins_only_when_very_similar():
    texts = MIXER[:3] + MIXER[3:]
    places = ["north"] * 3 + ["south"] * 3

    apart = hotspots.cluster(texts, places, cross_place_threshold=1.01)
    together = hotspots.cluster(texts, places, cross_place_threshold=0.0)

    assert [len(c.members) for c in apart] == [3, 3]
    assert [len(c.members) for c in together] == [6]


def titled(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Texts as the console compares them (title。content) and the titles."""
    return [f"{title}。{body}" for title, body in pairs], [title for title, _ in pairs]


def test_one_dispute_told_in_different_words_joins_by_its_subjects():
    texts, subjects = titled(TITLED_NOISE[:2] + INTERNSHIP + TITLED_NOISE[2:])

    by_text = hotspots.cluster(texts)
    by_subject_too = hotspots.cluster(texts, subjects=subjects)

    assert by_text == []
    assert [c.members for c in by_subject_too] == [[2, 3, 4, 5]]


def test_near_copies_without_titles_still_join_by_their_text():
    texts = NOISE[:4] + MIXER + NOISE[4:]

    found = hotspots.cluster(texts, subjects=[""] * len(texts))

    assert [[texts[i] for i in c.members] for c in found] == [MIXER]


def test_too_few_texts_give_no_cluster():
    assert hotspots.cluster(MIXER[:2]) == []
    assert hotspots.cluster([]) == []


def make_period(world):
    """This period: the mixer (5) and the school (3); the 30 days before: the mixer once."""
    now = timezone.now()
    with clock.replaying(now - timedelta(days=40)):
        earlier = submitted(world, content=MIXER[5], territory=world.village)
    current = [submitted(world, content=t, territory=world.village) for t in MIXER[:5]]
    school = [submitted(world, content=t, territory=world.village) for t in SCHOOL[:3]]
    for text in NOISE:
        submitted(world, content=text, territory=world.village)
    return earlier, current, school


def test_hotspots_count_this_period_with_the_trend(world):
    earlier, current, school = make_period(world)
    now = timezone.now()

    found = hotspots.hotspots(
        world["dispatcher"], start=now - timedelta(days=30), end=now + timedelta(minutes=1)
    )

    assert [(h.count, h.previous, h.trend) for h in found] == [(5, 1, 4), (3, 0, 3)]
    assert [a.pk for a in found[0].appeals] == sorted((a.pk for a in current), reverse=True)
    assert found[0].key == min(a.pk for a in current)
    assert found[0].title in [t[:40] for t in MIXER]
    assert found[0].places == [("东村", 5)]
    assert {a.pk for a in found[1].appeals} == {a.pk for a in school}


def test_hotspots_compare_the_appeals_titles(world):
    made = [
        submitted(world, title=title, content=body, territory=world.village)
        for title, body in INTERNSHIP + TITLED_NOISE
    ]
    now = timezone.now()

    found = hotspots.hotspots(
        world["dispatcher"], start=now - timedelta(days=1), end=now + timedelta(minutes=1)
    )

    assert [{a.pk for a in h.appeals} for h in found] == [{a.pk for a in made[:4]}]
    assert found[0].title in [title for title, _ in INTERNSHIP]


def test_hotspots_are_scoped_and_filtered_by_place(world):
    for text in MIXER[:4]:
        dispatched(world, content=text, territory=world.village)
    now = timezone.now()
    period = {"start": now - timedelta(days=1), "end": now + timedelta(minutes=1)}

    mine = hotspots.hotspots(world["town_handler"], **period)
    theirs = hotspots.hotspots(world["other_handler"], **period)
    elsewhere = hotspots.hotspots(world["dispatcher"], territory=world.other_town, **period)

    assert [h.count for h in mine] == [4]
    assert theirs == []
    assert elsewhere == []


def test_console_page_lists_hotspots_and_one_hotspots_appeals(world):
    _, current, _ = make_period(world)
    client = client_for(world["dispatcher"])
    key = min(a.pk for a in current)

    page = client.get("/console/hotspots/").content.decode()
    one = client.get("/console/hotspots/", {"hotspot": key})
    missing = client.get("/console/hotspots/", {"hotspot": 999999})

    assert f'data-hotspot="{key}" data-count="5"' in page
    assert one.status_code == 200
    html = one.content.decode()
    assert [f'data-appeal="{a.pk}"' in html for a in current] == [True] * 5
    assert missing.status_code == 404


def test_console_page_bad_period_or_place_is_400(world):
    client = client_for(world["dispatcher"])

    reversed_ = client.get("/console/hotspots/", {"from": "2026-02-01", "to": "2026-01-01"})
    too_long = client.get("/console/hotspots/", {"from": "2024-01-01", "to": "2026-01-01"})
    not_a_date = client.get("/console/hotspots/", {"from": "yesterday"})
    bad_place = client.get("/console/hotspots/", {"place": "99999"})
    department = client.get("/console/hotspots/", {"place": str(world.dept.pk)})
    export = client.get("/console/hotspots/export.xlsx", {"to": "nope"})

    assert [
        r.status_code for r in (reversed_, too_long, not_a_date, bad_place, department, export)
    ] == [400] * 6


def test_console_page_is_for_center_staff(world):
    response = client_for(world["town_handler"]).get("/console/hotspots/")
    nav = client_for(world["dispatcher"]).get("/console/").content.decode()
    handler_nav = client_for(world["town_handler"]).get("/console/").content.decode()

    assert response.status_code == 403
    assert 'href="/console/hotspots/"' in nav
    assert 'href="/console/hotspots/"' not in handler_nav


def test_export_is_a_workbook_of_the_hotspots(world):
    make_period(world)

    response = client_for(world["dispatcher"]).get("/console/hotspots/export.xlsx")

    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[1:4] for row in rows[1:]] == [(5, 1, 4), (3, 0, 3)]
