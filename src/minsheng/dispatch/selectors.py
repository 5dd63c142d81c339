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
