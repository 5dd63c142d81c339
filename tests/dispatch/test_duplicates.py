"""并单 suggestions: near-identical open appeals of the same place and time window, scoped, with a
one-click merge through the lifecycle's merge action."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from django.test import Client
from django.utils import timezone

from minsheng.appeals.choices import Status
from minsheng.core import clock
from minsheng.dispatch import duplicates
from tests.appeals.factories import dispatched, reload, submitted

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PATH = "/api/v1/appeals/{appeal_id}/duplicates"
LEAK = "东村村口自来水管破裂漏水，路面积水结冰，已经三天没人来修，请尽快派人维修。"
LEAK_AGAIN = "东村村口的自来水管破裂漏水三天了，路面积水结冰，请尽快派人来维修。"
OTHER = "学校门口早晚上学放学时段车辆乱停，交通拥堵，希望交警加强管理。"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_near_identical_appeal_in_the_same_village_is_suggested(world):
    first = submitted(world, content=LEAK, territory=world.village)
    unrelated = submitted(world, content=OTHER, territory=world.village)
    again = submitted(world, content=LEAK_AGAIN, territory=world.village)

    found = duplicates.related(
        world["dispatcher"], text=again.content, territory=world.village, exclude=again.pk
    )

    assert [r.appeal.pk for r in found] == [first.pk]
    assert found[0].same_place is True
    assert found[0].score == found[0].similarity
    assert found[0].score >= duplicates.MIN_SCORE
    assert unrelated.pk not in [r.appeal.pk for r in found]


def test_same_township_scores_lower_than_same_village(world):
    from minsheng.org.choices import UnitKind
    from minsheng.org.services import create_unit

    neighbour = create_unit(name="南村", code="T1V2", kind=UnitKind.VILLAGE, parent=world.town)
    here = submitted(world, content=LEAK, territory=world.village)
    next_door = submitted(world, content=LEAK, territory=neighbour)

    found = duplicates.related(world["dispatcher"], text=LEAK, territory=world.village)

    assert [r.appeal.pk for r in found] == [here.pk, next_door.pk]
    assert found[1].same_place is False
    assert found[1].score == round(found[1].similarity * duplicates.NEIGHBOUR_WEIGHT, 3)


def test_same_text_in_another_township_is_not_suggested(world):
    submitted(world, content=LEAK, territory=world.other_village)

    found = duplicates.related(world["dispatcher"], text=LEAK, territory=world.village)

    assert found == []


def test_same_text_beyond_the_window_is_not_suggested(world, settings):
    settings.MINSHENG_DUPLICATE_DAYS = 30
    with clock.replaying(timezone.now() - timedelta(days=31)):
        submitted(world, content=LEAK, territory=world.village)
    with clock.replaying(timezone.now() - timedelta(days=29)):
        recent = submitted(world, content=LEAK, territory=world.village)

    found = duplicates.related(world["dispatcher"], text=LEAK, territory=world.village)

    assert [r.appeal.pk for r in found] == [recent.pk]


def test_closed_or_merged_appeals_are_not_suggested(world):
    target = submitted(world, content=LEAK, territory=world.village)
    merged = submitted(world, content=LEAK, territory=world.village)
    from minsheng.appeals import services

    services.merge_appeal(appeal=merged, actor=world["dispatcher"], into=target)

    found = duplicates.related(world["dispatcher"], text=LEAK, territory=world.village)

    assert [r.appeal.pk for r in found] == [target.pk]


def test_no_place_or_no_text_gives_no_suggestion(world):
    submitted(world, content=LEAK, territory=world.village)

    assert duplicates.related(world["dispatcher"], text=LEAK, territory=None) == []
    assert duplicates.related(world["dispatcher"], text="  ", territory=world.village) == []


def test_api_lists_duplicates_with_score(world):
    first = submitted(world, content=LEAK, territory=world.village)
    again = submitted(world, content=LEAK_AGAIN, territory=world.village)

    response = client_for(world["dispatcher"]).get(f"/api/v1/appeals/{again.pk}/duplicates")

    body = response.json()
    assert response.status_code == 200
    assert body["appeal_id"] == again.pk
    assert body["window_days"] == 30
    assert [d["id"] for d in body["duplicates"]] == [first.pk]
    item = body["duplicates"][0]
    assert item["tracking_code"] == first.tracking_code
    assert item["territory"] == {"id": world.village.pk, "name": "东村"}
    assert item["same_place"] is True
    assert duplicates.MIN_SCORE <= item["score"] <= 1


def test_api_out_of_scope_appeal_is_404(world):
    appeal = dispatched(world, content=LEAK)  # to 和兴镇: 青石镇 cannot see it

    response = client_for(world["other_handler"]).get(f"/api/v1/appeals/{appeal.pk}/duplicates")

    assert response.status_code == 404
    assert response.json()["code"] == "appeal_not_found"


def test_api_does_not_list_duplicates_out_of_the_users_scope(world):
    unseen = submitted(world, content=LEAK, territory=world.village)  # not dispatched yet
    mine = dispatched(world, content=LEAK_AGAIN, territory=world.village)

    response = client_for(world["town_handler"]).get(f"/api/v1/appeals/{mine.pk}/duplicates")

    assert response.status_code == 200
    assert unseen.pk not in [d["id"] for d in response.json()["duplicates"]]
    assert response.json()["duplicates"] == []


def test_api_endpoint_is_in_the_openapi_document(world):
    committed = json.loads(OPENAPI.read_text(encoding="utf-8"))
    served = client_for(world["dispatcher"]).get("/api/openapi.json").json()

    assert committed["paths"][PATH] == served["paths"][PATH]
    assert "404" in served["paths"][PATH]["get"]["responses"]


def test_detail_page_offers_merge_into_the_suggestion(world):
    first = submitted(world, content=LEAK, territory=world.village)
    again = submitted(world, content=LEAK_AGAIN, territory=world.village)
    client = client_for(world["dispatcher"])

    page = client.get(f"/console/appeals/{again.pk}/").content.decode()
    response = client.post(
        f"/console/appeals/{again.pk}/action/merge/", {"into": first.tracking_code}
    )

    assert f'data-duplicate="{first.pk}"' in page
    assert f'value="{first.tracking_code}"' in page
    assert response.status_code == 302
    merged = reload(again)
    assert merged.status == Status.MERGED
    assert merged.merged_into_id == first.pk


def test_refused_merge_from_the_suggestion_changes_nothing(world):
    first = submitted(world, content=LEAK, territory=world.village)
    again = submitted(world, content=LEAK_AGAIN, territory=world.village)
    client = client_for(world["agent"])  # hotline agents see suggestions but may not merge
    events_before = again.events.count()

    page = client.get(f"/console/appeals/{again.pk}/").content.decode()
    response = client.post(
        f"/console/appeals/{again.pk}/action/merge/", {"into": first.tracking_code}
    )

    assert f'data-duplicate="{first.pk}"' in page
    assert "/action/merge/" not in page
    assert response.status_code in (403, 422)
    unchanged = reload(again)
    assert unchanged.status == Status.RECEIVED
    assert unchanged.merged_into_id is None
    assert unchanged.events.count() == events_before


def test_intake_fragment_follows_content_and_place(world):
    first = submitted(world, content=LEAK, territory=world.village)

    response = client_for(world["agent"]).get(
        "/console/intake/duplicates/", {"content": LEAK_AGAIN, "territory": world.village.pk}
    )
    elsewhere = client_for(world["agent"]).get(
        "/console/intake/duplicates/", {"content": LEAK_AGAIN, "territory": world.other_town.pk}
    )

    assert response.status_code == 200
    assert f'data-duplicate="{first.pk}"' in response.content.decode()
    assert "data-duplicate" not in elsewhere.content.decode()


def test_intake_fragment_is_for_center_staff_and_tolerates_bad_input(world):
    handler = client_for(world["town_handler"]).get(
        "/console/intake/duplicates/", {"content": LEAK}
    )
    bad = client_for(world["agent"]).get(
        "/console/intake/duplicates/", {"content": LEAK, "territory": "x'; --"}
    )

    assert handler.status_code == 403
    assert bad.status_code == 200
    assert "data-duplicate" not in bad.content.decode()


def test_intake_screen_has_the_duplicates_region(world):
    response = client_for(world["agent"]).get("/console/intake/")

    assert 'id="duplicate-suggestions"' in response.content.decode()
