"""Random sequences of transitions by random staff; the invariants hold after every step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from minsheng.appeals import services, workflow
from minsheng.appeals.choices import Action, Status
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core import clock
from minsheng.core.errors import DomainError
from tests.conftest import fresh, make_world

ACTORS = ["agent", "dispatcher", "supervisor", "town_handler", "village_handler", "other_handler"]

CALLS = {
    "dispatch": lambda w, a, u: services.dispatch_appeal(appeal=a, actor=u, unit=w.town),
    "redispatch": lambda w, a, u: services.redispatch_appeal(
        appeal=a, actor=u, unit=w.town, reason="改派"
    ),
    "accept": lambda w, a, u: services.accept_appeal(appeal=a, actor=u),
    "return": lambda w, a, u: services.return_appeal(appeal=a, actor=u, reason="不属本单位"),
    "approve_return": lambda w, a, u: services.approve_return(appeal=a, actor=u),
    "reject_return": lambda w, a, u: services.reject_return(appeal=a, actor=u, reason="驳回"),
    "transfer": lambda w, a, u: services.transfer_appeal(appeal=a, actor=u, unit=w.village),
    "request_extension": lambda w, a, u: services.request_extension(
        appeal=a, actor=u, amount=2, unit="working_days", reason="协调"
    ),
    "approve_extension": lambda w, a, u: services.approve_extension(appeal=a, actor=u),
    "refuse_extension": lambda w, a, u: services.refuse_extension(
        appeal=a, actor=u, reason="不同意"
    ),
    "suspend": lambda w, a, u: services.suspend_appeal(appeal=a, actor=u, reason="等待"),
    "resume": lambda w, a, u: services.resume_appeal(appeal=a, actor=u),
    "reply": lambda w, a, u: services.reply_appeal(appeal=a, actor=u, reply="已处理"),
    "approve_reply": lambda w, a, u: services.approve_reply(appeal=a, actor=u),
    "rework": lambda w, a, u: services.rework_appeal(appeal=a, actor=u, reason="重办"),
    "rate_bad": lambda w, a, u: services.rate_appeal(appeal=a, actor=None, rating="unsatisfied"),
    "rate_good": lambda w, a, u: services.rate_appeal(appeal=a, actor=None, rating="satisfied"),
    "direct_close": lambda w, a, u: services.direct_close_appeal(appeal=a, actor=u, reply="已答"),
    "invalidate": lambda w, a, u: services.invalidate_appeal(appeal=a, actor=u, reason="无效"),
}


@pytest.mark.django_db
def test_random_lifecycles_keep_invariants():
    world = make_world()

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now = clock.now()
            with clock.replaying(self.now):
                self.appeal = services.submit_appeal(
                    actor=world["agent"],
                    channel="hotline",
                    appeal_type="complaint",
                    content="测试诉求",
                    phone="13800000000",
                    category=world.road,
                    territory=world.village,
                )

        @rule(
            name=st.sampled_from(sorted(CALLS)),
            who=st.sampled_from(ACTORS),
            hours=st.integers(min_value=0, max_value=96),
        )
        def act(self, name: str, who: str, hours: int) -> None:
            self.now += timedelta(hours=hours)
            before = Appeal.objects.get(pk=self.appeal.pk)
            events_before = AppealEvent.objects.filter(appeal=self.appeal).count()
            with clock.replaying(self.now):
                try:
                    CALLS[name](world, self.appeal.pk, fresh(world[who]))
                except DomainError:
                    after = Appeal.objects.get(pk=self.appeal.pk)
                    assert (after.status, after.version) == (before.status, before.version)
                    assert AppealEvent.objects.filter(appeal=self.appeal).count() == events_before
                    return
            after = Appeal.objects.get(pk=self.appeal.pk)
            if before.status == Status.CLOSED and after.status != Status.CLOSED:
                # the only way out of a closed appeal is the reopen after 不满意
                last = AppealEvent.objects.filter(appeal=self.appeal).latest("pk")
                assert last.action == Action.REOPEN
                assert after.reopen_count == before.reopen_count + 1

        @invariant()
        def history_matches_state(self) -> None:
            appeal = Appeal.objects.get(pk=self.appeal.pk)
            events = list(AppealEvent.objects.filter(appeal=appeal).order_by("at", "pk"))
            assert events[0].action == Action.SUBMIT
            status = ""
            for event in events:
                assert event.from_status == status
                if event.action != Action.SUBMIT:
                    assert workflow.can_start(Action(event.action), event.from_status)
                status = event.to_status
            assert appeal.status == status
            assert appeal.version == len(events)

        @invariant()
        def deadlines_not_before_their_start(self) -> None:
            appeal = Appeal.objects.get(pk=self.appeal.pk)
            if appeal.dispatched_at is not None:
                assert appeal.accept_due_at is None or appeal.accept_due_at >= appeal.dispatched_at
                assert appeal.due_at is None or appeal.due_at >= appeal.dispatched_at
            for event in AppealEvent.objects.filter(appeal=appeal):
                assert event.due_at is None or event.due_at >= appeal.created_at

        @precondition(lambda self: True)
        @invariant()
        def reopen_within_policy(self) -> None:
            assert Appeal.objects.get(pk=self.appeal.pk).reopen_count <= 1

    Lifecycle.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    Lifecycle.TestCase().runTest()
