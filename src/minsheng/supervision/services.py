"""The deadline sweep and the supervision actions: 催办, 督办, 升级督办, 督办回复.

The sweep (``sweep``) is idempotent and safe on several workers at once:

- each warning is one row, unique per (appeal, deadline kind, level, deadline value), created
  with ``get_or_create`` (a savepoint that turns a lost race into "already there");
- each appeal is handled in its own transaction that first locks the appeal row with
  ``SKIP LOCKED`` (PostgreSQL): a second worker skips an appeal the first is working on, and
  the next sweep picks up whatever was skipped; on SQLite the IMMEDIATE transaction serialises
  writers and the unique rows do the rest;
- whatever a warning causes (the reminder or supervision order event, the notifications) is
  written in the same transaction as the warning, so it exists exactly when the warning does.

What each warning does:

- yellow (accept or completion deadline): a reminder (催办) to the lead unit's staff;
- red on the accept deadline: a reminder that the appeal was not accepted in time;
- red on the completion deadline: a supervision order (督办单) to the lead unit's leaders,
  answered within ``MINSHENG_SUPERVISION_RESPONSE_DAYS`` working days; if the appeal was
  already overdue once before (an earlier deadline, e.g. before an extension), it escalates to
  the city's supervisors (升级督办) instead;
- an open supervision order past its response deadline escalates too. Escalation happens once
  per appeal.

Suspended appeals are not swept (their clock is stopped); replied ones wait for the center's
review, not for the unit. Warnings whose deadline no longer applies (an extension or resume
moved it, the appeal was accepted, replied or closed) are cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from minsheng.appeals import services as appeal_services
from minsheng.appeals.choices import Status, TimeUnit
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.appeals.reference import resolve_time_limit
from minsheng.core import calendar, clock
from minsheng.core.errors import DomainError
from minsheng.notify.services import configured_channels, notify
from minsheng.notify.services import recover_stale_deliveries as recover_deliveries
from minsheng.org.models import User

from . import deadlines, recipients
from .choices import DeadlineKind, EscalationCause, Level
from .errors import SupervisionError
from .models import DeadlineWarning, Escalation, SupervisionOrder
from .permissions import may_see_order

logger = logging.getLogger("minsheng.supervision")

K, L, S = DeadlineKind, Level, Status
# Statuses in which each deadline's clock runs and the sweep may warn.
SWEPT = {K.ACCEPT: (S.DISPATCHED,), K.COMPLETE: (S.DISPATCHED, S.IN_PROGRESS)}
# Statuses in which a raised warning still applies (suspended: the deadline will move on
# resume, clearing it then; returned: the dispatcher has not decided yet).
STILL_APPLIES = {
    K.ACCEPT: (S.DISPATCHED,),
    K.COMPLETE: (S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED, S.RETURNED),
}
ESCALATABLE = (S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED, S.REPLIED)
CHUNK = 500


def _deadline_of(appeal: Appeal, kind: str) -> datetime | None:
    return appeal.accept_due_at if kind == K.ACCEPT else appeal.due_at


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _channels() -> list[str]:
    return configured_channels()


# ---------------------------------------------------------------- what is due


@dataclass(frozen=True)
class Due:
    appeal_id: int
    kind: str
    level: str
    deadline: datetime


class _AcceptLimits:
    """The accept limit per (type, category, urgency), looked up once per sweep."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int | None, str], tuple[int, str] | None] = {}

    def __call__(self, appeal: Appeal) -> tuple[int, str] | None:
        key = (appeal.appeal_type, appeal.category_id, appeal.urgency)
        if key not in self._cache:
            try:
                limits = resolve_time_limit(
                    appeal_type=appeal.appeal_type, category=appeal.category, urgency=appeal.urgency
                )
            except DomainError:  # no time limit configured: no warning can be computed
                self._cache[key] = None
            else:
                self._cache[key] = (limits.accept_amount, limits.accept_unit)
        return self._cache[key]


def level_due(
    now: datetime, deadline: datetime, limit: tuple[int, str] | None, share: float
) -> str | None:
    """Red once the deadline has passed (on time means at or before it), yellow from the
    threshold of ``deadlines.yellow_at`` on, else nothing."""
    if now > deadline:
        return L.RED
    if limit is not None and now >= deadlines.yellow_at(deadline, limit[0], limit[1], share):
        return L.YELLOW
    return None


def due_warnings(now: datetime, *, share: float | None = None) -> Iterator[Due]:
    """Warnings that should exist now and do not. Reads only running appeals (the status
    index), in chunks, with the open warnings of each chunk in one query."""
    share = settings.MINSHENG_WARNING_SHARE if share is None else share
    accept_limit = _AcceptLimits()
    ids = list(
        Appeal.objects.filter(status__in=(S.DISPATCHED, S.IN_PROGRESS))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        appeals = (
            Appeal.objects.filter(pk__in=chunk, status__in=(S.DISPATCHED, S.IN_PROGRESS))
            .select_related("category")
            .only(
                "pk",
                "status",
                "appeal_type",
                "urgency",
                "category",
                "accept_due_at",
                "due_at",
                "limit_amount",
                "limit_unit",
            )
            .order_by("pk")
        )
        raised: dict[tuple[int, str, datetime], set[str]] = {}
        for appeal_id, kind, level, deadline in DeadlineWarning.objects.filter(
            appeal_id__in=chunk, cleared_at__isnull=True
        ).values_list("appeal_id", "deadline_kind", "level", "deadline"):
            raised.setdefault((appeal_id, kind, deadline), set()).add(level)
        for appeal in appeals:
            for kind in (K.ACCEPT, K.COMPLETE):
                deadline = _deadline_of(appeal, kind)
                if deadline is None or appeal.status not in SWEPT[kind]:
                    continue
                if kind == K.ACCEPT:
                    limit = accept_limit(appeal)
                elif appeal.limit_amount is not None and appeal.limit_unit:
                    limit = (appeal.limit_amount, appeal.limit_unit)
                else:
                    limit = None
                level = level_due(now, deadline, limit, share)
                have = raised.get((appeal.pk, kind, deadline), set())
                if level is None or L.RED in have or level in have:
                    continue
                yield Due(appeal.pk, kind, level, deadline)


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    warnings: dict[str, int] = field(default_factory=lambda: {L.YELLOW: 0, L.RED: 0})
    reminders: int = 0
    orders: int = 0
    escalations: int = 0
    cleared: int = 0
    skipped: int = 0  # appeals another transaction held: the next sweep takes them
    stale_deliveries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "yellow": self.warnings[L.YELLOW],
            "red": self.warnings[L.RED],
            "reminders": self.reminders,
            "orders": self.orders,
            "escalations": self.escalations,
            "cleared": self.cleared,
            "skipped": self.skipped,
            "stale_deliveries": self.stale_deliveries,
        }


def sweep(*, now: datetime | None = None) -> SweepReport:
    """One pass: clear outdated warnings, raise due ones, escalate unanswered orders."""
    now = now or clock.now()
    report = SweepReport()
    with clock.replaying(now):
        report.cleared = clear_outdated_warnings(now)
        for due in list(due_warnings(now)):
            _count(report, raise_warning(due, now))
        for order_id in overdue_orders(now):
            _count(report, escalate_overdue_order(order_id, now))
    report.stale_deliveries = recover_deliveries()
    return report


def _count(report: SweepReport, done: Iterable[str]) -> None:
    for what in done:
        if what in report.warnings:
            report.warnings[what] += 1
        elif what == "reminder":
            report.reminders += 1
        elif what == "order":
            report.orders += 1
        elif what == "escalation":
            report.escalations += 1
        elif what == "skipped":
            report.skipped += 1


def _lock_for_sweep(appeal_id: int) -> Appeal | None:
    """The appeal under a row lock, or None if another transaction holds it (PostgreSQL)."""
    return (
        Appeal.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("lead_unit", "territory", "category")
        .filter(pk=appeal_id)
        .first()
    )


def raise_warning(due: Due, now: datetime) -> list[str]:
    """Raise one warning and what it causes, once; returns what was done."""
    with transaction.atomic():
        appeal = _lock_for_sweep(due.appeal_id)
        if appeal is None:
            return ["skipped"] if Appeal.objects.filter(pk=due.appeal_id).exists() else []
        if appeal.status not in SWEPT[DeadlineKind(due.kind)]:
            return []
        if _deadline_of(appeal, due.kind) != due.deadline:
            return []
        warning, created = DeadlineWarning.objects.get_or_create(
            appeal=appeal,
            deadline_kind=due.kind,
            level=due.level,
            deadline=due.deadline,
            defaults={"raised_at": now},
        )
        if not created:
            return []
        done = [due.level]
        if due.level == L.YELLOW or due.kind == K.ACCEPT:
            _auto_reminder(appeal, warning)
            done.append("reminder")
        elif _overdue_before(warning):
            if _escalate(appeal, cause=EscalationCause.OVERDUE_AGAIN, order=None, now=now):
                done.append("escalation")
        elif appeal.lead_unit is not None:
            _auto_order(appeal, warning, now)
            done.append("order")
        return done


def _overdue_before(warning: DeadlineWarning) -> bool:
    """Was the appeal already overdue on another completion deadline (before an extension,
    a resume or a reopen moved it)?"""
    return (
        DeadlineWarning.objects.filter(
            appeal_id=warning.appeal_id, deadline_kind=K.COMPLETE, level=L.RED
        )
        .exclude(deadline=warning.deadline)
        .exists()
    )


def _auto_reminder(appeal: Appeal, warning: DeadlineWarning) -> AppealEvent:
    with translation.override(settings.LANGUAGE_CODE):
        facts = {"code": appeal.tracking_code, "due": _when(warning.deadline)}
        if warning.deadline_kind == K.ACCEPT and warning.level == L.RED:
            title = _("Overdue: appeal %(code)s was not accepted by %(due)s") % facts
            body = _("Accept the appeal now, or return it to the center with a reason.")
        elif warning.deadline_kind == K.ACCEPT:
            title = _("Reminder: accept appeal %(code)s by %(due)s") % facts
            body = _("Most of the time to accept this appeal has been used.")
        else:
            title = _("Reminder: appeal %(code)s is due by %(due)s") % facts
            body = _(
                "Most of the time limit of this appeal has been used. Reply before the "
                "deadline, or ask for an extension in time."
            )
    event = appeal_services.remind_appeal(
        appeal=appeal.pk,
        actor=None,
        reason=title,
        data={
            "warning": warning.pk,
            "deadline_kind": warning.deadline_kind,
            "level": warning.level,
        },
    )
    notify(
        recipients=recipients.unit_staff(appeal.lead_unit),
        kind=f"supervision.{warning.level}",
        appeal=appeal,
        title=title,
        body=body,
        channels=_channels(),
        key=f"warning:{warning.pk}",
    )
    return event


def _response_due(now: datetime) -> datetime:
    return calendar.add_limit(
        now, settings.MINSHENG_SUPERVISION_RESPONSE_DAYS, TimeUnit.WORKING_DAYS
    )


def _order_message(appeal: Appeal, order: SupervisionOrder) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Supervision order: appeal %(code)s") % {"code": appeal.tracking_code}
        body = _("%(reason)s\nAnswer this supervision order by %(by)s.") % {
            "reason": order.reason,
            "by": _when(order.response_due_at),
        }
    return title, body


def _auto_order(appeal: Appeal, warning: DeadlineWarning, now: datetime) -> SupervisionOrder:
    with translation.override(settings.LANGUAGE_CODE):
        reason = _("Overdue: the deadline %(due)s has passed without a reply.") % {
            "due": _when(warning.deadline)
        }
    response_due = _response_due(now)
    order = SupervisionOrder.objects.create(
        appeal=appeal,
        unit=appeal.lead_unit,
        automatic=True,
        issued_at=now,
        reason=reason,
        deadline=warning.deadline,
        response_due_at=response_due,
    )
    appeal_services.supervise_appeal(
        appeal=appeal.pk,
        actor=None,
        reason=reason,
        response_due_at=response_due,
        data={"order": order.pk, "warning": warning.pk},
    )
    title, body = _order_message(appeal, order)
    notify(
        recipients=recipients.unit_leaders(order.unit),
        kind="supervision.order",
        appeal=appeal,
        title=title,
        body=body,
        channels=_channels(),
        key=f"order:{order.pk}",
    )
    return order


def _escalate(appeal: Appeal, *, cause: str, order: SupervisionOrder | None, now: datetime) -> bool:
    escalation, created = Escalation.objects.get_or_create(
        appeal=appeal, defaults={"cause": cause, "order": order, "raised_at": now}
    )
    if not created:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        reason = str(EscalationCause(cause).label)
        title = _("Escalated: appeal %(code)s") % {"code": appeal.tracking_code}
        body = _("%(reason)s. Lead unit: %(unit)s; deadline %(due)s.") % {
            "reason": reason,
            "unit": appeal.lead_unit.name if appeal.lead_unit else "—",
            "due": _when(appeal.due_at),
        }
    appeal_services.escalate_appeal(
        appeal=appeal.pk,
        reason=reason,
        data={"cause": cause, "order": order.pk if order else None},
    )
    notify(
        recipients=recipients.city_supervisors(),
        kind="supervision.escalation",
        appeal=appeal,
        title=title,
        body=body,
        channels=_channels(),
        key=f"escalation:{escalation.pk}",
    )
    return True


def overdue_orders(now: datetime) -> list[int]:
    """Open supervision orders past their response deadline, on appeals not yet escalated
    (the partial index on open orders' response deadline)."""
    return list(
        SupervisionOrder.objects.filter(
            responded_at__isnull=True,
            response_due_at__lt=now,
            appeal__status__in=ESCALATABLE,
            appeal__escalation__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def escalate_overdue_order(order_id: int, now: datetime) -> list[str]:
    with transaction.atomic():
        appeal_id = (
            SupervisionOrder.objects.filter(pk=order_id).values_list("appeal_id", flat=True).first()
        )
        if appeal_id is None:
            return []
        appeal = _lock_for_sweep(appeal_id)
        if appeal is None:
            return ["skipped"]
        order = SupervisionOrder.objects.filter(
            pk=order_id, responded_at__isnull=True, response_due_at__lt=now
        ).first()
        if order is None or appeal.status not in ESCALATABLE:
            return []
        if _escalate(appeal, cause=EscalationCause.ORDER_OVERDUE, order=order, now=now):
            return ["escalation"]
        return []


def _still_applies(warning: DeadlineWarning) -> bool:
    appeal = warning.appeal
    kind = DeadlineKind(warning.deadline_kind)
    return appeal.status in STILL_APPLIES[kind] and _deadline_of(appeal, kind) == warning.deadline


def clear_outdated_warnings(now: datetime) -> int:
    """Clear open warnings whose deadline moved (extension, resume, reopen, redispatch) or no
    longer runs (accepted, replied, closed). Reads the open warnings only (partial index)."""
    open_warnings = DeadlineWarning.objects.filter(cleared_at__isnull=True).select_related("appeal")
    outdated = [w.pk for w in open_warnings.iterator(chunk_size=CHUNK) if not _still_applies(w)]
    cleared = 0
    for start in range(0, len(outdated), CHUNK):
        cleared += DeadlineWarning.objects.filter(
            pk__in=outdated[start : start + CHUNK], cleared_at__isnull=True
        ).update(cleared_at=now)
    return cleared


# ---------------------------------------------------------------- by hand


@transaction.atomic
def remind(*, appeal: Appeal | int, actor: User, reason: str = "") -> AppealEvent:
    """催办 by hand: staff nudge the lead unit (dispatcher, supervisor, center admin)."""
    event = appeal_services.remind_appeal(
        appeal=appeal, actor=actor, reason=reason, data={"manual": True}
    )
    locked = event.appeal
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Reminder from %(who)s: appeal %(code)s") % {
            "who": str(actor),
            "code": locked.tracking_code,
        }
        body = event.reason or _("Please handle this appeal before its deadline %(due)s.") % {
            "due": _when(locked.due_at)
        }
    notify(
        recipients=recipients.unit_staff(locked.lead_unit),
        kind="supervision.reminder",
        appeal=locked,
        title=title,
        body=body,
        channels=_channels(),
        key=f"event:{event.pk}",
    )
    return event


@transaction.atomic
def issue_order(*, appeal: Appeal | int, actor: User, reason: str) -> SupervisionOrder:
    """督办 by hand: a supervision order to the lead unit's leaders; a reason is required."""
    now = clock.now()
    response_due = _response_due(now)
    event = appeal_services.supervise_appeal(
        appeal=appeal,
        actor=actor,
        reason=reason,
        response_due_at=response_due,
        data={"manual": True},
    )
    locked = event.appeal
    order = SupervisionOrder.objects.create(
        appeal=locked,
        unit=locked.lead_unit,
        automatic=False,
        issued_by=actor,
        issued_at=now,
        reason=event.reason,
        deadline=locked.due_at,
        response_due_at=response_due,
    )
    title, body = _order_message(locked, order)
    notify(
        recipients=recipients.unit_leaders(order.unit),
        kind="supervision.order",
        appeal=locked,
        title=title,
        body=body,
        channels=_channels(),
        key=f"order:{order.pk}",
    )
    return order


@transaction.atomic
def respond(*, order: SupervisionOrder | int, actor: User, text: str) -> SupervisionOrder:
    """督办回复: a leader of the addressed unit answers; late answers are kept, marked late."""
    order_id = order if isinstance(order, int) else order.pk
    locked = (
        SupervisionOrder.objects.select_for_update(of=("self",))
        .select_related("unit", "appeal", "issued_by")
        .filter(pk=order_id)
        .first()
    )
    if locked is None or not may_see_order(actor, locked):
        raise DomainError(SupervisionError.ORDER_NOT_FOUND)
    if locked.responded_at is not None:
        raise DomainError(SupervisionError.ALREADY_ANSWERED)
    now = clock.now()
    event = appeal_services.respond_to_supervision(
        appeal=locked.appeal_id,
        actor=actor,
        unit=locked.unit,
        text=text,
        data={"order": locked.pk, "late": now > locked.response_due_at},
    )
    locked.responded_at, locked.responded_by, locked.response = now, actor, event.reason
    locked.save(update_fields=["responded_at", "responded_by", "response"])
    if locked.issued_by is not None:
        with translation.override(settings.LANGUAGE_CODE):
            title = _("Supervision order answered: appeal %(code)s") % {
                "code": event.appeal.tracking_code
            }
        notify(
            recipients=[locked.issued_by],
            kind="supervision.response",
            appeal=event.appeal,
            title=title,
            body=event.reason,
            channels=(),
            key=f"event:{event.pk}",
        )
    return locked
