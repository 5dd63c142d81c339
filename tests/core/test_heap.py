"""A server process freezes its long-lived heap once, after its first requests (core.heap)."""

from __future__ import annotations

import gc

from minsheng.core.heap import FreezeAfterWarmUp


def test_a_process_freezes_its_heap_once_after_its_warm_up_requests():
    served: list[dict] = []

    def app(environ: dict, start_response: object) -> list[bytes]:
        served.append(environ)
        return [b"ok"]

    wrapped = FreezeAfterWarmUp(app, after=3)
    gc.unfreeze()
    try:
        for _ in range(2):
            assert wrapped({"n": 1}, None) == [b"ok"]
        assert gc.get_freeze_count() == 0
        wrapped({}, None)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        keep = [object() for _ in range(100)]  # new objects stay collectable: no second freeze
        wrapped({}, None)
        assert gc.get_freeze_count() == frozen
        assert len(served) == 4 and keep
    finally:
        gc.unfreeze()


def test_the_wsgi_application_is_wrapped():
    from minsheng import wsgi

    assert isinstance(wsgi.application, FreezeAfterWarmUp)
