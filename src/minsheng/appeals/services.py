"""The only way to change an appeal (DESIGN.md invariant 1).

Each transition is one keyword-only function: it locks the row, checks the actor's permission
and the transition table, writes the new state, appends an ``AppealEvent`` and an audit record,
all in one transaction. A refused action raises ``DomainError`` and leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from minsheng.core import audit, calendar, clock
from minsheng.core.errors import DomainError
from minsheng.org.choices import Role
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import has_role_over

from . import hooks, permissions, reference, workflow
from .choices import (
    Action,
    ActorKind,
    AppealType,
    AssignmentRole,
    Channel,
    ExtensionState,
    Rating,
    Status,
    TimeUnit,
    Urgency,
)
from .errors import AppealError
from .models import Appeal, AppealAssignment, AppealEvent, Attachment, Category, ExtensionRequest
from .reference import resolve_time_limit, suggest_unit

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone
TRACKING_LENGTH = 10  # 50 bits: not guessable, and look-ups also need the phone and are limited
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{9,11}|\d{5,8})$")
CONTENT_MAX = 5000
REASON_MAX = 2000


# ---------------------------------------------------------------- helpers


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def normalize_tracking_code(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw or "").upper()


def normalize_phone(raw: str) -> str:
    """Digits only (a leading +86 dropped); raises ``invalid_phone`` for anything else."""
    digits = re.sub(r"[\s()-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _PHONE.match(digits):
        raise DomainError(AppealError.INVALID_PHONE, {"field": "phone"})
    return digits


def _require(text: str, field: str = "reason", max_length: int = REASON_MAX) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": field})
    if len(cleaned) > max_length:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": field, "max_length": max_length})
    return cleaned


def _lock(appeal: Appeal | int) -> Appeal:
    """Re-read the appeal under a row lock: every check below sees the committed state."""
    pk = appeal if isinstance(appeal, int) else appeal.pk
    kept = reference.remembered_appeal(pk)
    if kept is not None:
        return kept  # bulk run holding the write lock: the in-memory row is the current one
    query = Appeal.objects.select_for_update(of=("self",))
    if not reference.is_memoized():
        query = query.select_related("territory", "lead_unit", "category")
    locked = query.filter(pk=pk).first()
    if locked is None:
        raise DomainError(AppealError.NOT_FOUND)
    if reference.is_memoized():
        locked.territory = reference.cached_unit(locked.territory_id)
        locked.lead_unit = reference.cached_unit(locked.lead_unit_id)
        locked.category = reference.cached_category(locked.category_id)
        reference.remember_appeal(locked)
    return locked


def _check(actor: User | None, action: Action, appeal: Appeal) -> None:
    """Scope first (out of scope is "not found"), then role, then the state machine."""
    if actor is not None:
        if not permissions.can_view(actor, appeal):
            raise DomainError(AppealError.NOT_FOUND)
        if not permissions.can_act(actor, action, appeal):
            raise DomainError(AppealError.NOT_PERMITTED, {"action": action.value})
    if not workflow.can_start(action, appeal.status):
        raise DomainError(
            AppealError.ILLEGAL_TRANSITION, {"action": action.value, "status": appeal.status}
        )


def _record(
    appeal: Appeal,
    action: Action,
    actor: User | None,
    *,
    from_status: str,
    changed: Sequence[str] = (),
    unit: OrgUnit | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    created: bool = False,
    system: bool = False,
) -> AppealEvent:
    """Save the changed fields under the version guard, then append the event and audit row.

    ``created``: the row was just inserted at version 1 by this transaction; nothing to save.
    ``system``: the platform acted by itself (the deadline sweep), not a citizen.
    """
    now = clock.now()
    if not created:
        fields = {name: getattr(appeal, name) for name in changed}
        updated = Appeal.objects.filter(pk=appeal.pk, version=appeal.version).update(
            version=appeal.version + 1, **fields
        )
        if updated != 1:
            raise DomainError(AppealError.CONCURRENT_CHANGE)
        appeal.version += 1
    event = AppealEvent.objects.create(
        appeal=appeal,
        at=now,
        actor=actor,
        actor_kind=(
            ActorKind.STAFF
            if actor is not None
            else ActorKind.SYSTEM
            if system
            else ActorKind.CITIZEN
        ),
        action=action,
        from_status=from_status,
        to_status=appeal.status,
        unit=unit,
        reason=reason,
        accept_due_at=appeal.accept_due_at,
        due_at=appeal.due_at,
        data=data or {},
        is_public=action in workflow.PUBLIC_ACTIONS,
    )
    audit.record(
        actor=actor if actor is not None else None if system else audit.CITIZEN,
        action=f"appeal.{action.value}",
        target=appeal,
        data={
            "from": from_status,
            "to": appeal.status,
            "unit": unit.pk if unit else None,
            "event": event.pk,
            **({"reason": reason} if reason else {}),
        },
    )
    return event


def _move(
    appeal: Appeal,
    action: Action,
    actor: User | None,
    *,
    changed: Sequence[str] = (),
    unit: OrgUnit | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    system: bool = False,
) -> AppealEvent:
    from_status = appeal.status
    appeal.status = workflow.target_status(action, from_status)
    return _record(
        appeal,
        action,
        actor,
        from_status=from_status,
        changed=("status", *changed),
        unit=unit,
        reason=reason,
        data=data,
        system=system,
    )


def _handling_unit(unit: OrgUnit | int | None) -> OrgUnit:
    if unit is None:
        raise DomainError(AppealError.NO_CATALOGUE_ENTRY)
    if isinstance(unit, int):
        found = OrgUnit.objects.filter(pk=unit).first()
        if found is None:
            raise DomainError(AppealError.UNKNOWN_UNIT, {"unit": unit})
        unit = found
    if not unit.is_active or unit.parent_id is None:
        raise DomainError(AppealError.UNIT_NOT_HANDLING, {"unit": unit.pk})
    return unit


def _co_units(units: Sequence[OrgUnit], lead: OrgUnit) -> list[OrgUnit]:
    """协办: handling units other than the lead, each once, so the event names exactly those
    that get an assignment."""
    chosen: dict[int, OrgUnit] = {}
    for unit in units:
        checked = _handling_unit(unit)
        if checked.pk != lead.pk:
            chosen.setdefault(checked.pk, checked)
    return list(chosen.values())


def _set_assignments(appeal: Appeal, lead: OrgUnit, co_units: Sequence[OrgUnit]) -> None:
    now = clock.now()
    AppealAssignment.objects.filter(appeal=appeal, active=True).update(active=False, ended_at=now)
    AppealAssignment.objects.bulk_create(
        [AppealAssignment(appeal=appeal, unit=lead, role=AssignmentRole.LEAD, assigned_at=now)]
        + [
            AppealAssignment(appeal=appeal, unit=u, role=AssignmentRole.CO, assigned_at=now)
            for u in co_units
            if u.pk != lead.pk
        ]
    )


def _start_clock(appeal: Appeal, *, restart_completion: bool) -> None:
    """Set the accept deadline (and, on a fresh dispatch, the completion deadline) from now."""
    now = clock.now()
    limits = resolve_time_limit(
        appeal_type=appeal.appeal_type, category=appeal.category, urgency=appeal.urgency
    )
    appeal.accept_due_at = calendar.add_limit(now, limits.accept_amount, limits.accept_unit)
    if restart_completion or appeal.due_at is None:
        # ``dispatched_at`` is when the completion clock started; a transfer keeps both.
        appeal.limit_amount = limits.complete_amount
        appeal.limit_unit = limits.complete_unit
        appeal.due_at = calendar.add_limit(now, limits.complete_amount, limits.complete_unit)
        appeal.dispatched_at = now
    appeal.accepted_at = None


_CLOCK_FIELDS = (
    "accept_due_at",
    "due_at",
    "limit_amount",
    "limit_unit",
    "dispatched_at",
    "accepted_at",
)


# ---------------------------------------------------------------- intake


def submit_appeal(
    *,
    actor: User | None,
    channel: Channel | str,
    appeal_type: AppealType | str,
    content: str,
    phone: str = "",
    name: str = "",
    anonymous: bool = False,
    title: str = "",
    category: Category | None = None,
    territory: OrgUnit | None = None,
    address: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    urgency: Urgency | str = Urgency.NORMAL,
    upload_tokens: Sequence[str] = (),
) -> Appeal:
    """受理: a citizen's own submission (``actor=None``) or staff intake on their behalf."""
    channel = Channel(channel)
    if actor is not None and not permissions.can_intake(actor, channel, territory):
        raise DomainError(AppealError.NOT_PERMITTED, {"action": "submit", "channel": channel})
    if actor is None and channel not in (Channel.WEB_PORTAL, Channel.MINI_PROGRAM):
        raise DomainError(AppealError.NOT_PERMITTED, {"action": "submit", "channel": channel})
    content = _require(content, "content", CONTENT_MAX)
    if anonymous:
        phone_digits = normalize_phone(phone) if phone else ""
    elif not phone:
        raise DomainError(AppealError.CONTACT_REQUIRED, {"field": "phone"})
    else:
        phone_digits = normalize_phone(phone)
    if territory is not None and (not territory.is_active or not territory.is_territorial):
        raise DomainError(AppealError.UNKNOWN_TERRITORY, {"territory": territory.pk})
    if category is not None and not category.is_active:
        raise DomainError(AppealError.UNKNOWN_CATEGORY, {"category": category.pk})
    appeal = Appeal(
        tracking_code=new_tracking_code(),
        channel=channel,
        appeal_type=AppealType(appeal_type),
        urgency=Urgency(urgency),
        category=category,
        territory=territory,
        address=address.strip(),
        latitude=latitude,
        longitude=longitude,
        title=title.strip(),
        content=content,
        citizen_name="" if anonymous else name.strip(),
        citizen_phone=phone_digits,
        is_anonymous=anonymous,
        status=Status.RECEIVED,
        intake_by=actor,
        created_at=clock.now(),
        version=1,
    )
    _insert_submitted(appeal, actor, upload_tokens)
    reference.remember_appeal(appeal)
    return appeal


# No savepoint: intake usually runs inside ``run_once``'s transaction, where a savepoint is two
# statements on the busiest path and buys nothing. Every check a caller may want to recover from
# ran above, before the transaction was touched; what fails in here (an upload token gone) fails
# the caller's whole atomic block, as it should.
@transaction.atomic(savepoint=False)
def _insert_submitted(appeal: Appeal, actor: User | None, upload_tokens: Sequence[str]) -> None:
    appeal.save(force_insert=True)
    _attach(appeal, upload_tokens)
    _record(
        appeal, Action.SUBMIT, actor, from_status="", data={"channel": appeal.channel}, created=True
    )
    hooks.submitted(appeal)


def _attach(appeal: Appeal, upload_tokens: Sequence[str]) -> int:
    tokens = list(dict.fromkeys(upload_tokens))
    if not tokens:
        return 0
    existing = appeal.attachments.count() if appeal.pk else 0
    if existing + len(tokens) > settings.MINSHENG_ATTACHMENTS_PER_APPEAL:
        raise DomainError(
            AppealError.TOO_MANY_ATTACHMENTS,
            {"max": settings.MINSHENG_ATTACHMENTS_PER_APPEAL},
        )
    found = list(
        Attachment.objects.select_for_update().filter(upload_token__in=tokens, appeal__isnull=True)
    )
    if len(found) != len(tokens):
        missing = sorted(set(tokens) - {a.upload_token for a in found})
        raise DomainError(AppealError.UNKNOWN_UPLOAD, {"uploads": missing})
    Attachment.objects.filter(pk__in=[a.pk for a in found]).update(appeal=appeal)
    return len(found)


@transaction.atomic
def add_supplement(
    *, appeal: Appeal | int, actor: User | None, text: str, upload_tokens: Sequence[str] = ()
) -> AppealEvent:
    """补充: the citizen (or an agent on the phone) adds information to an open appeal."""
    appeal = _lock(appeal)
    _check(actor, Action.SUPPLEMENT, appeal)
    text = (text or "").strip()
    if not text and not upload_tokens:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": "text"})
    if len(text) > CONTENT_MAX:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": "text", "max_length": CONTENT_MAX})
    count = _attach(appeal, upload_tokens)
    return _move(appeal, Action.SUPPLEMENT, actor, reason=text, data={"attachments": count})


# ---------------------------------------------------------------- center: dispatch


@transaction.atomic
def dispatch_appeal(
    *,
    appeal: Appeal | int,
    actor: User | None,
    unit: OrgUnit | int | None = None,
    co_units: Sequence[OrgUnit] = (),
    category: Category | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> AppealEvent:
    """派单: send to a lead unit (the catalogue's suggestion if none is named) with deadlines.

    ``actor=None`` is the platform itself (smart dispatch's auto-dispatch, minsheng.dispatch),
    recorded as a system event; ``data`` adds to the event's record (its confidence).
    """
    appeal = _lock(appeal)
    _check(actor, Action.DISPATCH, appeal)
    if category is not None:
        appeal.category = category
    lead = _handling_unit(
        unit
        if unit is not None
        else suggest_unit(category=appeal.category, territory=appeal.territory)
    )
    co = _co_units(co_units, lead)
    appeal.lead_unit = lead
    _start_clock(appeal, restart_completion=True)
    _set_assignments(appeal, lead, co)
    return _move(
        appeal,
        Action.DISPATCH,
        actor,
        changed=("lead_unit", "category", *_CLOCK_FIELDS),
        unit=lead,
        reason=note.strip(),
        data={**(data or {}), "co_units": [u.pk for u in co]},
        system=actor is None,
    )


@transaction.atomic
def redispatch_appeal(
    *,
    appeal: Appeal | int,
    actor: User,
    unit: OrgUnit | int,
    co_units: Sequence[OrgUnit] = (),
    reason: str,
) -> AppealEvent:
    """改派: the center moves a dispatched or accepted appeal to another unit; clocks restart."""
    appeal = _lock(appeal)
    _check(actor, Action.REDISPATCH, appeal)
    reason = _require(reason)
    lead = _handling_unit(unit)
    co = _co_units(co_units, lead)
    appeal.lead_unit = lead
    _start_clock(appeal, restart_completion=True)
    _set_assignments(appeal, lead, co)
    return _move(
        appeal,
        Action.REDISPATCH,
        actor,
        changed=("lead_unit", *_CLOCK_FIELDS),
        unit=lead,
        reason=reason,
        data={"co_units": [u.pk for u in co]},
    )


@transaction.atomic
def approve_return(*, appeal: Appeal | int, actor: User, note: str = "") -> AppealEvent:
    """同意退单: the appeal goes back to the dispatch queue, without a unit."""
    appeal = _lock(appeal)
    _check(actor, Action.APPROVE_RETURN, appeal)
    previous = appeal.lead_unit
    appeal.lead_unit = None
    appeal.accept_due_at = None
    appeal.due_at = None
    AppealAssignment.objects.filter(appeal=appeal, active=True).update(
        active=False, ended_at=clock.now()
    )
    return _move(
        appeal,
        Action.APPROVE_RETURN,
        actor,
        changed=("lead_unit", "accept_due_at", "due_at"),
        unit=previous,
        reason=note.strip(),
    )


@transaction.atomic
def reject_return(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """驳回退单: the unit must handle it after all; a new accept deadline, same completion."""
    appeal = _lock(appeal)
    _check(actor, Action.REJECT_RETURN, appeal)
    reason = _require(reason)
    _start_clock(appeal, restart_completion=False)
    return _move(
        appeal,
        Action.REJECT_RETURN,
        actor,
        changed=_CLOCK_FIELDS,
        unit=appeal.lead_unit,
        reason=reason,
    )


@transaction.atomic
def direct_close_appeal(*, appeal: Appeal | int, actor: User, reply: str) -> AppealEvent:
    """直接办结: answered at intake (a consultation answered on the call)."""
    appeal = _lock(appeal)
    _check(actor, Action.DIRECT_CLOSE, appeal)
    appeal.reply = _require(reply, "reply", CONTENT_MAX)
    now = clock.now()
    appeal.replied_at = appeal.closed_at = now
    appeal.closed_on_time = True
    return _move(
        appeal,
        Action.DIRECT_CLOSE,
        actor,
        changed=("reply", "replied_at", "closed_at", "closed_on_time"),
        reason=appeal.reply,
    )


@transaction.atomic
def invalidate_appeal(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """无效: not an appeal (a prank call, advertising, an unreachable caller)."""
    appeal = _lock(appeal)
    _check(actor, Action.INVALIDATE, appeal)
    reason = _require(reason)
    appeal.closed_at = clock.now()
    return _move(appeal, Action.INVALIDATE, actor, changed=("closed_at",), reason=reason)


@transaction.atomic
def merge_appeal(
    *, appeal: Appeal | int, actor: User, into: Appeal | int, reason: str = ""
) -> AppealEvent:
    """并单: a duplicate joins an open appeal about the same matter and follows its outcome."""
    appeal_id = appeal if isinstance(appeal, int) else appeal.pk
    target_id = into if isinstance(into, int) else into.pk
    if appeal_id == target_id:
        raise DomainError(AppealError.MERGE_INTO_SELF)
    # Lock both rows in id order so two opposite merges cannot deadlock.
    first, second = sorted([appeal_id, target_id])
    locked = {first: _lock(first), second: _lock(second)}
    appeal, target = locked[appeal_id], locked[target_id]
    _check(actor, Action.MERGE, appeal)
    if not permissions.can_view(actor, target):
        raise DomainError(AppealError.NOT_FOUND)
    if target.status in (Status.CLOSED, Status.INVALID, Status.MERGED):
        raise DomainError(AppealError.MERGE_TARGET_CLOSED, {"into": target.tracking_code})
    appeal.merged_into = target
    appeal.closed_at = clock.now()
    AppealAssignment.objects.filter(appeal=appeal, active=True).update(
        active=False, ended_at=appeal.closed_at
    )
    return _move(
        appeal,
        Action.MERGE,
        actor,
        changed=("merged_into", "closed_at"),
        reason=reason.strip(),
        data={"into": target.pk, "into_code": target.tracking_code},
    )


# ---------------------------------------------------------------- handling unit


@transaction.atomic
def accept_appeal(*, appeal: Appeal | int, actor: User) -> AppealEvent:
    """签收: the lead unit takes the appeal."""
    appeal = _lock(appeal)
    _check(actor, Action.ACCEPT, appeal)
    appeal.accepted_at = clock.now()
    return _move(appeal, Action.ACCEPT, actor, changed=("accepted_at",), unit=appeal.lead_unit)


@transaction.atomic
def return_appeal(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """退单: not ours (wrong unit, outside our powers); the dispatcher reviews the return."""
    appeal = _lock(appeal)
    _check(actor, Action.RETURN, appeal)
    reason = _require(reason)
    appeal.return_count += 1
    return _move(
        appeal,
        Action.RETURN,
        actor,
        changed=("return_count",),
        unit=appeal.lead_unit,
        reason=reason,
    )


@transaction.atomic
def transfer_appeal(
    *, appeal: Appeal | int, actor: User, unit: OrgUnit | int, note: str = ""
) -> AppealEvent:
    """下派: the lead unit passes the appeal to a unit under it (township → village).

    The completion deadline stays: passing work down buys no time.
    """
    appeal = _lock(appeal)
    _check(actor, Action.TRANSFER, appeal)
    target = _handling_unit(unit)
    if appeal.lead_unit is None:  # cannot happen in dispatched/in progress; refuse, never crash
        raise DomainError(AppealError.ILLEGAL_TRANSITION, {"action": "transfer"})
    if target.pk == appeal.lead_unit.pk or not target.path.startswith(appeal.lead_unit.path):
        raise DomainError(AppealError.TRANSFER_OUT_OF_SUBTREE, {"unit": target.pk})
    co = [a.unit for a in appeal.assignments.filter(active=True, role="co").select_related("unit")]
    appeal.lead_unit = target
    _start_clock(appeal, restart_completion=False)
    _set_assignments(appeal, target, co)
    return _move(
        appeal,
        Action.TRANSFER,
        actor,
        changed=("lead_unit", *_CLOCK_FIELDS),
        unit=target,
        reason=note.strip(),
    )


@transaction.atomic
def request_extension(
    *, appeal: Appeal | int, actor: User, amount: int, unit: TimeUnit | str, reason: str
) -> ExtensionRequest:
    """申请延期: at most one pending request; the center decides."""
    appeal = _lock(appeal)
    _check(actor, Action.REQUEST_EXTENSION, appeal)
    reason = _require(reason)
    if amount < 1 or amount > 90:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": "amount", "min": 1, "max": 90})
    if appeal.extensions.filter(state=ExtensionState.PENDING).exists():
        raise DomainError(AppealError.EXTENSION_PENDING)
    request = ExtensionRequest.objects.create(
        appeal=appeal,
        requested_by=actor,
        requested_at=clock.now(),
        amount=amount,
        unit=TimeUnit(unit),
        reason=reason,
    )
    _move(
        appeal,
        Action.REQUEST_EXTENSION,
        actor,
        unit=appeal.lead_unit,
        reason=reason,
        data={"amount": amount, "unit": str(unit), "request": request.pk},
    )
    return request


def _pending_extension(appeal: Appeal) -> ExtensionRequest:
    pending = appeal.extensions.select_for_update().filter(state=ExtensionState.PENDING).first()
    if pending is None:
        raise DomainError(AppealError.NO_PENDING_EXTENSION)
    return pending


@transaction.atomic
def approve_extension(*, appeal: Appeal | int, actor: User, note: str = "") -> AppealEvent:
    """同意延期: the completion deadline moves by the amount asked for."""
    appeal = _lock(appeal)
    _check(actor, Action.APPROVE_EXTENSION, appeal)
    request = _pending_extension(appeal)
    if appeal.due_at is None:
        raise DomainError(AppealError.ILLEGAL_TRANSITION, {"action": "approve_extension"})
    old_due = appeal.due_at
    appeal.due_at = calendar.extend(appeal.due_at, request.amount, request.unit)
    request.state = ExtensionState.APPROVED
    request.decided_by, request.decided_at = actor, clock.now()
    request.decision_reason = note.strip()
    request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    return _move(
        appeal,
        Action.APPROVE_EXTENSION,
        actor,
        changed=("due_at",),
        unit=appeal.lead_unit,
        reason=note.strip(),
        data={
            "request": request.pk,
            "from_due": old_due.isoformat(),
            "amount": request.amount,
            "unit": request.unit,
        },
    )


@transaction.atomic
def refuse_extension(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """不同意延期: the deadline stands."""
    appeal = _lock(appeal)
    _check(actor, Action.REFUSE_EXTENSION, appeal)
    reason = _require(reason)
    request = _pending_extension(appeal)
    request.state = ExtensionState.REFUSED
    request.decided_by, request.decided_at = actor, clock.now()
    request.decision_reason = reason
    request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    return _move(
        appeal,
        Action.REFUSE_EXTENSION,
        actor,
        unit=appeal.lead_unit,
        reason=reason,
        data={"request": request.pk},
    )


@transaction.atomic
def suspend_appeal(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """挂起: waiting on the citizen or a third party; the clock stops."""
    appeal = _lock(appeal)
    _check(actor, Action.SUSPEND, appeal)
    reason = _require(reason)
    appeal.suspended_at = clock.now()
    return _move(
        appeal,
        Action.SUSPEND,
        actor,
        changed=("suspended_at",),
        unit=appeal.lead_unit,
        reason=reason,
    )


@transaction.atomic
def resume_appeal(*, appeal: Appeal | int, actor: User, note: str = "") -> AppealEvent:
    """恢复: the clock runs again; deadlines move by the time spent suspended."""
    appeal = _lock(appeal)
    _check(actor, Action.RESUME, appeal)
    if appeal.suspended_at is None or appeal.due_at is None:
        raise DomainError(AppealError.ILLEGAL_TRANSITION, {"action": "resume"})
    now = clock.now()
    suspended_from = appeal.suspended_at
    appeal.due_at = calendar.resume_deadline(
        appeal.due_at, appeal.limit_unit or TimeUnit.WORKING_DAYS, suspended_from, now
    )
    appeal.suspended_at = None
    return _move(
        appeal,
        Action.RESUME,
        actor,
        changed=("due_at", "suspended_at"),
        unit=appeal.lead_unit,
        reason=note.strip(),
        data={"suspended_from": suspended_from.isoformat()},
    )


@transaction.atomic
def reply_appeal(*, appeal: Appeal | int, actor: User, reply: str) -> AppealEvent:
    """答复: the lead unit's answer, for the center to review."""
    appeal = _lock(appeal)
    _check(actor, Action.REPLY, appeal)
    appeal.reply = _require(reply, "reply", CONTENT_MAX)
    appeal.replied_at = clock.now()
    return _move(
        appeal,
        Action.REPLY,
        actor,
        changed=("reply", "replied_at"),
        unit=appeal.lead_unit,
    )


# ---------------------------------------------------------------- center: review and close


@transaction.atomic
def approve_reply(*, appeal: Appeal | int, actor: User, note: str = "") -> AppealEvent:
    """审核通过 → 办结. On time means replied before the completion deadline."""
    appeal = _lock(appeal)
    _check(actor, Action.APPROVE_REPLY, appeal)
    appeal.closed_at = clock.now()
    appeal.closed_on_time = bool(
        appeal.due_at and appeal.replied_at and appeal.replied_at <= appeal.due_at
    )
    return _move(
        appeal,
        Action.APPROVE_REPLY,
        actor,
        changed=("closed_at", "closed_on_time"),
        unit=appeal.lead_unit,
        reason=note.strip(),
    )


@transaction.atomic
def rework_appeal(*, appeal: Appeal | int, actor: User, reason: str) -> AppealEvent:
    """退回重办: the reply does not answer the appeal; the unit works on, same deadline."""
    appeal = _lock(appeal)
    _check(actor, Action.REWORK, appeal)
    reason = _require(reason)
    return _move(appeal, Action.REWORK, actor, unit=appeal.lead_unit, reason=reason)


@transaction.atomic
def rate_appeal(
    *,
    appeal: Appeal | int,
    actor: User | None,
    rating: Rating | str,
    solved: bool | None = None,
    comment: str = "",
) -> AppealEvent:
    """评价 / 回访: the citizen rates the closed appeal (or an agent records it on a callback).

    不满意 reopens the appeal with the same lead unit and a fresh completion deadline, as many
    times as ``MINSHENG_MAX_REOPENS`` allows; after that the rating stands and it stays closed.
    """
    appeal = _lock(appeal)
    _check(actor, Action.RATE, appeal)
    if appeal.rating:
        raise DomainError(AppealError.ALREADY_RATED)
    if len(comment) > 500:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": "comment", "max_length": 500})
    rating = Rating(rating)
    appeal.rating, appeal.solved, appeal.rating_comment = rating, solved, comment.strip()
    appeal.rated_at = clock.now()
    event = _move(
        appeal,
        Action.RATE,
        actor,
        changed=("rating", "solved", "rating_comment", "rated_at"),
        reason=appeal.rating_comment,
        data={"rating": rating.value, "solved": solved},
    )
    can_reopen = (
        rating == Rating.UNSATISFIED
        and appeal.lead_unit_id is not None
        and appeal.reopen_count < settings.MINSHENG_MAX_REOPENS
    )
    if can_reopen:
        _reopen(appeal, actor)
    return event


def _reopen(appeal: Appeal, actor: User | None) -> AppealEvent:
    now = clock.now()
    appeal.reopen_count += 1
    appeal.rating, appeal.rated_at = "", None
    appeal.closed_at, appeal.closed_on_time, appeal.replied_at = None, None, None
    if appeal.limit_amount is not None and appeal.limit_unit:
        appeal.due_at = calendar.add_limit(now, appeal.limit_amount, appeal.limit_unit)
    return _move(
        appeal,
        Action.REOPEN,
        actor,
        changed=(
            "reopen_count",
            "rating",
            "rated_at",
            "closed_at",
            "closed_on_time",
            "replied_at",
            "due_at",
        ),
        unit=appeal.lead_unit,
        data={"reopen": appeal.reopen_count},
    )


# ---------------------------------------------------------------- supervision (催办 / 督办)
# These append an event and leave the status alone. ``actor=None`` is the platform itself (the
# deadline sweep of ``minsheng.supervision``), recorded as a system event; staff acting by hand
# pass the role and scope checks like any other action. The supervision app keeps its own
# records (warnings, orders) in the same transaction.


def _check_supervision(actor: User | None, action: Action, appeal: Appeal) -> None:
    if actor is not None:
        _check(actor, action, appeal)
    elif not workflow.can_start(action, appeal.status):
        raise DomainError(
            AppealError.ILLEGAL_TRANSITION, {"action": action.value, "status": appeal.status}
        )


def _optional(text: str, field: str = "reason") -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > REASON_MAX:
        raise DomainError(AppealError.REASON_REQUIRED, {"field": field, "max_length": REASON_MAX})
    return cleaned


@transaction.atomic
def remind_appeal(
    *,
    appeal: Appeal | int,
    actor: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AppealEvent:
    """催办: nudge the lead unit, by hand (dispatcher, supervisor) or at warning time (system)."""
    appeal = _lock(appeal)
    _check_supervision(actor, Action.REMIND, appeal)
    return _move(
        appeal,
        Action.REMIND,
        actor,
        unit=appeal.lead_unit,
        reason=_optional(reason),
        data=data,
        system=actor is None,
    )


@transaction.atomic
def supervise_appeal(
    *,
    appeal: Appeal | int,
    actor: User | None,
    reason: str,
    response_due_at: datetime,
    data: dict[str, Any] | None = None,
) -> AppealEvent:
    """督办: a formal order from the center to the lead unit's leaders, with a response deadline.

    By hand a reason is required; the sweep gives its own ("overdue since …").
    """
    appeal = _lock(appeal)
    _check_supervision(actor, Action.SUPERVISE, appeal)
    reason = _require(reason) if actor is not None else _optional(reason)
    return _move(
        appeal,
        Action.SUPERVISE,
        actor,
        unit=appeal.lead_unit,
        reason=reason,
        data={**(data or {}), "response_due_at": response_due_at.isoformat()},
        system=actor is None,
    )


@transaction.atomic
def escalate_appeal(
    *, appeal: Appeal | int, reason: str, data: dict[str, Any] | None = None
) -> AppealEvent:
    """升级督办: overdue again (or an order left unanswered); the supervisors take it up.

    Only the platform escalates: a person who wants more pressure issues an order.
    """
    appeal = _lock(appeal)
    _check_supervision(None, Action.ESCALATE, appeal)
    return _move(
        appeal,
        Action.ESCALATE,
        None,
        unit=appeal.lead_unit,
        reason=_optional(reason),
        data=data,
        system=True,
    )


@transaction.atomic
def respond_to_supervision(
    *,
    appeal: Appeal | int,
    actor: User,
    unit: OrgUnit,
    text: str,
    data: dict[str, Any] | None = None,
) -> AppealEvent:
    """督办回复: a leader of the unit a supervision order was addressed to answers it."""
    appeal = _lock(appeal)
    if not permissions.can_view(actor, appeal):
        raise DomainError(AppealError.NOT_FOUND)
    if not has_role_over(actor, (Role.UNIT_LEADER,), unit):
        raise DomainError(AppealError.NOT_PERMITTED, {"action": Action.RESPOND_SUPERVISION.value})
    _check_supervision(None, Action.RESPOND_SUPERVISION, appeal)
    text = _require(text, "response")
    return _move(appeal, Action.RESPOND_SUPERVISION, actor, unit=unit, reason=text, data=data)


# ---------------------------------------------------------------- personal data


@transaction.atomic
def reveal_contact(*, appeal: Appeal | int, actor: User, purpose: str = "") -> dict[str, str]:
    """查看联系方式: the unmasked name and phone, for roles that may, always audited."""
    appeal_obj = (
        Appeal.objects.select_related("territory", "lead_unit")
        .filter(pk=appeal if isinstance(appeal, int) else appeal.pk)
        .first()
    )
    if appeal_obj is None or not permissions.can_view(actor, appeal_obj):
        raise DomainError(AppealError.NOT_FOUND)
    if not permissions.may_see_unmasked(actor, appeal_obj):
        raise DomainError(AppealError.NOT_PERMITTED, {"action": "reveal"})
    audit.record(
        actor=actor,
        action="appeal.reveal_contact",
        target=appeal_obj,
        data={"fields": ["citizen_name", "citizen_phone"], "purpose": purpose.strip()[:200]},
    )
    return {"name": appeal_obj.citizen_name, "phone": appeal_obj.citizen_phone}
