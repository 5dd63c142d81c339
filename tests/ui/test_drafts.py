"""An expired login on the long hotline form loses nothing: the form comes back after login."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from minsheng.appeals.models import Appeal
from tests.appeals.test_console import intake_body

pytestmark = pytest.mark.django_db

PASSWORD = "Hotline-2026-long-pass"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _agent_with_password(world):
    agent = world["agent"]
    agent.set_password(PASSWORD)
    agent.save(update_fields=["password"])
    return agent


def _log_in(client: Client, agent, next_url: str):
    return client.post(
        "/console/login/",
        {"username": agent.username, "password": PASSWORD, "next": next_url},
    )


def test_a_form_sent_after_the_login_expired_comes_back_after_login_and_registers_once(world):
    agent = _agent_with_password(world)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the session expired: the browser is logged out
    body = intake_body(world, content="老旧小区电梯停运三天，老人下不了楼。")

    # when: the agent presses "register" on a form filled in before the login expired
    sent = client.post("/console/intake/", body)

    # then: nothing is registered, and the login page will lead back to the form
    assert sent.status_code == 302
    assert sent["Location"] == "/console/login/?next=/console/intake/"
    assert Appeal.objects.count() == 0

    # when: the agent logs in again
    logged_in = _log_in(client, agent, "/console/intake/")
    assert logged_in["Location"] == "/console/intake/"
    page = client.get("/console/intake/")

    # then: everything typed is there, with the same submission key, and a plain explanation
    text = page.content.decode()
    assert page.status_code == 200
    assert "老旧小区电梯停运三天，老人下不了楼。" in text
    assert 'value="13800001111"' in text
    assert 'value="form-key-1"' in text
    assert any("login had expired" in str(m) for m in page.context["messages"])
    assert Appeal.objects.count() == 0

    # and: sending it registers the appeal once, even if the first send had got through
    client.post("/console/intake/", page.context["form"].data)
    client.post("/console/intake/", page.context["form"].data)
    assert list(Appeal.objects.values_list("content", flat=True)) == [
        "老旧小区电梯停运三天，老人下不了楼。"
    ]


def test_the_kept_form_is_given_back_once_and_only_on_its_own_page(world):
    agent = _agent_with_password(world)
    client = Client()
    client.post("/console/intake/", intake_body(world, content="第一次填写的内容"))
    _log_in(client, agent, "/console/intake/")

    assert "第一次填写的内容" not in client.get("/console/").content.decode()
    assert "第一次填写的内容" in client.get("/console/intake/").content.decode()
    assert "第一次填写的内容" not in client.get("/console/intake/").content.decode()


def test_the_csrf_token_is_not_kept_and_an_oversized_post_is_not_kept(world):
    client = Client()
    client.post("/console/intake/", intake_body(world, csrfmiddlewaretoken="secret-token"))
    kept = client.session["ui.kept_post"]
    assert "csrfmiddlewaretoken" not in kept["fields"]
    assert kept["fields"]["content"] == ["村口路灯坏了一个月。"]

    other = Client()
    other.post("/console/intake/", intake_body(world, content="长" * 70_000))
    assert "ui.kept_post" not in other.session


def test_a_logged_out_get_is_an_ordinary_login_redirect_and_keeps_nothing(world):
    client = Client()
    response = client.get("/console/intake/?phone=13800001111")
    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/intake/%3Fphone%3D13800001111"
    assert "ui.kept_post" not in client.session
