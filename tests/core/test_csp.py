"""The Content-Security-Policy header: strict on the site's pages, left off the admin."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("url", ["/healthz", "/", "/console/login/"])
def test_pages_forbid_inline_code_and_other_origins(url):
    response = Client().get(url)
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


def test_the_admin_has_no_policy(world):
    # the admin's own pages use inline styles; its login is the console's (which has the policy)
    client = Client()
    client.force_login(world["center_admin"])
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
