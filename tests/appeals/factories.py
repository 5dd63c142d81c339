"""Appeals in any state, reached through the real service functions."""

from __future__ import annotations

from typing import Any

from minsheng.appeals import services
from minsheng.appeals.models import Appeal
from tests.conftest import World

_PHONE_SEQ = iter(range(10_000_000, 99_999_999))


def submitted(world: World, **overrides: Any) -> Appeal:
    fields: dict[str, Any] = {
        "actor": world["agent"],
        "channel": "hotline",
        "appeal_type": "complaint",
        "content": "和兴镇东村村口道路塌陷，夜间行人容易摔倒，请尽快修复。",
        "phone": f"139{next(_PHONE_SEQ)}",
        "name": "王小明",
        "category": world.road,
        "territory": world.village,
    }
    fields.update(overrides)
    return services.submit_appeal(**fields)


def dispatched(world: World, **overrides: Any) -> Appeal:
    appeal = submitted(world, **overrides)
    services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.town)
    return reload(appeal)


def in_progress(world: World, **overrides: Any) -> Appeal:
    appeal = dispatched(world, **overrides)
    services.accept_appeal(appeal=appeal, actor=world["town_handler"])
    return reload(appeal)


def replied(world: World, **overrides: Any) -> Appeal:
    appeal = in_progress(world, **overrides)
    services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply="已修复路面。")
    return reload(appeal)


def closed(world: World, **overrides: Any) -> Appeal:
    appeal = replied(world, **overrides)
    services.approve_reply(appeal=appeal, actor=world["dispatcher"])
    return reload(appeal)


def reload(appeal: Appeal) -> Appeal:
    return Appeal.objects.select_related("lead_unit", "territory", "category").get(pk=appeal.pk)
