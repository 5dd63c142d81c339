"""Suggestions for staff: the API endpoint (scoped, documented) and the console fragments."""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client

from minsheng.dispatch import services
from tests.appeals.factories import dispatched, submitted
from tests.dispatch.factories import ROAD_TEXT, write_csv

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PATH = "/api/v1/appeals/{appeal_id}/suggestions"


def train(tmp_path):
    path = write_csv(tmp_path / "train.csv", {"城乡建设": 15, "环境保护": 15})
    return services.train_model(rows=services.rows_from_csv(path), folds=3)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_suggestions_endpoint_gives_categories_and_unit(world, tmp_path):
    manifest = train(tmp_path)
    appeal = submitted(world, content=ROAD_TEXT, category=None, territory=world.village)

    response = client_for(world["dispatcher"]).get(f"/api/v1/appeals/{appeal.pk}/suggestions")

    body = response.json()
    assert response.status_code == 200
    assert body["appeal_id"] == appeal.pk
    assert body["model"] == {"state": "ready", "version": manifest["version"], "message": ""}
    assert [s["label"] for s in body["suggestions"]] == ["城乡建设", "环境保护"]
    top = body["suggestions"][0]
    assert top["category"]["code"] == "01"
    assert top["unit"] == {"id": world.dept.pk, "name": "住建局"}
    assert body["suggestions"][1]["unit"] is None


def test_suggestions_endpoint_out_of_scope_is_404(world, tmp_path):
    train(tmp_path)
    appeal = dispatched(world, content=ROAD_TEXT)  # to 和兴镇: 青石镇 cannot see it

    response = client_for(world["other_handler"]).get(f"/api/v1/appeals/{appeal.pk}/suggestions")

    assert response.status_code == 404
    assert response.json()["code"] == "appeal_not_found"


def test_suggestions_endpoint_without_model(world):
    appeal = submitted(world, content=ROAD_TEXT)

    body = client_for(world["dispatcher"]).get(f"/api/v1/appeals/{appeal.pk}/suggestions").json()

    assert body["suggestions"] == []
    assert body["model"]["state"] == "missing"
    assert body["model"]["version"] is None


def test_suggestions_endpoint_is_in_the_openapi_document(world):
    committed = json.loads(OPENAPI.read_text(encoding="utf-8"))
    served = client_for(world["dispatcher"]).get("/api/openapi.json").json()

    for document in (committed, served):
        operation = document["paths"][PATH]["get"]
        assert "200" in operation["responses"]
        assert "404" in operation["responses"]
    assert committed["paths"][PATH] == served["paths"][PATH]


def test_detail_page_shows_suggestions_while_waiting(world, tmp_path):
    train(tmp_path)
    waiting = submitted(world, content=ROAD_TEXT, category=None, territory=world.village)
    sent = dispatched(world, content=ROAD_TEXT)
    client = client_for(world["dispatcher"])

    page = client.get(f"/console/appeals/{waiting.pk}/").content.decode()
    later = client.get(f"/console/appeals/{sent.pk}/").content.decode()

    assert 'data-dispatch="panel"' in page
    assert 'data-label="城乡建设"' in page
    assert "住建局" in page
    assert 'data-dispatch="panel"' not in later


def test_detail_page_without_model_still_works(world):
    appeal = submitted(world, content=ROAD_TEXT)

    response = client_for(world["dispatcher"]).get(f"/console/appeals/{appeal.pk}/")

    assert response.status_code == 200
    assert 'data-dispatch="panel"' in response.content.decode()
    assert 'data-label="' not in response.content.decode()


def test_intake_fragment_follows_the_typed_text(world, tmp_path):
    train(tmp_path)

    response = client_for(world["agent"]).get(
        "/console/intake/categories/", {"content": ROAD_TEXT, "territory": world.village.pk}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index('data-label="城乡建设"') < html.index('data-label="环境保护"')
    assert "住建局" in html


def test_intake_fragment_is_for_center_staff_only(world, tmp_path):
    train(tmp_path)

    response = client_for(world["town_handler"]).get(
        "/console/intake/categories/", {"content": ROAD_TEXT}
    )

    assert response.status_code == 403


def test_intake_screen_has_the_suggestion_region(world):
    response = client_for(world["agent"]).get("/console/intake/")

    assert response.status_code == 200
    assert 'id="dispatch-suggestions"' in response.content.decode()
