"""/metrics: Prometheus text that parses, request counters by view, gauges that are the truth,
and nothing for anyone outside the allowed addresses (or without the token)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from minsheng.appeals.models import Appeal
from minsheng.core import metrics
from minsheng.notify.models import Delivery, Notification
from minsheng.notify.services import enqueue_deliveries
from tests.appeals.factories import closed, dispatched, in_progress, submitted

pytestmark = pytest.mark.django_db


def scrape(**extra: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape from localhost, by (name, sorted labels)."""
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_scrape_parses_and_has_every_family():
    response = Client().get("/metrics")

    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {
        "minsheng_http_requests",
        "minsheng_http_request_duration_seconds",
        "minsheng_appeals_open",
        "minsheng_appeals_overdue",
        "minsheng_tasks_waiting",
        "minsheng_tasks_oldest_ready_seconds",
        "minsheng_notification_deliveries",
    } <= names
    assert "no-cache" in response["Cache-Control"]


def test_requests_are_counted_and_timed_by_view_name_and_status_class():
    # given
    before = scrape()

    # when: two answered requests and two for URLs that do not exist
    Client().get("/healthz")
    Client().get("/healthz")
    Client().get("/no/such/page/1")
    Client().get("/no/such/page/2")
    after = scrape()

    # then: the named view moved by two, the unknown paths share one series
    requests = "minsheng_http_requests_total"
    healthz = {"view": "healthz", "method": "GET", "status": "2xx"}
    unresolved = {"view": "<unresolved>", "method": "GET", "status": "4xx"}
    assert value(after, requests, **healthz) - value(before, requests, **healthz) == 2
    assert value(after, requests, **unresolved) - value(before, requests, **unresolved) == 2
    count = "minsheng_http_request_duration_seconds_count"
    assert value(after, count, view="healthz") - value(before, count, view="healthz") == 2
    assert not any("no/such" in str(labels) for _name, labels in after)


def test_a_method_outside_the_usual_few_is_counted_as_other():
    before = scrape()
    Client().generic("PROPFIND", "/healthz")
    after = scrape()

    labels = {"view": "healthz", "method": "other", "status": "4xx"}
    assert (
        value(after, "minsheng_http_requests_total", **labels)
        - value(before, "minsheng_http_requests_total", **labels)
        == 1
    )


def test_business_gauges_equal_the_real_counts(world):
    # given: appeals in several states, one of them past its deadline
    submitted(world)
    dispatched(world)
    late = in_progress(world)
    in_progress(world)
    closed(world)
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    # deliveries: two waiting, one failed, one sent; two tasks queued, one of them for later
    note = Notification.objects.create(
        recipient=world["agent"], kind="test", title="t", created_at=timezone.now()
    )
    for status, channel in [("pending", "sms"), ("failed", "email")]:
        Delivery.objects.create(notification=note, channel=channel, address="x", status=status)
    other = Notification.objects.create(
        recipient=world["dispatcher"], kind="test", title="t", created_at=timezone.now()
    )
    Delivery.objects.create(notification=other, channel="sms", address="x", status="pending")
    Delivery.objects.create(notification=other, channel="email", address="x", status="sent")
    enqueue_deliveries([1])
    enqueue_deliveries([2], delay_seconds=3600)

    # when
    samples = scrape()

    # then
    assert value(samples, "minsheng_appeals_open", status="received") == 1
    assert value(samples, "minsheng_appeals_open", status="dispatched") == 1
    assert value(samples, "minsheng_appeals_open", status="in_progress") == 2
    assert value(samples, "minsheng_appeals_open", status="closed") == 0
    assert sum(v for (n, _l), v in samples.items() if n == "minsheng_appeals_open") == 4
    assert value(samples, "minsheng_appeals_overdue") == 1
    assert value(samples, "minsheng_tasks_waiting", queue="default") == 2
    assert 0 <= value(samples, "minsheng_tasks_oldest_ready_seconds", queue="default") < 60
    assert value(samples, "minsheng_notification_deliveries", status="pending") == 2
    assert value(samples, "minsheng_notification_deliveries", status="failed") == 1
    assert value(samples, "minsheng_notification_deliveries", status="sending") == 0
    assert value(samples, "minsheng_notification_deliveries", status="unknown") == 0


def test_a_scrape_while_the_database_is_down_still_answers_and_says_so():
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")  # what a stopped server gives

    with connection.execute_wrapper(refuse):
        samples = scrape()

    assert value(samples, "minsheng_database_up") == 0
    assert not any(name.startswith("minsheng_appeals_") for name, _labels in samples)
    assert any(name == "minsheng_http_requests_total" for name, _labels in samples)


def test_the_database_is_up_when_the_gauges_are_read():
    assert value(scrape(), "minsheng_database_up") == 1


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    "remote_addr", ["203.0.113.9", "10.0.0.1", "::ffff:8.8.8.8", "not-an-address", ""]
)
def test_other_addresses_get_a_404(remote_addr):
    response = Client().get("/metrics", REMOTE_ADDR=remote_addr)
    assert response.status_code == 404
    assert b"minsheng_" not in response.content


def test_a_request_through_a_proxy_is_not_trusted_for_its_local_address():
    # nginx on the same machine connects from 127.0.0.1 for every visitor
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert response.status_code == 404


def test_allowed_networks_and_ipv6_loopback(settings):
    settings.MINSHENG_METRICS_ALLOWED_IPS = ["10.20.0.0/16", "::1"]
    assert Client().get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:10.20.3.4").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="10.21.0.1").status_code == 404
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_the_token_admits_from_anywhere_and_only_the_right_one(settings):
    settings.MINSHENG_METRICS_TOKEN = "s3cret-scrape-token"
    far = {"REMOTE_ADDR": "203.0.113.9"}
    assert (
        Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **far).status_code
        == 200
    )
    for wrong in ["Bearer wrong", "Bearer ", "Basic s3cret-scrape-token", "s3cret-scrape-token"]:
        assert Client().get("/metrics", HTTP_AUTHORIZATION=wrong, **far).status_code == 404
    assert Client().get("/metrics", **far).status_code == 404


def test_without_a_token_setting_no_header_opens_it(settings):
    settings.MINSHENG_METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_only_get_and_head():
    assert Client().post("/metrics").status_code == 405
    assert Client().head("/metrics").status_code == 200


def test_metrics_are_not_in_the_api_document():
    document = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert not [path for path in document["paths"] if "metrics" in path]


# ---------------------------------------------------------------- gunicorn hooks


def test_on_starting_empties_the_directory_and_names_it(tmp_path, monkeypatch):
    # given: files an earlier run left behind
    directory = tmp_path / "metrics" / "host-8000"
    directory.mkdir(parents=True)
    (directory / "counter_123.db").write_bytes(b"old")
    # (empty, as in a master that has not imported prometheus_client; restored afterwards)
    monkeypatch.setenv(metrics.MULTIPROCESS_ENV, "")
    monkeypatch.delitem(sys.modules, "prometheus_client.values")
    hooks = metrics.gunicorn_hooks(directory)

    # when
    hooks["on_starting"](None)

    # then
    assert list(directory.iterdir()) == []
    assert os.environ[metrics.MULTIPROCESS_ENV] == str(directory)


# ---------------------------------------------------------------- under `minsheng serve`


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - localhost
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def _healthz_count(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "minsheng_http_requests_total" and sample.labels == {
                "view": "healthz",
                "method": "GET",
                "status": "2xx",
            }:
                total += sample.value
    return total


def test_gunicorn_workers_add_up_and_a_dead_workers_counts_are_kept(tmp_path):
    # given: a migrated data directory, and a stale file where the metrics directory will be
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "PROMETHEUS_"))}
    env.update(MINSHENG_DATA_DIR=str(tmp_path), MINSHENG_SECRET_KEY="metrics-test-key")
    command = [sys.executable, "-m", "minsheng.cli"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True, timeout=300)  # noqa: S603
    port = _free_port()
    directory = tmp_path / "metrics" / f"{socket.gethostname()}-{port}"
    directory.mkdir(parents=True)
    (directory / "stale.db").write_bytes(b"from an earlier run")
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        # the master logs "Listening at" once its socket is bound: from then on a request waits
        # in the socket's queue until a worker has loaded the app (no polling)
        said = []
        for line in server.stderr:  # type: ignore[union-attr]
            said.append(line.decode())
            if "Listening at" in line.decode():
                break
        else:
            raise AssertionError("server did not start:\n" + "".join(said))
        assert _get(f"{base}/healthz", timeout=120)[0] == 200
        assert not (directory / "stale.db").exists()

        # when: requests over new connections until both workers have served some (which
        # worker accepts is the kernel's choice: on a busy machine one may take the first 30)
        def workers_seen() -> set[int]:
            pids = {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("counter_*.db")}
            return pids - {server.pid}

        sent = 0
        while sent < 30 or len(workers_seen()) < 2:
            assert sent < 1000, f"one worker took all {sent} requests"
            assert _get(f"{base}/healthz")[0] == 200
            sent += 1
        status, text = _get(f"{base}/metrics")

        # then: every scrape, from whichever worker, counts them all (the first probe included)
        assert status == 200
        assert _healthz_count(text) == sent + 1
        workers = workers_seen()
        assert len(workers) == 2

        # when: a worker dies; gunicorn starts another
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            assert _get(f"{base}/healthz")[0] == 200
            pids = {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("counter_*.db")}
            if pids - workers - {server.pid}:
                break
            assert time.monotonic() < deadline, "no new worker served a request"
        _status, text = _get(f"{base}/metrics")

        # then: the dead worker's requests still count
        assert _healthz_count(text) >= 32
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
