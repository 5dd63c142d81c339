"""Incremental rollups equal a full recomputation, whatever happened, and miss no late commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.analytics.factories import MONDAY, build_march, recomputed_rows, rollup_rows
from tests.appeals.factories import submitted
from tests.appeals.test_state_machine import ACTORS, CALLS
from tests.conftest import fresh, make_world

from minsheng.analytics.kpi import COUNTER_FIELDS
from minsheng.analytics.models import NARROW_ROLLUPS, DailyRollup, RollupState
from minsheng.analytics.rollups import refresh_rollups
from minsheng.appeals import services
from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core import clock
from minsheng.core.errors import DomainError

SUBMISSIONS = [
    {},
    {"channel": "walk_in", "appeal_type": "help"},
    {"category": "noise", "territory": "other_village"},
    {"appeal_type": "consultation", "territory": "town"},
]
# The natural next step of an appeal in each status, by the staff who takes it.
ADVANCE = {
    Status.RECEIVED: ("dispatch", "dispatcher"),
    Status.DISPATCHED: ("accept", "town_handler"),
    Status.IN_PROGRESS: ("reply", "town_handler"),
    Status.REPLIED: ("approve_reply", "dispatcher"),
    Status.CLOSED: ("rate_good", "agent"),
    Status.RETURNED: ("reject_return", "dispatcher"),
    Status.SUSPENDED: ("resume", "town_handler"),
}
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["submit", "merge", "dispatch_dept", *["advance"] * 12, "rate_bad", *sorted(CALLS)]
        ),
        st.integers(min_value=0, max_value=5),  # which appeal
        st.sampled_from(ACTORS),
        st.integers(min_value=0, max_value=40),  # hours later
        st.booleans(),  # refresh after this step
    ),
    min_size=4,
    max_size=25,
)


def narrow_rows() -> dict[tuple, dict[str, int]]:
    """Every narrow table's rows: {(table, day, *dimensions): counters}."""
    rows: dict[tuple, dict[str, int]] = {}
    for model, dims in NARROW_ROLLUPS:
        for row in model.objects.values("day", *dims, *COUNTER_FIELDS):
            key = (model.__name__, row["day"], *(row[d] for d in dims))
            rows[key] = {name: row[name] for name in COUNTER_FIELDS}
    return rows


def narrow_rows_from_wide() -> dict[tuple, dict[str, int]]:
    """The same, summed from the wide DailyRollup: what the narrow tables must hold."""
    rows: dict[tuple, dict[str, int]] = {}
    for model, dims in NARROW_ROLLUPS:
        for row in DailyRollup.objects.values("day", *dims, *COUNTER_FIELDS):
            key = (model.__name__, row["day"], *(row[d] for d in dims))
            total = rows.setdefault(key, dict.fromkeys(COUNTER_FIELDS, 0))
            for name in COUNTER_FIELDS:
                total[name] += row[name]
    return rows


@pytest.mark.django_db
def test_rollups_equal_a_full_recomputation_after_any_transitions():
    world = make_world()
    start = [MONDAY]

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    # One example always takes an appeal through to approval, whatever the random ones do.
    @example(steps=[("submit", 0, ACTORS[0], 0, False)] + [("advance", 0, ACTORS[0], 3, True)] * 4)
    @given(steps=STEPS)
    def check(steps):
        now = start[0]
        start[0] += timedelta(days=2)  # examples accumulate, as a real database does
        appeals: list[Appeal] = []
        for name, index, who, hours, refresh in steps:
            now += timedelta(hours=hours)
            with clock.replaying(now):
                try:
                    if name == "submit" or not appeals:
                        extra = SUBMISSIONS[index % len(SUBMISSIONS)]
                        fields = {
                            k: getattr(world, v) if k in ("category", "territory") else v
                            for k, v in extra.items()
                        }
                        appeals.append(submitted(world, **fields))
                    elif name == "merge" and len(appeals) > 1:
                        services.merge_appeal(
                            appeal=appeals[index % len(appeals)].pk,
                            actor=world["dispatcher"],
                            into=appeals[(index + 1) % len(appeals)].pk,
                        )
                    elif name == "dispatch_dept":
                        services.dispatch_appeal(
                            appeal=appeals[index % len(appeals)].pk,
                            actor=world["dispatcher"],
                            unit=world.dept,
                        )
                    elif name == "advance":
                        appeal = Appeal.objects.get(pk=appeals[index % len(appeals)].pk)
                        if appeal.status in ADVANCE:
                            call, actor = ADVANCE[appeal.status]
                            CALLS[call](world, appeal.pk, fresh(world[actor]))
                    elif name in CALLS:
                        CALLS[name](world, appeals[index % len(appeals)].pk, fresh(world[who]))
                except DomainError:
                    pass  # a refused move changes nothing
            if refresh:
                refresh_rollups()
        # when
        refresh_rollups()
        # then
        assert rollup_rows() == recomputed_rows()
        assert narrow_rows() == narrow_rows_from_wide()

    check()
    # the examples did build appeals in many states, on many days
    assert Appeal.objects.count() >= 30
    assert DailyRollup.objects.values("day").distinct().count() >= 10
    assert AppealEvent.objects.filter(action__in=["approve_reply", "direct_close"]).exists()


@pytest.mark.django_db
def test_a_refresh_redoes_only_the_days_of_appeals_with_new_events(world):
    # given a rolled-up month
    march = build_march(world)
    refresh_rollups()
    before = rollup_rows()
    # when appeal h (received Thursday) is dispatched much later
    with clock.replaying(MONDAY + timedelta(days=40)):
        services.dispatch_appeal(appeal=march.appeals["h"], actor=world["dispatcher"])
    result = refresh_rollups()
    # then exactly one day was redone and the rollups match a recomputation
    assert result.days == 1
    assert result.events == 1
    assert rollup_rows() == recomputed_rows()
    assert rollup_rows() != before


@pytest.mark.django_db
def test_an_event_committed_late_below_the_watermark_is_still_picked_up(world):
    # given appeal h rolled up, and an id hole below the watermark (a transaction still open)
    march = build_march(world)
    refresh_rollups()
    h = march.appeals["h"]
    last = AppealEvent.objects.order_by("-pk").first()
    hole = last.pk + 1
    AppealEvent.objects.create(
        pk=last.pk + 2, appeal=h, at=clock.now(), action="supplement", to_status=h.status
    )
    refresh_rollups()
    state = RollupState.objects.get()
    assert str(hole) in state.gaps
    assert state.high_event_id == last.pk + 2
    # when the open transaction commits: h invalidated, its event carrying the hole's id
    Appeal.objects.filter(pk=h.pk).update(status=Status.INVALID)
    AppealEvent.objects.create(
        pk=hole, appeal=h, at=clock.now(), action="invalidate", to_status=Status.INVALID
    )
    second = refresh_rollups()
    # then the refresh found it under the watermark and redid h's day
    assert second.events == 1
    assert str(hole) not in RollupState.objects.get().gaps
    assert rollup_rows() == recomputed_rows()
    assert sum(DailyRollup.objects.values_list("invalid", flat=True)) == 2


@pytest.mark.django_db
def test_a_gap_is_forgotten_after_the_overlap_window(world, settings):
    # given a hole seen by a refresh
    build_march(world)
    refresh_rollups()
    last = AppealEvent.objects.order_by("-pk").first()
    AppealEvent.objects.create(
        pk=last.pk + 2,
        appeal_id=last.appeal_id,
        at=clock.now(),
        action="supplement",
        to_status=last.to_status,
    )
    refresh_rollups()
    assert str(last.pk + 1) in RollupState.objects.get().gaps
    # when the window has passed (a rolled-back transaction never fills it)
    settings.MINSHENG_ROLLUP_OVERLAP_SECONDS = 0
    result = refresh_rollups()
    # then
    assert result.gaps == 0
    assert RollupState.objects.get().gaps == {}


@pytest.mark.django_db
def test_refreshing_twice_changes_nothing_and_full_rebuilds_the_same(world):
    build_march(world)
    refresh_rollups()
    rows = rollup_rows()
    # when
    again = refresh_rollups()
    call_command("refresh_rollups", "--full", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # then
    assert again.days == 0
    assert rollup_rows() == rows == recomputed_rows()
    assert RollupState.objects.get().full_refresh_at is not None


@pytest.mark.django_db
def test_intake_does_not_write_rollups(world):
    # given
    refresh_rollups()
    # when
    submitted(world)
    # then: only the refresher writes the table
    assert DailyRollup.objects.count() == 0


@pytest.mark.django_db
def test_city_figures_come_from_the_narrow_tables_and_equal_the_wide_ones(world):
    from minsheng.analytics import selectors
    from minsheng.analytics.models import DailyKindRollup, DailyUnitKindRollup, DailyUnitRollup

    build_march(world)
    refresh_rollups()
    city = selectors.require_scope(world["center_admin"])
    assert city.everything
    march = selectors.StatsFilter(
        date_from=MONDAY.date().replace(day=1), date_to=MONDAY.date().replace(day=31)
    )
    # the tables read
    assert selectors.rollups(city, march).model is DailyKindRollup
    assert selectors.rollups(city, march, needs=["lead_unit_id"]).model is DailyUnitRollup
    assert (
        selectors.rollups(city, march, needs=["lead_unit_id", "channel"]).model
        is DailyUnitKindRollup
    )
    assert selectors.rollups(city, march, needs=["territory_id", "channel"]).model is DailyRollup
    town = selectors.require_scope(world["town_leader"])
    assert selectors.rollups(town, march).model is DailyUnitRollup
    # and the same figures as the wide table gives
    wide = selectors._filtered(DailyRollup.objects.all(), city, march)
    assert selectors.totals(city, march) == kpi_counters(wide)
    by_unit = selectors.by_dimension(city, march, "lead_unit_id")
    for unit_id, counters in by_unit.items():
        assert counters == kpi_counters(wide.filter(lead_unit_id=unit_id))
    assert sum(c.received for c in by_unit.values()) == selectors.totals(city, march).received > 0
    # a unit's scope groups by lead unit × one more dimension: the same figures as the wide rows
    town_wide = selectors._filtered(DailyRollup.objects.all(), town, march)
    assert selectors.totals(town, march) == kpi_counters(town_wide)
    for column in ("channel", "appeal_type", "category_id", "territory_id", "lead_unit_id"):
        figures = selectors.by_dimension(town, march, column)
        assert selectors.rollups(town, march, needs=[column]).model is not DailyRollup
        assert figures == {
            value: kpi_counters(town_wide.filter(**{column: value}))
            for value in town_wide.values_list(column, flat=True).distinct()
        }


def kpi_counters(qs):
    from django.db.models import Sum

    from minsheng.analytics import kpi

    return kpi.Counters.from_mapping(qs.aggregate(**{n: Sum(n) for n in COUNTER_FIELDS}))
