"""Every role × action, inside and outside its scope. Refusals change nothing.

The appeal lies in 东村 (a village of 和兴镇) and is handled by 和兴镇, so: center staff at the
city see it; 和兴镇's staff see it; the village, the other township and the department do not.
"""

from __future__ import annotations

import pytest

from minsheng.appeals import services
from minsheng.appeals.models import Appeal
from minsheng.appeals.selectors import appeals_for
from minsheng.core.errors import DomainError
from minsheng.core.models import AuditRecord
from tests.appeals.factories import closed, dispatched, in_progress, replied, submitted
from tests.appeals.test_lifecycle import snapshot
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

USERS = [
    "agent",
    "dispatcher",
    "supervisor",
    "center_admin",
    "auditor",
    "town_handler",
    "town_leader",
    "village_handler",
    "other_handler",
    "other_leader",
    "dept_handler",
    "town_dispatcher",
]
CENTER = {"agent", "dispatcher", "supervisor", "center_admin", "auditor", "town_dispatcher"}
TOWN = {"town_handler", "town_leader"}

ACTIONS = {
    "dispatch": (
        submitted,
        lambda w, a, u: services.dispatch_appeal(appeal=a, actor=u, unit=w.town),
        {"dispatcher", "center_admin", "town_dispatcher"},
    ),
    "direct_close": (
        submitted,
        lambda w, a, u: services.direct_close_appeal(appeal=a, actor=u, reply="已解答"),
        {"agent", "dispatcher", "center_admin", "town_dispatcher"},
    ),
    "invalidate": (
        submitted,
        lambda w, a, u: services.invalidate_appeal(appeal=a, actor=u, reason="重复来电"),
        {"dispatcher", "center_admin", "town_dispatcher"},
    ),
    "accept": (dispatched, lambda w, a, u: services.accept_appeal(appeal=a, actor=u), TOWN),
    "return": (
        dispatched,
        lambda w, a, u: services.return_appeal(appeal=a, actor=u, reason="非本单位职责"),
        TOWN,
    ),
    "redispatch": (
        dispatched,
        lambda w, a, u: services.redispatch_appeal(appeal=a, actor=u, unit=w.dept, reason="改派"),
        {"dispatcher", "center_admin", "town_dispatcher"},
    ),
    "reply": (
        in_progress,
        lambda w, a, u: services.reply_appeal(appeal=a, actor=u, reply="已处理"),
        TOWN,
    ),
    "suspend": (
        in_progress,
        lambda w, a, u: services.suspend_appeal(appeal=a, actor=u, reason="等待材料"),
        TOWN,
    ),
    "request_extension": (
        in_progress,
        lambda w, a, u: services.request_extension(
            appeal=a, actor=u, amount=2, unit="working_days", reason="需协调"
        ),
        TOWN,
    ),
    "transfer": (
        in_progress,
        lambda w, a, u: services.transfer_appeal(appeal=a, actor=u, unit=w.village),
        TOWN,
    ),
    "approve_reply": (
        replied,
        lambda w, a, u: services.approve_reply(appeal=a, actor=u),
        {"dispatcher", "supervisor", "center_admin", "town_dispatcher"},
    ),
    "rework": (
        replied,
        lambda w, a, u: services.rework_appeal(appeal=a, actor=u, reason="答非所问"),
        {"dispatcher", "supervisor", "center_admin", "town_dispatcher"},
    ),
    "rate": (
        closed,
        lambda w, a, u: services.rate_appeal(appeal=a, actor=u, rating="satisfied"),
        {"agent", "dispatcher", "center_admin", "town_dispatcher"},
    ),
    "reveal": (
        dispatched,
        lambda w, a, u: services.reveal_contact(appeal=a, actor=u),
        {"agent", "dispatcher", "supervisor", "center_admin", "town_dispatcher", *TOWN},
    ),
}


def visible_set(action: str) -> set[str]:
    # Before dispatch no unit handles it: only the center (and the intake agent) see it.
    return CENTER if ACTIONS[action][0] is submitted else CENTER | TOWN


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_action_matrix(world, action, user):
    make, call, allowed = ACTIONS[action]
    appeal = make(world)
    actor = fresh(world[user])
    if user in allowed:
        call(world, appeal, actor)
        assert Appeal.objects.get(pk=appeal.pk).version > appeal.version or action == "reveal"
        return
    before = snapshot(appeal)
    with pytest.raises(DomainError) as caught:
        call(world, appeal, actor)
    expected = "not_permitted" if user in visible_set(action) else "appeal_not_found"
    assert caught.value.code == expected
    assert snapshot(appeal) == before


def test_reveal_is_audited(world):
    appeal = dispatched(world, phone="13900001111")
    before = AuditRecord.objects.filter(action="appeal.reveal_contact").count()
    contact = services.reveal_contact(appeal=appeal, actor=world["town_handler"], purpose="回电")
    assert contact == {"name": "王小明", "phone": "13900001111"}
    record = AuditRecord.objects.filter(action="appeal.reveal_contact").latest("id")
    assert AuditRecord.objects.filter(action="appeal.reveal_contact").count() == before + 1
    assert (record.actor_id, record.target_id, record.data["purpose"]) == (
        world["town_handler"].pk,
        str(appeal.pk),
        "回电",
    )


# co-handled and taken-in ids as a list, or a subquery / the condition
@pytest.mark.parametrize("inline", [5_000, 0])
def test_visible_to_matches_can_view(world, monkeypatch, inline):
    from minsheng.appeals import permissions
    from minsheng.appeals.permissions import can_view

    monkeypatch.setattr(permissions, "CO_IDS_INLINE", inline)

    appeals = [
        submitted(world),
        dispatched(world),
        in_progress(world),
        submitted(world, territory=world.other_village),
        dispatched(world, territory=world.other_village),
        dispatched(world),
        closed(world),
    ]
    services.transfer_appeal(appeal=appeals[2], actor=world["town_handler"], unit=world.village)
    services.dispatch_appeal(
        appeal=appeals[3], actor=world["dispatcher"], unit=world.dept, co_units=[world.town]
    )
    # merged: its assignments end, its lead unit stays (visible_to reads the lead unit)
    services.merge_appeal(appeal=appeals[5], actor=world["dispatcher"], into=appeals[1])
    # taken in by the village's handler on a walk-in, then led by the other township: the
    # handler still sees it (intake), by the ids read first or by the condition
    walk_in = submitted(world, actor=world["village_handler"], channel="walk_in")
    services.dispatch_appeal(appeal=walk_in, actor=world["dispatcher"], unit=world.other_town)
    appeals.append(walk_in)
    assert walk_in.pk in set(
        appeals_for(fresh(world["village_handler"])).values_list("pk", flat=True)
    )
    for name in USERS:
        user = fresh(world[name])
        by_query = set(appeals_for(user).values_list("pk", flat=True))
        by_predicate = {
            a.pk
            for a in Appeal.objects.select_related("territory", "lead_unit").prefetch_related(
                "assignments__unit"
            )
            if can_view(user, a)
        }
        assert by_query == by_predicate, name


def test_scope_of_each_role(world):
    in_town = dispatched(world)
    elsewhere = dispatched(world, territory=world.other_village, actor=world["dispatcher"])
    services.redispatch_appeal(
        appeal=elsewhere, actor=world["dispatcher"], unit=world.other_town, reason="属地"
    )
    by_dept = submitted(world, territory=world.other_village, actor=world["dispatcher"])
    services.dispatch_appeal(
        appeal=by_dept, actor=world["dispatcher"], unit=world.dept, co_units=[world.village]
    )

    def seen(name: str) -> set[int]:
        return set(appeals_for(fresh(world[name])).values_list("pk", flat=True))

    assert seen("dispatcher") == {in_town.pk, elsewhere.pk, by_dept.pk}
    assert seen("town_handler") == {in_town.pk}
    assert seen("town_leader") == {in_town.pk, by_dept.pk}  # co-unit 东村 is in its subtree
    assert seen("village_handler") == {by_dept.pk}  # co-unit
    assert seen("other_handler") == {elsewhere.pk}
    assert seen("dept_handler") == {by_dept.pk}
    assert seen("town_dispatcher") == {in_town.pk}  # center scope: place or lead unit
