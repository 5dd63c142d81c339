"""Notifications: rows in the caller's transaction, delivery after commit, at most once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from minsheng.notify import services, sms
from minsheng.notify.models import Delivery, Notification
from minsheng.notify.tasks import deliver_notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(world):
    handler, leader = world["town_handler"], world["town_leader"]
    handler.phone, handler.email = "13800001111", "handler@example.org"
    leader.phone, leader.email = "13800002222", ""
    handler.save()
    leader.save()
    return handler, leader


@pytest.fixture
def locmem_sms(settings):
    settings.MINSHENG_SMS_BACKEND = "minsheng.notify.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def queued_deliveries() -> list[int]:
    return [
        r.args_kwargs["args"][0]
        for r in DBTaskResult.objects.filter(task_path=deliver_notification.module_path)
    ]


def send(people, **overrides):
    fields = {
        "recipients": people,
        "kind": "test",
        "appeal": None,
        "title": "督办通知",
        "body": "请及时处理。",
        "channels": ["sms", "email"],
    }
    fields.update(overrides)
    return services.notify(**fields)


def test_notify_writes_rows_and_enqueues_after_commit(people, django_capture_on_commit_callbacks):
    handler, leader = people

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = send(people)
        # nothing is queued before the transaction commits
        assert queued_deliveries() == []
    for callback in callbacks:
        callback()

    assert [n.recipient for n in created] == [handler, leader]
    rows = list(Delivery.objects.order_by("pk").values_list("notification__recipient", "channel"))
    # the leader has no e-mail address: no e-mail delivery for them
    assert rows == [(handler.pk, "sms"), (handler.pk, "email"), (leader.pk, "sms")]
    assert sorted(queued_deliveries()) == sorted(Delivery.objects.values_list("pk", flat=True))


def test_a_rolled_back_action_notifies_no_one(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            send(people)
            raise RuntimeError("the action failed")

    assert callbacks == []
    assert Notification.objects.count() == 0
    assert queued_deliveries() == []


def test_the_same_event_notifies_each_person_once(people):
    send(people, key="order:1")
    send(people, key="order:1")

    assert Notification.objects.count() == 2


def test_a_delivery_is_sent_once_even_if_the_task_runs_twice(people, locmem_sms):
    send(people[:1], channels=["sms"])
    delivery = Delivery.objects.get()

    first = deliver_notification.call(delivery.pk)
    second = deliver_notification.call(delivery.pk)

    assert (first, second) == ("sent", "skipped")
    assert [(m.phone, m.text) for m in locmem_sms] == [("13800001111", "【民生】督办通知")]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_email_goes_through_djangos_mail(people):
    send(people[:1], channels=["email"])

    assert services.deliver(Delivery.objects.get().pk).status == "sent"

    assert [(m.to, m.subject, m.body) for m in mail.outbox] == [
        (["handler@example.org"], "督办通知", "请及时处理。")
    ]


class Gateway:
    """A tiny SMS gateway on 127.0.0.1 that answers every POST with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                gateway.requests.append((dict(self.headers), body))
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    settings.MINSHENG_SMS_BACKEND = "minsheng.notify.sms.WebhookBackend"
    settings.MINSHENG_SMS_WEBHOOK_TOKEN = "s3cret"
    settings.MINSHENG_SMS_WEBHOOK_TIMEOUT = 2
    return settings


def test_the_webhook_backend_posts_json_to_the_gateway(people, webhook):
    send(people[:1], channels=["sms"])
    with Gateway(200) as gateway:
        webhook.MINSHENG_SMS_WEBHOOK_URL = gateway.url
        outcome = services.deliver(Delivery.objects.get().pk)

    assert outcome.status == "sent"
    [(headers, body)] = gateway.requests
    key = f"minsheng-delivery-{Delivery.objects.get().pk}"
    assert body == {"phone": "13800001111", "text": "【民生】督办通知", "key": key}
    assert headers["Idempotency-Key"] == key
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_a_failing_gateway_is_retried_then_the_delivery_is_recorded_failed(people, webhook):
    webhook.MINSHENG_NOTIFY_MAX_ATTEMPTS = 3
    webhook.MINSHENG_NOTIFY_RETRY_SECONDS = 30
    send(people[:1], channels=["sms"])
    delivery = Delivery.objects.get()
    before = timezone.now()

    with Gateway(503) as gateway:
        webhook.MINSHENG_SMS_WEBHOOK_URL = gateway.url
        outcomes = [services.deliver(delivery.pk).status for _ in range(4)]

    assert outcomes == ["retry", "retry", "failed", "skipped"]
    assert len(gateway.requests) == 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error == "SmsError: gateway answered HTTP 503"
    # the two retries were queued with a growing delay: 30 s, then 60 s
    delays = sorted(
        (r.run_after - before).total_seconds()
        for r in DBTaskResult.objects.filter(task_path=deliver_notification.module_path)
        if r.args_kwargs["args"] == [delivery.pk] and r.run_after.year < 9999
    )
    assert [round(d, -1) for d in delays] == [30, 60]


def test_an_unreachable_gateway_is_an_error_not_a_crash(people, webhook):
    webhook.MINSHENG_SMS_WEBHOOK_URL = "http://127.0.0.1:9/sms"  # discard port: refused
    send(people[:1], channels=["sms"])

    outcome = services.deliver(Delivery.objects.get().pk)

    assert outcome.status == "retry"
    assert outcome.detail.startswith("SmsError: gateway unreachable")


def _stale(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending", attempts=1, claimed_at=timezone.now() - timedelta(hours=1)
    )


def test_a_delivery_left_sending_is_settled_unknown_not_resent(people, locmem_sms):
    send(people[:1], channels=["sms"])
    delivery = Delivery.objects.get()
    _stale(delivery)

    assert services.recover_stale_deliveries() == 1
    assert services.deliver(delivery.pk).status == "skipped"

    delivery.refresh_from_db()
    assert delivery.status == "unknown"
    assert locmem_sms == []


def test_resending_stale_deliveries_is_an_explicit_choice(people, locmem_sms, settings):
    settings.MINSHENG_NOTIFY_RESEND_STALE = True
    send(people[:1], channels=["sms"])
    delivery = Delivery.objects.get()
    _stale(delivery)

    assert services.recover_stale_deliveries() == 1
    assert services.deliver(delivery.pk).status == "sent"
    assert len(locmem_sms) == 1


def test_a_recent_sending_row_is_left_alone(people):
    send(people[:1], channels=["sms"])
    Delivery.objects.update(status="sending", claimed_at=timezone.now())

    assert services.recover_stale_deliveries() == 0
    assert Delivery.objects.get().status == "sending"
