"""Every transition of the lifecycle, allowed and refused, through the service functions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from minsheng.appeals import services
from minsheng.appeals.models import Appeal, AppealEvent, ExtensionRequest
from minsheng.core import clock
from minsheng.core.errors import DomainError
from minsheng.core.models import AuditRecord
from tests.appeals.factories import closed, dispatched, in_progress, reload, replied, submitted

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def snapshot(appeal: Appeal) -> tuple:
    """Everything a refused action must leave untouched."""
    row = Appeal.objects.get(pk=appeal.pk)
    return (
        row.status,
        row.version,
        row.lead_unit_id,
        row.due_at,
        row.accept_due_at,
        AppealEvent.objects.filter(appeal=appeal).count(),
        AuditRecord.objects.count(),
    )


def refused(code: str, call, appeal: Appeal) -> None:
    before = snapshot(appeal)
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code
    assert snapshot(appeal) == before


def test_submit_records_event_and_audit(world):
    # given / when: an agent registers a hotline call
    appeal = submitted(world, phone="138 1234-5678")
    # then
    assert appeal.status == "received"
    assert appeal.citizen_phone == "13812345678"
    assert len(appeal.tracking_code) == 10
    events = list(appeal.events.values_list("action", "from_status", "to_status", "actor_id"))
    assert events == [("submit", "", "received", world["agent"].pk)]
    assert AuditRecord.objects.filter(action="appeal.submit", target_id=str(appeal.pk)).count() == 1


def test_tracking_codes_are_distinct_and_unambiguous(world):
    codes = {submitted(world).tracking_code for _ in range(20)}
    assert len(codes) == 20
    assert not any(ch in code for code in codes for ch in "01OI")


def test_submit_requires_phone_unless_anonymous(world):
    with pytest.raises(DomainError) as caught:
        submitted(world, phone="")
    assert caught.value.code == "contact_required"
    anonymous = submitted(world, phone="", anonymous=True, name="张三")
    assert anonymous.citizen_name == ""
    assert anonymous.is_anonymous is True
    assert Appeal.objects.count() == 1


def test_submit_rejects_bad_phone_and_nothing_is_saved(world):
    with pytest.raises(DomainError) as caught:
        submitted(world, phone="12345abc")
    assert caught.value.code == "invalid_phone"
    assert Appeal.objects.count() == 0
    assert AppealEvent.objects.count() == 0


def test_full_happy_path_with_deadlines(world):
    # given: a hotline call on Monday 2025-11-03 09:00
    with clock.replaying(datetime(2025, 11, 3, 9, 0, tzinfo=SH)):
        appeal = submitted(world)
        # when: dispatched by the catalogue (道路 in 和兴镇 → 和兴镇)
        event = services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"])
    # then: accept within 2 hours, complete within 5 working days (Tue..Mon → end of Mon 10th)
    appeal = reload(appeal)
    assert appeal.lead_unit == world.town
    assert event.unit == world.town
    assert appeal.accept_due_at == datetime(2025, 11, 3, 11, 0, tzinfo=SH)
    assert appeal.due_at == datetime(2025, 11, 11, 0, 0, tzinfo=SH)
    with clock.replaying(datetime(2025, 11, 3, 10, 0, tzinfo=SH)):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])
    with clock.replaying(datetime(2025, 11, 5, 16, 0, tzinfo=SH)):
        services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply="已修复。")
    with clock.replaying(datetime(2025, 11, 6, 9, 0, tzinfo=SH)):
        services.approve_reply(appeal=appeal, actor=world["supervisor"])
    with clock.replaying(datetime(2025, 11, 7, 9, 0, tzinfo=SH)):
        services.rate_appeal(appeal=appeal, actor=None, rating="satisfied", solved=True)
    appeal = reload(appeal)
    assert appeal.status == "closed"
    assert appeal.closed_on_time is True
    assert appeal.rating == "satisfied"
    assert list(appeal.events.values_list("action", flat=True)) == [
        "submit",
        "dispatch",
        "accept",
        "reply",
        "approve_reply",
        "rate",
    ]


def test_dispatch_with_co_units_and_no_catalogue_entry(world):
    appeal = submitted(world, category=None)
    refused(
        "no_catalogue_entry",
        lambda: services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"]),
        appeal,
    )
    services.dispatch_appeal(
        appeal=appeal, actor=world["dispatcher"], unit=world.town, co_units=[world.dept]
    )
    roles = sorted(reload(appeal).assignments.values_list("unit__code", "role", "active"))
    assert roles == [("D1", "co", True), ("T1", "lead", True)]


def test_dispatch_to_the_city_root_is_refused(world):
    appeal = submitted(world)
    refused(
        "unit_cannot_handle",
        lambda: services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.city),
        appeal,
    )


def test_critical_urgency_gets_hours(world):
    with clock.replaying(datetime(2025, 11, 3, 22, 0, tzinfo=SH)):
        appeal = submitted(world, urgency="critical")
        services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.town)
    appeal = reload(appeal)
    assert appeal.due_at == datetime(2025, 11, 4, 22, 0, tzinfo=SH)
    assert appeal.limit_unit == "hours"


def test_return_then_approve_and_redispatch(world):
    appeal = dispatched(world)
    services.return_appeal(appeal=appeal, actor=world["town_handler"], reason="不属于本镇职责")
    assert reload(appeal).status == "returned"
    assert reload(appeal).return_count == 1
    services.approve_return(appeal=appeal, actor=world["dispatcher"])
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit, appeal.due_at) == ("received", None, None)
    services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.dept)
    assert reload(appeal).lead_unit == world.dept


def test_return_rejected_goes_back_to_the_unit(world):
    appeal = dispatched(world)
    due = appeal.due_at
    services.return_appeal(appeal=appeal, actor=world["town_handler"], reason="不归我们")
    services.reject_return(appeal=appeal, actor=world["dispatcher"], reason="属地管理，由镇处理")
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit, appeal.due_at) == ("dispatched", world.town, due)


def test_return_needs_a_reason(world):
    appeal = dispatched(world)
    refused(
        "reason_required",
        lambda: services.return_appeal(appeal=appeal, actor=world["town_handler"], reason="  "),
        appeal,
    )


def test_transfer_down_keeps_the_completion_deadline(world):
    appeal = in_progress(world)
    due = appeal.due_at
    services.transfer_appeal(appeal=appeal, actor=world["town_handler"], unit=world.village)
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit, appeal.due_at) == ("dispatched", world.village, due)
    # the village now accepts it; the township handler no longer may
    services.accept_appeal(appeal=appeal, actor=world["village_handler"])
    assert reload(appeal).status == "in_progress"


def test_transfer_sideways_is_refused(world):
    appeal = in_progress(world)
    refused(
        "transfer_out_of_subtree",
        lambda: services.transfer_appeal(
            appeal=appeal, actor=world["town_handler"], unit=world.other_village
        ),
        appeal,
    )


def test_redispatch_moves_the_appeal_and_the_old_unit_loses_it(world):
    appeal = in_progress(world)
    services.redispatch_appeal(
        appeal=appeal, actor=world["dispatcher"], unit=world.dept, reason="属住建局职责"
    )
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit) == ("dispatched", world.dept)
    refused(
        "appeal_not_found",
        lambda: services.accept_appeal(appeal=appeal, actor=world["town_handler"]),
        appeal,
    )


def test_extension_request_approve_moves_deadline(world):
    with clock.replaying(datetime(2025, 11, 3, 9, 0, tzinfo=SH)):
        appeal = in_progress(world)
    assert appeal.due_at == datetime(2025, 11, 11, 0, 0, tzinfo=SH)
    services.request_extension(
        appeal=appeal,
        actor=world["town_handler"],
        amount=3,
        unit="working_days",
        reason="需协调施工队",
    )
    refused(
        "extension_pending",
        lambda: services.request_extension(
            appeal=appeal, actor=world["town_handler"], amount=1, unit="working_days", reason="再延"
        ),
        appeal,
    )
    services.approve_extension(appeal=appeal, actor=world["supervisor"])
    # Mon 10th was the last day; 3 more working days: Tue 11, Wed 12, Thu 13 → end of Thu
    assert reload(appeal).due_at == datetime(2025, 11, 14, 0, 0, tzinfo=SH)
    assert ExtensionRequest.objects.get().state == "approved"


def test_extension_refused_leaves_deadline(world):
    appeal = in_progress(world)
    due = appeal.due_at
    services.request_extension(
        appeal=appeal, actor=world["town_handler"], amount=3, unit="working_days", reason="需协调"
    )
    services.refuse_extension(appeal=appeal, actor=world["dispatcher"], reason="时限内可办")
    assert reload(appeal).due_at == due
    assert ExtensionRequest.objects.get().state == "refused"
    refused(
        "no_pending_extension",
        lambda: services.approve_extension(appeal=appeal, actor=world["dispatcher"]),
        appeal,
    )


def test_suspend_stops_the_clock(world):
    with clock.replaying(datetime(2025, 11, 3, 9, 0, tzinfo=SH)):
        appeal = in_progress(world)
    with clock.replaying(datetime(2025, 11, 5, 10, 0, tzinfo=SH)):  # Wednesday
        services.suspend_appeal(
            appeal=appeal, actor=world["town_handler"], reason="等待群众补充材料"
        )
    assert reload(appeal).status == "suspended"
    with clock.replaying(datetime(2025, 11, 8, 10, 0, tzinfo=SH)):  # Saturday
        services.resume_appeal(appeal=appeal, actor=world["town_handler"])
    # suspended Wed, Thu, Fri (3 working days) → the deadline moves from end of Mon 10th to
    # end of Thu 13th
    appeal = reload(appeal)
    assert appeal.status == "in_progress"
    assert appeal.due_at == datetime(2025, 11, 14, 0, 0, tzinfo=SH)


def test_rework_sends_back_to_the_unit(world):
    appeal = replied(world)
    services.rework_appeal(appeal=appeal, actor=world["supervisor"], reason="答复未回应诉求")
    assert reload(appeal).status == "in_progress"


def test_unsatisfied_reopens_once_then_stays_closed(world):
    appeal = closed(world)
    services.rate_appeal(appeal=appeal, actor=None, rating="unsatisfied", solved=False)
    appeal = reload(appeal)
    assert (appeal.status, appeal.reopen_count, appeal.rating) == ("in_progress", 1, "")
    services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply="已再次处理。")
    services.approve_reply(appeal=appeal, actor=world["dispatcher"])
    services.rate_appeal(appeal=appeal, actor=world["agent"], rating="unsatisfied")
    appeal = reload(appeal)
    assert (appeal.status, appeal.reopen_count, appeal.rating) == ("closed", 1, "unsatisfied")
    refused(
        "already_rated",
        lambda: services.rate_appeal(appeal=appeal, actor=None, rating="satisfied"),
        appeal,
    )


def test_direct_close_of_a_consultation(world):
    appeal = submitted(world, appeal_type="consultation", category=None)
    services.direct_close_appeal(appeal=appeal, actor=world["agent"], reply="社保卡可在窗口补办。")
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit, appeal.closed_on_time) == ("closed", None, True)


def test_invalid_with_reason(world):
    appeal = submitted(world)
    services.invalidate_appeal(appeal=appeal, actor=world["dispatcher"], reason="骚扰电话")
    assert reload(appeal).status == "invalid"
    refused(
        "illegal_transition",
        lambda: services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.town),
        appeal,
    )


def test_merge_into_open_appeal(world):
    first = dispatched(world)
    duplicate = submitted(world)
    services.merge_appeal(appeal=duplicate, actor=world["dispatcher"], into=first)
    duplicate = reload(duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", first.pk)
    refused(
        "merge_into_self",
        lambda: services.merge_appeal(appeal=first, actor=world["dispatcher"], into=first),
        first,
    )


def test_merge_into_closed_is_refused(world):
    done = closed(world)
    duplicate = submitted(world)
    refused(
        "merge_target_not_open",
        lambda: services.merge_appeal(appeal=duplicate, actor=world["dispatcher"], into=done),
        duplicate,
    )


def test_supplement_by_citizen_on_open_appeal(world):
    appeal = dispatched(world)
    services.add_supplement(appeal=appeal, actor=None, text="塌陷范围扩大了")
    event = reload(appeal).events.last()
    assert (event.action, event.actor_kind, event.is_public) == ("supplement", "citizen", True)


@pytest.mark.parametrize(
    ("make", "call"),
    [
        (submitted, lambda w, a: services.approve_reply(appeal=a, actor=w["dispatcher"])),
        (
            dispatched,
            lambda w, a: services.reply_appeal(appeal=a, actor=w["town_handler"], reply="x"),
        ),
        (in_progress, lambda w, a: services.approve_reply(appeal=a, actor=w["dispatcher"])),
        (in_progress, lambda w, a: services.rate_appeal(appeal=a, actor=None, rating="satisfied")),
        (
            closed,
            lambda w, a: services.dispatch_appeal(appeal=a, actor=w["dispatcher"], unit=w.town),
        ),
        (
            closed,
            lambda w, a: services.suspend_appeal(appeal=a, actor=w["town_handler"], reason="x"),
        ),
        (closed, lambda w, a: services.add_supplement(appeal=a, actor=None, text="x")),
        (replied, lambda w, a: services.direct_close_appeal(appeal=a, actor=w["agent"], reply="x")),
    ],
)
def test_illegal_transitions_change_nothing(world, make, call):
    appeal = make(world)
    refused("illegal_transition", lambda: call(world, appeal), appeal)
