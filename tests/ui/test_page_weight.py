"""A portal page's first load stays under 100 KB of JS + CSS, compressed (slow rural links)."""

from __future__ import annotations

import gzip
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

BUDGET_BYTES = 100 * 1024
_ASSET = re.compile(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+\.(?:js|css))(?:\?[^"]*)?"')


def _first_load_bytes(page: str) -> tuple[int, list[str]]:
    assets = sorted(set(_ASSET.findall(page)))
    total = 0
    for url in assets:
        assert url.startswith("/static/"), f"{url}: assets are served locally, never from a CDN"
        path = finders.find(url.removeprefix("/static/"))
        assert path, f"{url} is referenced but not among the static files"
        with open(path, "rb") as handle:
            total += len(gzip.compress(handle.read(), compresslevel=6))
    return total, assets


@pytest.mark.parametrize("url", ["/", "/appeal/new/", "/track/", "/my/login/"])
def test_portal_first_load_js_and_css_fit_the_budget(client: Client, world, url: str):
    response = client.get(url)
    assert response.status_code == 200
    total, assets = _first_load_bytes(response.content.decode())
    assert assets, "the page links its stylesheet"
    assert total < BUDGET_BYTES, f"{url}: {total} bytes compressed in {assets}"


def test_console_intake_links_only_local_assets_within_the_budget(client: Client, world):
    client.force_login(world["agent"])
    response = client.get("/console/intake/")
    assert response.status_code == 200
    total, assets = _first_load_bytes(response.content.decode())
    assert any(a.endswith(".js") for a in assets), "the intake screen enhances with htmx"
    assert total < BUDGET_BYTES, f"{total} bytes compressed in {assets}"
