"""Real-browser journeys: Playwright drives Debian's Chromium against a live test server.

When a test fails, ``test-artifacts/`` (kept by CI) receives a screenshot of every page it had
open and a Playwright trace of each, with a screenshot of every step. Accessibility is checked
with axe-core from the npm registry, injected into the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop on this thread; the test's own ORM calls are still
# plain synchronous code, so Django's "async-unsafe" guard must stand aside here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MINSHENG_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps` (apt chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    if report.when == "call":
        item.failed_call = report.failed  # type: ignore[attr-defined]
    return report


@pytest.fixture
def pages(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``pages(viewport=…, locale=…, **context options)`` opens a fresh browser context.

    The site's Content-Security-Policy forbids inline scripts, which is how axe is injected
    into a page, so contexts bypass it unless a test asks for it (``bypass_csp=False``, as
    test_csp.py does to prove the pages run under it)."""
    opened: list[Page] = []

    def open_page(
        viewport: dict[str, int] | None = None,
        locale: str = "zh-CN",
        bypass_csp: bool = True,
        **options: Any,
    ) -> Page:
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 900},
            locale=locale,
            bypass_csp=bypass_csp,
            **options,
        )
        # A trace films every step (a screenshot per action, with the DOM and network); it is
        # written out only when the test fails. Open it with `.venv/bin/playwright show-trace`.
        context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        opened.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "failed_call", False)
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
    for index, page in enumerate(opened):
        if failed:
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 — a closed page must not hide the failure
                print(f"no screenshot of page {index}: {exc}")
        trace = str(ARTIFACTS / f"{name}-{index}-trace.zip") if failed else None
        page.context.tracing.stop(path=trace)
        page.context.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Serious and critical accessibility violations on the current page, as readable lines."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def finish_two_factor(page: Page, user: Any) -> None:
    """After the password: type the code of the user's authenticator when the role asks for
    one (a confirmed device is made first, as if enrolled earlier). Other roles: nothing."""
    from minsheng.org.models import User
    from minsheng.org.security import two_factor
    from tests.conftest import confirmed_device, totp_code

    account = User.objects.get(pk=user.pk)
    if not two_factor.required_for(account):
        return
    device = confirmed_device(account)
    page.wait_for_url(re.compile(r"/console/two-factor/"))
    page.locator("input[name=code]").fill(totp_code(device))
    page.locator("form:has(input[name=code]) button[type=submit]").click()
