"""Turn appeals into API/page dictionaries: masked contact, labels, allowed actions."""

from __future__ import annotations

from typing import Any

from minsheng.core.masking import mask_name, mask_phone
from minsheng.org.models import OrgUnit, User

from . import permissions, workflow
from .choices import Action, Status
from .models import Appeal

# Actions a staff member may be offered on the detail page, in display order.
STAFF_ACTIONS = [
    Action.ACCEPT,
    Action.RETURN,
    Action.TRANSFER,
    Action.REQUEST_EXTENSION,
    Action.SUSPEND,
    Action.RESUME,
    Action.REPLY,
    Action.DISPATCH,
    Action.REDISPATCH,
    Action.APPROVE_RETURN,
    Action.REJECT_RETURN,
    Action.APPROVE_EXTENSION,
    Action.REFUSE_EXTENSION,
    Action.APPROVE_REPLY,
    Action.REWORK,
    Action.RATE,
    Action.DIRECT_CLOSE,
    Action.INVALIDATE,
    Action.MERGE,
    Action.SUPPLEMENT,
]


def unit_ref(unit: OrgUnit | None) -> dict[str, Any] | None:
    return None if unit is None else {"id": unit.pk, "name": unit.name}


def list_item(appeal: Appeal) -> dict[str, Any]:
    category = appeal.category
    return {
        "id": appeal.pk,
        "tracking_code": appeal.tracking_code,
        "status": appeal.status,
        "channel": appeal.channel,
        "appeal_type": appeal.appeal_type,
        "urgency": appeal.urgency,
        "category": None
        if category is None
        else {"id": category.pk, "code": category.code, "name": category.name},
        "territory": unit_ref(appeal.territory),
        "lead_unit": unit_ref(appeal.lead_unit),
        "title": appeal.title,
        "excerpt": appeal.content[:80],
        "citizen_name": mask_name(appeal.citizen_name),
        "citizen_phone": mask_phone(appeal.citizen_phone),
        "created_at": appeal.created_at,
        "accept_due_at": appeal.accept_due_at,
        "due_at": appeal.due_at,
    }


def allowed_actions(user: User, appeal: Appeal) -> list[str]:
    """Exactly what this user may do now: role and scope allow it, and so does the state."""
    actions = []
    pending = any(e.state == "pending" for e in appeal.extensions.all())
    for action in STAFF_ACTIONS:
        if not workflow.can_start(action, appeal.status):
            continue
        if not permissions.can_act(user, action, appeal):
            continue
        if action == Action.REQUEST_EXTENSION and pending:
            continue
        if action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION) and not pending:
            continue
        if action == Action.RATE and appeal.rating:
            continue
        actions.append(action.value)
    return actions


def detail(user: User, appeal: Appeal) -> dict[str, Any]:
    data = list_item(appeal)
    data.update(
        content=appeal.content,
        address=appeal.address,
        latitude=appeal.latitude,
        longitude=appeal.longitude,
        is_anonymous=appeal.is_anonymous,
        reply=appeal.reply,
        replied_at=appeal.replied_at,
        closed_at=appeal.closed_at,
        closed_on_time=appeal.closed_on_time,
        rating=appeal.rating,
        solved=appeal.solved,
        rating_comment=appeal.rating_comment,
        reopen_count=appeal.reopen_count,
        merged_into=appeal.merged_into.tracking_code if appeal.merged_into_id else None,
        version=appeal.version,
        events=[
            {
                "id": e.pk,
                "at": e.at,
                "action": e.action,
                "action_label": e.get_action_display(),
                "actor": str(e.actor) if e.actor_id else None,
                "actor_kind": e.actor_kind,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "unit": unit_ref(e.unit),
                "reason": e.reason,
                "accept_due_at": e.accept_due_at,
                "due_at": e.due_at,
                "data": e.data,
            }
            for e in appeal.events.all()
        ],
        assignments=[
            {
                "unit": unit_ref(a.unit),
                "role": a.role,
                "active": a.active,
                "assigned_at": a.assigned_at,
            }
            for a in appeal.assignments.all()
        ],
        extensions=[
            {
                "id": x.pk,
                "amount": x.amount,
                "unit": x.unit,
                "reason": x.reason,
                "state": x.state,
                "requested_at": x.requested_at,
                "decided_at": x.decided_at,
            }
            for x in appeal.extensions.all()
        ],
        attachments=[
            {"id": a.pk, "kind": a.kind, "size": a.size, "original_name": a.original_name}
            for a in appeal.attachments.all()
        ],
        allowed_actions=allowed_actions(user, appeal),
    )
    return data


def public_view(appeal: Appeal) -> dict[str, Any]:
    """What the citizen sees: no staff names, no internal notes, no return reasons."""
    return {
        "tracking_code": appeal.tracking_code,
        "status": appeal.status,
        "status_label": str(Status(appeal.status).label),
        "appeal_type": appeal.appeal_type,
        "category": appeal.category.name if appeal.category else None,
        "created_at": appeal.created_at,
        "due_at": appeal.due_at,
        "reply": appeal.reply if appeal.status == Status.CLOSED else "",
        "closed_at": appeal.closed_at,
        "rating": appeal.rating,
        "can_rate": appeal.status == Status.CLOSED
        and not appeal.rating
        and workflow.can_start(Action.RATE, appeal.status),
        "timeline": [
            {
                "at": e.at,
                "action": e.action,
                "action_label": e.get_action_display(),
                "status": e.to_status,
                "unit": e.unit.name if e.unit_id else None,
            }
            for e in appeal.public_events
        ],
    }
