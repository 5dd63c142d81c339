"""Scoped reads of smart dispatch: suggestions only for appeals the user may see."""

from __future__ import annotations

from typing import Any

from minsheng.appeals import presenters
from minsheng.appeals.errors import AppealError
from minsheng.appeals.selectors import appeals_for
from minsheng.core.errors import DomainError
from minsheng.org.models import User

from . import services


def suggestions_for(user: User, appeal_id: int) -> dict[str, Any]:
    """The model's likeliest categories for an appeal in the user's scope (else 404)."""
    appeal = (
        appeals_for(user)
        .select_related("territory", "category__parent__parent")
        .filter(pk=appeal_id)
        .first()
    )
    if appeal is None:
        raise DomainError(AppealError.NOT_FOUND)
    status = services.model_status()
    return {
        "appeal_id": appeal.pk,
        "model": {
            "state": status["state"],
            "version": status.get("version"),
            "message": status.get("message", ""),
        },
        "suggestions": [
            {
                "label": s.label,
                "confidence": s.confidence,
                "category": (
                    {"id": s.category.pk, "code": s.category.code, "name": s.category.name}
                    if s.category is not None
                    else None
                ),
                "unit": presenters.unit_ref(s.unit),
            }
            for s in services.suggest_for_appeal(appeal)
        ],
    }


def duplicates_for(user: User, appeal_id: int) -> dict[str, Any]:
    """并单 suggestions for an appeal in the user's scope (else 404), among appeals they see."""
    from . import duplicates

    appeal = appeals_for(user).select_related("territory__parent").filter(pk=appeal_id).first()
    if appeal is None:
        raise DomainError(AppealError.NOT_FOUND)
    found = duplicates.related(
        user,
        text=duplicates.text_of(appeal),
        territory=appeal.territory,
        exclude=appeal.pk,
    )
    return {
        "appeal_id": appeal.pk,
        "window_days": duplicates.window_days(),
        "duplicates": [
            {
                "id": r.appeal.pk,
                "tracking_code": r.appeal.tracking_code,
                "title": r.appeal.title or r.appeal.content[:40],
                "status": r.appeal.status,
                "created_at": r.appeal.created_at.isoformat(),
                "territory": presenters.unit_ref(r.appeal.territory),
                "score": r.score,
                "similarity": r.similarity,
                "same_place": r.same_place,
            }
            for r in found
        ],
    }
