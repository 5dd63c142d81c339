"""``{% dispatch_panel appeal %}`` on the appeal's page and ``{% dispatch_intake form %}`` on the
intake screen: smart dispatch's suggestions, for the center's staff only."""

from __future__ import annotations

from typing import Any

from django import template

from minsheng.appeals import reference
from minsheng.appeals.choices import FINAL_STATUSES, Status
from minsheng.appeals.models import Appeal
from minsheng.org.models import User

from .. import duplicates, permissions, services

register = template.Library()


def _may_see(context: template.Context) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return isinstance(user, User) and permissions.may_see_suggestions(user)


@register.inclusion_tag("dispatch/console/_panel.html", takes_context=True)
def dispatch_panel(context: template.Context, appeal: Appeal) -> dict[str, Any]:
    """Shown while the appeal waits for (re)dispatch: received or returned."""
    waiting = appeal.status in (Status.RECEIVED, Status.RETURNED)
    if not _may_see(context) or not waiting:
        return {"show": False}
    return {
        "show": True,
        "suggestions": services.suggest_for_appeal(appeal),
        "model_status": services.model_status(),
        "typed": True,
    }


@register.inclusion_tag("dispatch/console/_intake.html", takes_context=True)
def dispatch_intake(context: template.Context, form: Any) -> dict[str, Any]:
    """The region that follows the typed text (htmx), filled when the page comes back."""
    if not _may_see(context):
        return {"show": False}
    text = str(form["content"].value() or "")
    territory = str(form["territory"].value() or "")
    place = reference.active_territory(int(territory)) if territory.isdigit() else None
    return {
        "show": True,
        "suggestions": services.suggest(text, territory=place) if text.strip() else [],
        "model_status": services.model_status(),
        "typed": bool(text.strip()),
    }


def _duplicates_context(user: User, related: list[Any], appeal: Appeal | None) -> dict[str, Any]:
    from minsheng.appeals.choices import Action
    from minsheng.appeals.permissions import can_act

    return {
        "show": True,
        "related": related,
        "appeal": appeal,
        "may_merge": appeal is not None and can_act(user, Action.MERGE, appeal),
        "window_days": duplicates.window_days(),
    }


@register.inclusion_tag("dispatch/console/_duplicates_panel.html", takes_context=True)
def duplicates_panel(context: template.Context, appeal: Appeal) -> dict[str, Any]:
    """并单 suggestions on an open appeal's page, with "merge into this" for who may merge."""
    if not _may_see(context) or appeal.status in FINAL_STATUSES:
        return {"show": False}
    user = context["request"].user
    found = duplicates.related(
        user, text=duplicates.text_of(appeal), territory=appeal.territory, exclude=appeal.pk
    )
    return _duplicates_context(user, found, appeal)


@register.inclusion_tag("dispatch/console/_duplicates_intake.html", takes_context=True)
def duplicates_intake(context: template.Context, form: Any) -> dict[str, Any]:
    """The region that follows the typed content and place (htmx), filled on a returned page."""
    if not _may_see(context):
        return {"show": False}
    text = str(form["content"].value() or "")
    territory = str(form["territory"].value() or "")
    place = reference.active_territory(int(territory)) if territory.isdigit() else None
    found = duplicates.related(context["request"].user, text=text, territory=place)
    return {**_duplicates_context(context["request"].user, found, None), "typed": bool(text)}


@register.filter
def may_see_hotspots(user: Any) -> bool:
    """The console's "Hotspots" link: for the center's staff."""
    return isinstance(user, User) and permissions.may_see_suggestions(user)
