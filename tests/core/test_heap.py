"""A server process freezes its long-lived heap once, after its first requests (core.heap)."""

from __future__ import annotations

import gc

from minsheng.core.heap import FreezeAfterWarmUp


def test_a_process_freezes_its_heap_once_after_its_warm_up_requests(monkeypatch):
    served: list[dict] = []
    freezes: list[int] = []

    def app(environ: dict, start_response: object) -> list[bytes]:
        served.append(environ)
        return [b"ok"]

    def freeze() -> None:
        freezes.append(len(served))
        real_freeze()

    real_freeze = gc.freeze
    monkeypatch.setattr(gc, "freeze", freeze)
    wrapped = FreezeAfterWarmUp(app, after=3)
    try:
        for _ in range(2):
            assert wrapped({"n": 1}, None) == [b"ok"]
        assert freezes == []
        wrapped({}, None)
        assert freezes == [2]  # before the third request is served
        assert gc.get_freeze_count() > 0  # the objects alive then are out of the collector's sight
        for _ in range(5):
            wrapped({}, None)
        assert freezes == [2] and len(served) == 8  # once only
    finally:
        gc.unfreeze()


def test_the_wsgi_application_is_wrapped():
    from minsheng import wsgi

    assert isinstance(wsgi.application, FreezeAfterWarmUp)
