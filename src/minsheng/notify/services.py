"""Sending notifications: rows in the caller's transaction, deliveries after it commits.

``notify`` writes the in-app notifications and one ``Delivery`` row per extra channel in the
caller's transaction, and enqueues one delivery task per row with ``transaction.on_commit``:
a rolled-back action notifies no one, and a committed one is delivered by a worker.

Never twice: a delivery task first *claims* its row with a conditional UPDATE (pending →
sending); a duplicated or retried task finds the row sent (or being sent) and does nothing.

A worker killed between calling the gateway and marking the row sent leaves it "sending", and
nobody can know whether the gateway got the message. The platform chooses **at most once**
for that window: ``recover_stale_deliveries`` settles such rows as "unknown" (logged, shown in
the admin) instead of sending again, because the in-app notification already holds the same
message and a duplicated supervision text is worse than a missing one. An operator who prefers
at least once sets ``MINSHENG_NOTIFY_RESEND_STALE=1``: stale rows then go back to pending and
are sent again. Every attempt at one delivery carries the same key (``delivery_key``), so a
gateway that keeps the keys it accepted drops the resend: exactly once at the phone
(bench/faults/kill_worker.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from minsheng.appeals.models import Appeal
from minsheng.core import clock
from minsheng.org.models import User

from . import email, sms
from .choices import Channel, DeliveryStatus
from .models import Delivery, Notification

logger = logging.getLogger("minsheng.notify")

SENDERS = {
    Channel.SMS: lambda d: sms.send_sms(d.address, _sms_text(d.notification), key=delivery_key(d)),
    Channel.EMAIL: lambda d: email.send_email(d.address, d.notification.title, d.notification.body),
}


def delivery_key(delivery: Delivery) -> str:
    """The same for every attempt at one delivery: a gateway that remembers the keys it took
    drops a resend (``MINSHENG_NOTIFY_RESEND_STALE``), so each message reaches the phone once."""
    return f"minsheng-delivery-{delivery.pk}"


def _sms_text(notification: Notification) -> str:
    return f"【民生】{notification.title}"


def configured_channels() -> list[str]:
    """The channels besides the bell that ``MINSHENG_NOTIFY_CHANNELS`` turns on."""
    return [c for c in settings.MINSHENG_NOTIFY_CHANNELS if c in Channel.values]


def _address(user: User, channel: str) -> str:
    return (user.phone if channel == Channel.SMS else user.email or "").strip()


def notify(
    *,
    recipients: Iterable[User],
    kind: str,
    appeal: Appeal | None,
    title: str,
    body: str = "",
    channels: Iterable[str] = (),
    key: str = "",
) -> list[Notification]:
    """Notify each active recipient once: in the app always, and on each channel they have an
    address for. With a ``key``, recipients already notified of that event are skipped."""
    people = {u.pk: u for u in recipients if u is not None and u.is_active}
    if key:
        done = set(
            Notification.objects.filter(key=key, recipient_id__in=list(people)).values_list(
                "recipient_id", flat=True
            )
        )
        people = {pk: u for pk, u in people.items() if pk not in done}
    if not people:
        return []
    now = clock.now()
    created = Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                kind=kind,
                key=key,
                appeal=appeal,
                title=title[:200],
                body=body,
                created_at=now,
            )
            for user in people.values()
        ]
    )
    wanted = [Channel(c) for c in dict.fromkeys(channels) if c in Channel.values]
    deliveries = [
        Delivery(notification=n, channel=channel, address=address)
        for n in created
        for channel in wanted
        if (address := _address(people[n.recipient_id], channel))
    ]
    if deliveries:
        # PostgreSQL and SQLite ≥ 3.35 return the new ids (RETURNING).
        ids = [d.pk for d in Delivery.objects.bulk_create(deliveries)]
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return created


def enqueue_deliveries(ids: Iterable[int], *, delay_seconds: float = 0) -> None:
    from .tasks import deliver_notification

    task = deliver_notification
    if delay_seconds:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay_seconds))
    for pk in ids:
        task.enqueue(pk)


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | failed | skipped
    detail: str = ""


def retry_delay(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from the base, at most an hour."""
    base = settings.MINSHENG_NOTIFY_RETRY_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), 3600))


def deliver(delivery_id: int) -> Outcome:
    """Claim, send, mark. Runs outside any transaction: each step commits on its own."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if claimed != 1:
        return Outcome("skipped")  # sent, being sent, given up on, or no such row
    delivery = Delivery.objects.select_related("notification").get(pk=delivery_id)
    try:
        SENDERS[Channel(delivery.channel)](delivery)
    except Exception as exc:  # any backend failure is recorded and retried
        return _failed(delivery, f"{type(exc).__name__}: {exc}"[:2000])
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return Outcome("sent")


def _failed(delivery: Delivery, error: str) -> Outcome:
    final = delivery.attempts >= settings.MINSHENG_NOTIFY_MAX_ATTEMPTS
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
        last_error=error,
    )
    if final:
        logger.warning(
            "delivery %s (%s) failed after %s attempts: %s",
            delivery.pk,
            delivery.channel,
            delivery.attempts,
            error,
        )
        return Outcome("failed", error)
    enqueue_deliveries([delivery.pk], delay_seconds=retry_delay(delivery.attempts))
    return Outcome("retry", error)


def recover_stale_deliveries(*, resend: bool | None = None) -> int:
    """Settle rows left "sending" longer than ``MINSHENG_NOTIFY_STALE_SECONDS`` by a worker
    that died mid-send: "unknown" (at most once, the default) or back to pending (resend)."""
    if resend is None:
        resend = settings.MINSHENG_NOTIFY_RESEND_STALE
    cutoff = timezone.now() - timedelta(seconds=settings.MINSHENG_NOTIFY_STALE_SECONDS)
    stale = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
    if not resend:
        count = stale.update(
            status=DeliveryStatus.UNKNOWN,
            last_error="The worker stopped while sending; not sent again (at most once).",
        )
        if count:
            logger.warning("%s deliveries left 'sending' marked unknown", count)
        return count
    ids = list(stale.values_list("pk", flat=True))
    count = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING
    )
    if count:
        enqueue_deliveries(ids)
    return count


# ---------------------------------------------------------------- the bell


def unread_count(user: User, cap: int = 100) -> int:
    """Unread notifications, counted up to ``cap`` on the partial index (the bell says 99+)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True)[:cap].count()


def mark_read_about(*, user: User, appeal_id: int) -> int:
    """Opening an appeal reads the user's notifications about it: the bell's link leads there,
    and a message one has acted on should not stay "new". Returns how many changed."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True, appeal_id=appeal_id)
    return rows.update(read_at=clock.now())


def mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them); returns how many changed.

    Another user's notification is not found (the caller answers 404).
    """
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        rows = rows.filter(pk=notification_id)
    return rows.update(read_at=clock.now())
