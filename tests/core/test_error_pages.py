"""Error answers: a page in the person's language with a way on, JSON for integrations."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from minsheng import urls as project_urls

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


# A URLconf with the project's routes and handlers plus one view that fails.
urlpatterns = [
    path("boom/", _boom),
    path("api/v1/boom/", _boom),
    path("", include(project_urls.urlpatterns)),
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def test_unknown_page_gets_the_branded_page_in_chinese_by_default(client: Client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "找不到这个页面" in page
    assert 'href="/track/"' in page  # a way on for a citizen
    assert 'lang="zh-CN"' in page


def test_unknown_page_in_english_on_request(client: Client):
    response = client.get("/no-such-page/", headers={"accept-language": "en"})
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_console_404_links_back_to_the_console(client: Client, world):
    client.force_login(world["village_handler"])
    response = client.get("/console/appeals/999999999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "找不到这个页面" in page
    assert 'href="/console/"' in page


def test_unknown_api_address_gets_the_api_error_body(client: Client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


@override_settings(ROOT_URLCONF=__name__)
def test_a_bug_gets_a_calm_page_not_a_traceback():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "出了点问题" in page
    assert "RuntimeError" not in page and "Traceback" not in page


@override_settings(ROOT_URLCONF=__name__)
def test_a_bug_under_the_api_gets_the_api_error_body():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


def test_a_form_sent_without_a_valid_csrf_token_explains_itself_and_saves_nothing():
    from minsheng.appeals.models import Appeal

    client = Client(enforce_csrf_checks=True)
    response = client.post("/appeal/new/", {"content": "路灯坏了", "phone": "13800138000"})
    assert response.status_code == 403
    assert "表单已过期" in response.content.decode()
    assert Appeal.objects.count() == 0
