"""Smoke test of bench/pages.py's measuring code on the small test city (no timing targets)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.appeals.factories import in_progress
from tests.conftest import World

BENCH = Path(__file__).resolve().parent.parent / "bench" / "pages.py"


def _pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pages", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_pages"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db
def test_every_page_kind_is_measured_with_positive_times_and_query_counts(
    world: World, settings: object
) -> None:
    # given three appeals in progress at 和兴镇, seen by the dispatcher and the town's handler
    settings.MINSHENG_TRACKING_RATE = 1000  # type: ignore[attr-defined]
    for _ in range(3):
        in_progress(world)
    pages = _pages()
    users = {"dispatcher": world["dispatcher"], "township": world["town_handler"]}

    # when every page kind is measured with 5 requests after 1 warm-up round
    kinds = pages.build_kinds(users, only=[], count=8, rng=random.Random(1))
    transport = pages.InProcess(users)
    pages.measure(kinds, transport, warmup=1, requests=5)
    pages.count_queries(kinds, transport, offset=6, sample=2)
    rows = pages.rows_of(kinds)

    # then each page of each account has 5 answered requests, a time and its SQL statements
    staff_pages = [
        "console home",
        "queue",
        "queue status=in_progress",
        "queue overdue",
        "queue search text",
        "queue search code",
        "queue page 3",
        "appeal detail",
    ]
    # the center sees the supervision orders page; a township's handler does not
    assert [(k.page, k.role) for k in kinds] == [
        *((page, "dispatcher") for page in staff_pages),
        ("supervision orders", "dispatcher"),
        ("supervision orders answered too", "dispatcher"),
        ("notifications", "dispatcher"),
        *((page, "township") for page in staff_pages),
        ("notifications", "township"),
        ("portal track lookup", "citizen"),
        ("portal tracking page", "citizen"),
    ]
    for kind in kinds:
        assert kind.errors == [], kind.label
        assert len(kind.times) == 5, kind.label
        assert all(t > 0 for t in kind.times), kind.label
        assert len(kind.queries) == 2, kind.label
        assert min(kind.queries) > 0, kind.label
    assert [row[2] for row in rows] == ["5"] * len(kinds)
