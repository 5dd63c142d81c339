"""A supervisor sets up an authenticator app and logs in with it, in Chromium, under the CSP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.conftest import make_world, totp_code

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "Journey-pass-2024!"


def code_for(secret_text: str) -> str:
    secret = secret_text.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


def test_supervisor_enrols_then_logs_in_with_a_code(live_server: Any, pages: Any):
    world = make_world()
    user = world["supervisor"]
    user.set_password(PASSWORD)
    user.save()
    base = live_server.url
    page = pages(locale="en-US", bypass_csp=False)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(base + "/console/login/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(base + "/console/two-factor/?next=%2Fconsole%2F")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step login")
    qr = page.locator("figure.qr svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 100
    page.goto(base + "/console/appeals/")  # nothing opens before the code
    expect(page).to_have_url(base + "/console/two-factor/?next=%2Fconsole%2Fappeals%2F")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Six-digit code").fill(code_for(secret))
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(base + "/console/appeals/")
    assert TOTPDevice.objects.get(user=user).confirmed
    assert violations == []

    # The next login asks only for the code.
    page.get_by_role("button", name="Log out").click()
    page.goto(base + "/console/login/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#totp-secret")).to_have_count(0)
    page.get_by_label("Six-digit code").fill(totp_code(TOTPDevice.objects.get(user=user)))
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(base + "/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")
