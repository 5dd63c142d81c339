"""Queue filters the statistics link with: by place (with its subtree), and "counted" (neither
invalid nor merged) — in the selector, the console and the API alike."""

from __future__ import annotations

import pytest
from django.test import Client

from minsheng.appeals import selectors, services
from tests.appeals.factories import submitted
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _ids(world: World, **filters) -> list[int]:
    page = selectors.queue(world["dispatcher"], selectors.QueueFilter(**filters), limit=50)
    return [a.pk for a in page.items]


def test_place_takes_the_township_with_its_villages_and_nothing_else(world):
    in_town = submitted(world, territory=world.town)
    in_village = submitted(world, territory=world.village)
    elsewhere = submitted(world, territory=world.other_village)
    assert _ids(world, place=world.town.pk) == [in_village.pk, in_town.pk]
    assert _ids(world, place=world.village.pk) == [in_village.pk]
    assert _ids(world, place=world.other_town.pk) == [elsewhere.pk]
    assert _ids(world, place=999_999) == []


def test_counted_leaves_out_invalid_and_merged_appeals(world):
    kept = submitted(world)
    duplicate = submitted(world)
    prank = submitted(world)
    services.merge_appeal(appeal=duplicate, into=kept, actor=world["dispatcher"], reason="同一件事")
    services.invalidate_appeal(appeal=prank, actor=world["dispatcher"], reason="骚扰电话")
    assert _ids(world) == [prank.pk, duplicate.pk, kept.pk]
    assert _ids(world, counted=True) == [kept.pk]


def test_the_console_and_the_api_take_the_same_two_filters(world):
    kept = submitted(world, territory=world.village)
    prank = submitted(world, territory=world.village)
    submitted(world, territory=world.other_village)
    services.invalidate_appeal(appeal=prank, actor=world["dispatcher"], reason="骚扰电话")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["dispatcher"])

    page = client.get("/console/appeals/", {"place": world.town.pk, "counted": "1"})
    assert [r["id"] for r in page.context["rows"]] == [kept.pk]
    assert "counted in the statistics" in page.content.decode()

    api = client.get("/api/v1/appeals", {"territory_id": world.town.pk, "counted": "true"})
    assert [i["id"] for i in api.json()["items"]] == [kept.pk]
