"""Reminders and supervision orders by hand, and the leader's answer: the permission matrix."""

from __future__ import annotations

import pytest
from django.test import Client

from minsheng.appeals.models import AppealEvent
from minsheng.notify.models import Notification
from minsheng.supervision.models import SupervisionOrder
from tests.supervision.helpers import accepted_at, state

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


ALLOWED = ["dispatcher", "supervisor", "center_admin", "town_dispatcher"]
REFUSED = ["agent", "auditor", "town_handler", "town_leader"]
OUT_OF_SCOPE = ["other_handler", "other_leader", "dept_handler", "village_handler"]


@pytest.mark.parametrize("who", ALLOWED)
def test_staff_who_may_remind_send_a_reminder(world, who):
    appeal = accepted_at(world)

    response = client_for(world[who]).post(
        f"/console/appeals/{appeal.pk}/remind/", {"reason": "请尽快处理"}
    )

    assert response.status_code == 302
    event = AppealEvent.objects.get(appeal=appeal, action="remind")
    assert (event.actor, event.reason, event.to_status) == (world[who], "请尽快处理", "in_progress")
    assert sorted(
        Notification.objects.filter(appeal=appeal).values_list("recipient__username", flat=True)
    ) == ["town_handler", "town_leader"]


@pytest.mark.parametrize("who", ALLOWED)
def test_staff_who_may_supervise_issue_an_order_with_a_reason(world, who):
    appeal = accepted_at(world)

    response = client_for(world[who]).post(
        f"/console/appeals/{appeal.pk}/supervise/", {"reason": "群众反映强烈"}
    )

    assert response.status_code == 302
    order = SupervisionOrder.objects.get(appeal=appeal)
    assert (order.issued_by, order.unit, order.reason, order.automatic) == (
        world[who],
        world.town,
        "群众反映强烈",
        False,
    )
    assert list(
        Notification.objects.filter(kind="supervision.order").values_list(
            "recipient__username", flat=True
        )
    ) == ["town_leader"]


@pytest.mark.parametrize("who", REFUSED)
@pytest.mark.parametrize("action", ["remind", "supervise"])
def test_other_roles_are_refused_and_nothing_changes(world, who, action):
    appeal = accepted_at(world)
    before = state(appeal)

    response = client_for(world[who]).post(
        f"/console/appeals/{appeal.pk}/{action}/", {"reason": "催一下"}
    )

    assert response.status_code == 403
    assert state(appeal) == before


@pytest.mark.parametrize("who", OUT_OF_SCOPE)
@pytest.mark.parametrize("action", ["remind", "supervise"])
def test_outside_scope_is_not_found_and_nothing_changes(world, who, action):
    appeal = accepted_at(world)
    before = state(appeal)

    response = client_for(world[who]).post(
        f"/console/appeals/{appeal.pk}/{action}/", {"reason": "催一下"}
    )

    assert response.status_code == 404
    assert state(appeal) == before


def test_an_order_needs_a_reason(world):
    appeal = accepted_at(world)
    before = state(appeal)

    response = client_for(world["dispatcher"]).post(
        f"/console/appeals/{appeal.pk}/supervise/", {"reason": "  "}
    )

    assert response.status_code == 422
    assert state(appeal) == before
    assert 'id="id_supervise_reason_error"' in response.content.decode()


def test_detail_page_offers_the_forms_only_to_who_may_use_them(world):
    appeal = accepted_at(world)
    url = f"/console/appeals/{appeal.pk}/"

    dispatcher_page = client_for(world["dispatcher"]).get(url).content.decode()
    handler_page = client_for(world["town_handler"]).get(url).content.decode()

    assert 'data-supervision="remind"' in dispatcher_page
    assert 'data-supervision="supervise"' in dispatcher_page
    assert 'data-supervision="remind"' not in handler_page
    assert 'data-supervision="supervise"' not in handler_page


def _order(world):
    appeal = accepted_at(world)
    client_for(world["dispatcher"]).post(
        f"/console/appeals/{appeal.pk}/supervise/", {"reason": "群众反映强烈"}
    )
    return appeal, SupervisionOrder.objects.get(appeal=appeal)


def test_the_leader_sees_and_answers_the_order(world):
    appeal, order = _order(world)
    leader = client_for(world["town_leader"])

    page = leader.get("/console/supervision/")
    response = leader.post(
        f"/console/supervision/{order.pk}/respond/", {"response": "已安排人员今天修复。"}
    )

    assert [row["order"].pk for row in page.context["rows"]] == [order.pk]
    assert page.context["rows"][0]["may_answer"] is True
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.response, order.responded_by) == ("已安排人员今天修复。", world["town_leader"])
    event = AppealEvent.objects.filter(appeal=appeal).last()
    assert (event.action, event.unit, event.data["order"]) == (
        "respond_supervision",
        world.town,
        order.pk,
    )
    # the dispatcher who issued it hears of the answer
    assert (
        Notification.objects.filter(
            kind="supervision.response", recipient=world["dispatcher"]
        ).count()
        == 1
    )


def test_an_answered_order_cannot_be_answered_again(world):
    appeal, order = _order(world)
    leader = client_for(world["town_leader"])
    leader.post(f"/console/supervision/{order.pk}/respond/", {"response": "第一次答复"})
    before = state(appeal)

    response = leader.post(f"/console/supervision/{order.pk}/respond/", {"response": "第二次"})

    assert response.status_code == 409
    assert state(appeal) == before
    order.refresh_from_db()
    assert order.response == "第一次答复"


@pytest.mark.parametrize(("who", "status"), [("town_handler", 403), ("dispatcher", 403)])
def test_only_a_leader_answers(world, who, status):
    appeal, order = _order(world)
    before = state(appeal)

    response = client_for(world[who]).post(
        f"/console/supervision/{order.pk}/respond/", {"response": "我来答复"}
    )

    assert response.status_code == status
    assert state(appeal) == before
    order.refresh_from_db()
    assert order.responded_at is None


def test_another_units_leader_does_not_see_the_order(world):
    appeal, order = _order(world)
    before = state(appeal)
    other = client_for(world["other_leader"])

    page = other.get("/console/supervision/")
    response = other.post(f"/console/supervision/{order.pk}/respond/", {"response": "答复"})

    assert page.context["rows"] == []
    assert response.status_code == 404
    assert state(appeal) == before


def test_the_orders_page_shows_the_most_urgent_page_in_scope(world, monkeypatch):
    from datetime import datetime, timedelta

    from minsheng.core import clock
    from minsheng.supervision import selectors
    from tests.supervision.helpers import MONDAY_10, SH

    # given three orders to 和兴镇 on appeals of three days, issued by hand on Thursday
    # morning: one answer deadline for all three (the end of Friday), so the page's order goes
    # by id within it
    monkeypatch.setattr(selectors, "ORDERS_PAGE", 2)
    ours = []
    for day in range(3):
        appeal = accepted_at(world, MONDAY_10 + timedelta(days=day))
        with clock.replaying(MONDAY_10 + timedelta(days=3)):
            client_for(world["dispatcher"]).post(
                f"/console/appeals/{appeal.pk}/supervise/", {"reason": f"第{day}次"}
            )
        ours.append(SupervisionOrder.objects.get(appeal=appeal))
    assert {o.response_due_at for o in ours} == {datetime(2026, 3, 14, 0, 0, tzinfo=SH)}
    ours.sort(key=lambda o: o.pk)

    def shown(who: str, query: str = "") -> list[int]:
        page = client_for(world[who]).get(f"/console/supervision/{query}")
        assert page.status_code == 200
        return [row["order"].pk for row in page.context["rows"]]

    # then the town's leader, the town's dispatcher and the city's see the two most urgent;
    # the other town's leader none
    assert shown("town_leader") == [o.pk for o in ours[:2]]
    assert shown("town_dispatcher") == [o.pk for o in ours[:2]]
    assert shown("dispatcher") == [o.pk for o in ours[:2]]
    assert shown("other_leader") == []
    # when the most urgent is answered, the next comes up; with the answered ones shown,
    # the newest come first
    client_for(world["town_leader"]).post(
        f"/console/supervision/{ours[0].pk}/respond/", {"response": "已办"}
    )
    assert shown("town_leader") == [o.pk for o in ours[1:3]]
    newest = sorted((o.pk for o in ours), reverse=True)
    assert shown("town_leader", "?all=1") == newest[:2]


def test_the_orders_page_lists_a_leaders_units_and_a_centers_appeals_each_once(world):
    from minsheng.org.choices import Role
    from minsheng.org.models import Membership

    # given an order to 和兴镇 on an appeal of its territory, and a leader of 和兴镇 who is also
    # a dispatcher there (both sources of the page hold the order)
    appeal, order = _order(world)
    leader = world["town_leader"]
    Membership.objects.create(user=leader, unit=world.town, role=Role.DISPATCHER)

    page = client_for(leader).get("/console/supervision/")
    history = client_for(leader).get("/console/supervision/?all=1")

    # then it is listed once, answerable, open and in the history alike
    assert [row["order"].pk for row in page.context["rows"]] == [order.pk]
    assert page.context["rows"][0]["may_answer"] is True
    assert [row["order"].pk for row in history.context["rows"]] == [order.pk]
