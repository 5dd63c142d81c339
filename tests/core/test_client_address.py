"""Per-address rate limits behind the proxy: keyed on the X-Real-IP it sets, and only then."""

from __future__ import annotations

from django.test import RequestFactory

from minsheng.core.ratelimit import client_address

factory = RequestFactory()


def _request(**headers: str):
    return factory.get("/", REMOTE_ADDR="10.0.0.5", **headers)


def test_without_the_proxy_setting_the_header_is_ignored(settings):
    # a client sending its own X-Real-IP must not get a fresh budget per request
    settings.MINSHENG_BEHIND_PROXY = False
    assert client_address(_request(HTTP_X_REAL_IP="203.0.113.7")) == "10.0.0.5"


def test_behind_the_proxy_each_citizen_has_an_address_of_their_own(settings):
    settings.MINSHENG_BEHIND_PROXY = True
    assert client_address(_request(HTTP_X_REAL_IP="203.0.113.7")) == "203.0.113.7"
    assert client_address(_request(HTTP_X_REAL_IP=" 2001:db8::1 ")) == "2001:db8::1"


def test_a_header_that_is_no_address_falls_back_to_the_connection(settings):
    settings.MINSHENG_BEHIND_PROXY = True
    assert client_address(_request(HTTP_X_REAL_IP="x" * 500)) == "10.0.0.5"
    assert client_address(_request()) == "10.0.0.5"


def test_tracking_limit_counts_each_forwarded_citizen_apart(settings, client, world):
    # given the proxy setting and a limit of 2 look-ups a minute per address
    from django.core.cache import cache

    cache.clear()
    settings.MINSHENG_BEHIND_PROXY = True
    settings.MINSHENG_TRACKING_RATE = 2
    body = {"tracking_code": "ZZZZZZZZZZ", "phone": "13800000000"}
    url = "/api/v1/public/appeals/track"

    def look(address: str) -> int:
        return client.post(
            url, body, content_type="application/json", HTTP_X_REAL_IP=address
        ).status_code

    # when one citizen uses up their budget
    assert [look("203.0.113.7") for _ in range(3)] == [404, 404, 429]
    # then another, behind the same proxy, still has theirs
    assert look("198.51.100.9") == 404
