"""Queue orders: newest, oldest, deadline soonest; keyset pages never skip or repeat a row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from minsheng.appeals import selectors
from minsheng.appeals.models import Appeal
from tests.appeals.factories import submitted
from tests.conftest import World

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _with_deadlines(world: World, offsets: list[int | None]) -> list[Appeal]:
    """One appeal per offset (hours after BASE, or no deadline); ties are on purpose."""
    appeals = []
    for offset in offsets:
        appeal = submitted(world)
        if offset is not None:
            # Test data only: the order under test reads due_at, however it was set.
            Appeal.objects.filter(pk=appeal.pk).update(due_at=BASE + timedelta(hours=offset))
        appeals.append(appeal)
    return appeals


def _all_pages(world: World, sort: str, limit: int) -> list[int]:
    user = world["dispatcher"]
    filters = selectors.QueueFilter(sort=sort)
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        page = selectors.queue(user, filters, cursor=cursor, limit=limit)
        seen += [a.pk for a in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_deadline_order_puts_soonest_first_ties_by_id_and_no_deadline_last(world, limit):
    appeals = _with_deadlines(world, [5, None, 1, 5, 3, None, 1, 8])
    expected = sorted(
        appeals,
        key=lambda a: (
            Appeal.objects.get(pk=a.pk).due_at is None,
            Appeal.objects.get(pk=a.pk).due_at or BASE,
            a.pk,
        ),
    )
    assert _all_pages(world, "due", limit) == [a.pk for a in expected]


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_oldest_and_newest_are_reverse_orders_of_receipt(world, limit):
    appeals = [submitted(world) for _ in range(5)]
    ids = [a.pk for a in appeals]
    assert _all_pages(world, "oldest", limit) == ids
    assert _all_pages(world, "newest", limit) == ids[::-1]


def test_a_cursor_of_another_order_or_a_forged_one_is_refused(world):
    _with_deadlines(world, [1, 2, 3])
    user = world["dispatcher"]
    newest = selectors.queue(user, selectors.QueueFilter(), limit=1)
    with pytest.raises(selectors.DomainError):
        selectors.queue(user, selectors.QueueFilter(sort="due"), cursor=newest.next_cursor)
    for forged in ["eyJpZCI6ICIxIn0", "bm90IGpzb24", "eyJpZCI6IDEsICJkdWUiOiAieCJ9"]:
        with pytest.raises(selectors.DomainError):
            selectors.queue(user, selectors.QueueFilter(sort="due"), cursor=forged)


def test_the_api_sorts_and_refuses_an_unknown_order(world):
    appeals = _with_deadlines(world, [4, None, 2])
    client = Client()
    client.force_login(world["dispatcher"])
    response = client.get("/api/v1/appeals", {"sort": "due"})
    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"]] == [
        appeals[2].pk,
        appeals[0].pk,
        appeals[1].pk,
    ]
    bad = client.get("/api/v1/appeals", {"sort": "loudest"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"


def test_the_console_queue_sorts_by_deadline_and_keeps_the_order_across_pages(world):
    appeals = _with_deadlines(world, [4, None, 2])
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["dispatcher"])
    response = client.get("/console/appeals/", {"sort": "due"})
    assert [r["id"] for r in response.context["rows"]] == [
        appeals[2].pk,
        appeals[0].pk,
        appeals[1].pk,
    ]
    assert "Appeals, Deadline soonest first" in response.content.decode()
    ignored = client.get("/console/appeals/", {"sort": "loudest"})
    assert ignored.status_code == 200  # an unknown order is shown as a field error, newest used
    assert [r["id"] for r in ignored.context["rows"]] == [a.pk for a in reversed(appeals)]
