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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from minsheng.appeals import services as appeal_services
from minsheng.appeals.choices import Status, TimeUnit
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.appeals.reference import remembered_appeal, resolve_time_limit
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
            yield from _dues(appeal, now, share, accept_limit, raised)


def _limit_of(appeal: Appeal, kind: str, accept_limit: _AcceptLimits) -> tuple[int, str] | None:
    """The time limit a deadline counts (what "75 % used" is measured in)."""
    if kind == K.ACCEPT:
        return accept_limit(appeal)
    if appeal.limit_amount is not None and appeal.limit_unit:
        return (appeal.limit_amount, appeal.limit_unit)
    return None


def _dues(
    appeal: Appeal,
    now: datetime,
    share: float,
    accept_limit: _AcceptLimits,
    raised: dict[tuple[int, str, datetime], set[str]],
) -> Iterator[Due]:
    """The warnings one appeal should have now and does not (``raised``: its open ones)."""
    for kind in (K.ACCEPT, K.COMPLETE):
        deadline = _deadline_of(appeal, kind)
        if deadline is None or appeal.status not in SWEPT[kind]:
            continue
        level = level_due(now, deadline, _limit_of(appeal, kind, accept_limit), share)
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


def overdue_orders(now: datetime, *, appeal_id: int | None = None) -> list[int]:
    """Open supervision orders past their response deadline, on appeals not yet escalated
    (the partial index on open orders' response deadline); of one appeal if given."""
    orders = SupervisionOrder.objects.filter(
        responded_at__isnull=True,
        response_due_at__lt=now,
        appeal__status__in=ESCALATABLE,
        appeal__escalation__isnull=True,
    )
    if appeal_id is not None:
        orders = orders.filter(appeal_id=appeal_id)
    return list(orders.order_by("pk").values_list("pk", flat=True))


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


def clear_outdated_warnings(now: datetime, *, appeal_id: int | None = None) -> int:
    """Clear open warnings whose deadline moved (extension, resume, reopen, redispatch) or no
    longer runs (accepted, replied, closed). Reads the open warnings only (partial index);
    of one appeal if given."""
    open_warnings = DeadlineWarning.objects.filter(cleared_at__isnull=True).select_related("appeal")
    if appeal_id is not None:
        open_warnings = open_warnings.filter(appeal_id=appeal_id)
    outdated = [w.pk for w in open_warnings.iterator(chunk_size=CHUNK) if not _still_applies(w)]
    cleared = 0
    for start in range(0, len(outdated), CHUNK):
        cleared += DeadlineWarning.objects.filter(
            pk__in=outdated[start : start + CHUNK], cleared_at__isnull=True
        ).update(cleared_at=now)
    return cleared


# ---------------------------------------------------------------- a replayed year


class ReplaySweep:
    """The sweep of one appeal at a time, at the instants it would act, for a year replayed
    step by step (the demo's; the scale generator's templates).

    A worker sweeps every minute; between two steps of a replayed appeal nothing changes but
    the clock, so the sweep can only find something to do when a deadline turns yellow or red
    or an open supervision order's answer falls due. ``between`` runs the same functions as
    ``sweep`` (clear, raise, escalate), restricted to the appeal, at exactly those instants:
    the warnings, reminders, orders, escalations and notifications a live year would have.

    ``answer`` plays the unit leaders: given a new order it says when, by whom and how it is
    answered (``respond``, at that instant), or None to leave it to escalate.
    """

    def __init__(self, *, share: float | None = None, answer: Answerer | None = None) -> None:
        self.share = settings.MINSHENG_WARNING_SHARE if share is None else share
        self.accept_limit = _AcceptLimits()
        self.answer = answer
        self.answers: dict[int, list[tuple[datetime, int, User, str]]] = {}
        # Appeals the replay warned, or issued an order for: only these can have a warning
        # to clear or an order to escalate (no query for the others).
        self.warned: set[int] = set()
        self.ordered: set[int] = set()

    def between(self, appeal_id: int, after: datetime, until: datetime) -> list[str]:
        """Sweep the appeal at each instant in (after, until] where there is something to do.
        ``after`` is the appeal's last step: the first sweep after it clears the warnings that
        step made outdated (a reply, an extension, an acceptance)."""
        done: list[str] = []
        if appeal_id in self.warned and after + _JUST_AFTER <= until:
            with clock.replaying(after + _JUST_AFTER):
                clear_outdated_warnings(after + _JUST_AFTER, appeal_id=appeal_id)
        while (moment := self._next(appeal_id, after, until)) is not None:
            with clock.replaying(moment):
                done += self.run(appeal_id, moment)
            after = moment
        return done

    def run(self, appeal_id: int, now: datetime) -> list[str]:
        """What ``sweep`` would do for this one appeal at ``now`` (after the answers due)."""
        self._answer_due(appeal_id, now)
        clear_outdated_warnings(now, appeal_id=appeal_id)
        appeal = self._current(appeal_id)
        raised: dict[tuple[int, str, datetime], set[str]] = {}
        for kind, level, deadline in DeadlineWarning.objects.filter(
            appeal_id=appeal_id, cleared_at__isnull=True
        ).values_list("deadline_kind", "level", "deadline"):
            raised.setdefault((appeal_id, kind, deadline), set()).add(level)
        done: list[str] = []
        for due in list(_dues(appeal, now, self.share, self.accept_limit, raised)):
            done += raise_warning(due, now)
        if done:
            self.warned.add(appeal_id)
        if "order" in done:
            self.ordered.add(appeal_id)
            if self.answer is not None:
                self._schedule(appeal_id, now, self.answer)
        for order_id in overdue_orders(now, appeal_id=appeal_id):
            done += escalate_overdue_order(order_id, now)
        return done

    def _schedule(self, appeal_id: int, now: datetime, answer: Answerer) -> None:
        for order in SupervisionOrder.objects.filter(appeal_id=appeal_id, issued_at=now):
            planned = answer(order)
            if planned is not None:
                at, by, text = planned
                self.answers.setdefault(appeal_id, []).append((at, order.pk, by, text))

    def _answer_due(self, appeal_id: int, now: datetime) -> None:
        pending = self.answers.get(appeal_id, [])
        for item in sorted(p for p in pending if p[0] <= now):
            pending.remove(item)
            at, order_id, by, text = item
            try:
                respond(order=order_id, actor=by, text=text)
            except DomainError:  # the leader may no longer answer it (e.g. the post changed)
                logger.info("replayed answer to order %s refused", order_id)

    def _current(self, appeal_id: int) -> Appeal:
        # A bulk replay keeps the appeal in memory (its writes go through to the database).
        kept = remembered_appeal(appeal_id)
        return kept if kept is not None else Appeal.objects.get(pk=appeal_id)

    def _next(self, appeal_id: int, after: datetime, until: datetime) -> datetime | None:
        """The first instant in (after, until] at which a warning or an escalation falls due."""
        appeal = self._current(appeal_id)
        moments = []
        for kind in (K.ACCEPT, K.COMPLETE):
            deadline = _deadline_of(appeal, kind)
            if deadline is None or appeal.status not in SWEPT[kind]:
                continue
            moments.append(deadline + _JUST_AFTER)  # red: past the deadline
            limit = _limit_of(appeal, kind, self.accept_limit)
            if limit is not None:
                moments.append(deadlines.yellow_at(deadline, limit[0], limit[1], self.share))
        if appeal_id in self.ordered and appeal.status in ESCALATABLE:
            moments += [
                due + _JUST_AFTER
                for due in SupervisionOrder.objects.filter(
                    appeal_id=appeal_id, responded_at__isnull=True
                ).values_list("response_due_at", flat=True)
            ]
        moments += [at for at, *_rest in self.answers.get(appeal_id, [])]
        ahead = [m for m in moments if after < m <= until]
        return min(ahead) if ahead else None


# Red means "past the deadline": the first sweep after it, a second later in a replay.
_JUST_AFTER = timedelta(seconds=1)
# A replayed order's answer: when, by whom, what.
Answerer = Callable[[SupervisionOrder], tuple[datetime, User, str] | None]


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
