"""KPI definitions on the reference figures and on a hand-built month computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.analytics.factories import build_march

from minsheng.analytics import kpi, selectors
from minsheng.analytics.rollups import refresh_rollups


def test_reference_report_figures_give_99_22_percent_not_99_21():
    # given the reference center's year
    year = kpi.Counters(received=32_266, closed=32_013)
    # when / then: 32013 / 32266 = 99.2159…% rounds half up to 99.22
    assert year.completion_rate == Decimal("99.22")
    assert year.in_progress == 253
    assert kpi.report_sentence(year, period="全年") == (
        "全年共受理32266件，已办结32013件，办结率99.22%，正在办理253件。"
    )


def test_rates_round_half_up_with_decimals_and_none_without_denominator():
    assert kpi.percent(1, 8) == Decimal("12.50")
    assert kpi.percent(1, 3) == Decimal("33.33")
    assert kpi.percent(2, 3) == Decimal("66.67")
    assert kpi.percent(1, 200_000) == Decimal("0.00")  # 0.0005 %
    assert kpi.percent(1, 160_000) == Decimal("0.00")  # 0.000625 % → 0.00
    assert kpi.percent(1, 1_600) == Decimal("0.06")  # 0.0625 % → half up
    assert kpi.percent(0, 0) is None
    assert kpi.Counters().completion_rate is None
    assert kpi.format_percent(None) == "—"


@pytest.mark.django_db
def test_hand_built_month_gives_hand_computed_kpis(world):
    # given the eight appeals of tests/analytics/factories.build_march, rolled up
    build_march(world)
    refresh_rollups()
    scope = selectors.Scope(everything=True)
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    # when
    figures = selectors.totals(scope, march)
    # then: a b c d e h received (f invalid, g merged)
    assert figures.as_dict() == {
        "received": 6,
        "closed": 3,  # a b e
        "closed_on_time": 2,  # a e
        "dispatched": 4,  # a b c d
        "accepted_in_time": 3,  # a c d (b after 3 h)
        "rated": 2,  # a b (d's rating reopened it)
        "satisfied": 2,
        "solved": 1,  # a
        "returned": 1,  # c
        "reopened": 1,  # d
        "ever_closed": 4,  # a b e d
        "handling_days": 8,  # a 2 + b 6 + e 0
        "invalid": 1,
        "merged": 1,
    }
    assert figures.in_progress == 3
    assert figures.completion_rate == Decimal("50.00")
    assert figures.on_time_rate == Decimal("66.67")
    assert figures.response_rate == Decimal("75.00")
    assert figures.satisfaction_rate == Decimal("100.00")
    assert figures.resolution_rate == Decimal("50.00")
    assert figures.return_rate == Decimal("25.00")
    assert figures.reopen_rate == Decimal("25.00")
    assert figures.average_handling_days == Decimal("2.7")


@pytest.mark.django_db
def test_figures_are_filed_under_the_day_received_in_the_city(world):
    build_march(world)
    refresh_rollups()
    scope = selectors.Scope(everything=True)
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    # when
    days = {
        b.start: (b.counters.received, b.counters.closed)
        for b in selectors.trend(scope, march, "day")
        if b.counters.received
    }
    weeks = [(b.start, b.end, b.counters.received) for b in selectors.trend(scope, march, "week")]
    # then
    assert days == {
        date(2026, 3, 2): (2, 2),  # a b
        date(2026, 3, 3): (2, 0),  # c d
        date(2026, 3, 4): (1, 1),  # e (f, g not received)
        date(2026, 3, 5): (1, 0),  # h
    }
    assert weeks[0] == (date(2026, 3, 1), date(2026, 3, 1), 0)  # a Sunday: the week's tail
    assert weeks[1] == (date(2026, 3, 2), date(2026, 3, 8), 6)
    assert len(weeks) == 6


@pytest.mark.django_db
def test_unit_and_handler_figures(world):
    build_march(world)
    refresh_rollups()
    scope = selectors.Scope(everything=True)
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    # when
    units = {
        (row.unit.name if row.unit else None): row.counters
        for row in selectors.unit_table(scope, march)
    }
    handlers = selectors.handler_table(scope, march)
    # then: a b c d led by the town; e h never dispatched (the center's own)
    assert units["和兴镇"].received == 4
    assert units["和兴镇"].closed == 2
    assert units["青石镇"].received == 0
    assert units[None].received == 2
    assert [
        (h.name, h.handled, h.closed, h.closed_on_time, h.rated, h.satisfied) for h in handlers
    ] == [("town_handler", 4, 2, 1, 2, 2)]
    assert handlers[0].on_time_rate == Decimal("50.00")
    assert handlers[0].resolution_rate == Decimal("50.00")
    # the dashboard's table with sparklines: the same rows, each month's figures adding up
    february_march = selectors.StatsFilter(date_from=date(2026, 2, 1), date_to=date(2026, 3, 31))
    rows, months = selectors.unit_table_with_months(scope, february_march)
    assert months == [date(2026, 2, 1), date(2026, 3, 1)]
    plain = selectors.unit_table(scope, february_march)
    assert [(r.unit, r.counters) for r in rows] == [(r.unit, r.counters) for r in plain]
    for row in rows:
        assert row.received_by_month == [0, row.counters.received]


@pytest.mark.django_db
def test_breakdowns_from_one_query_equal_one_query_each(world):
    build_march(world)
    refresh_rollups()
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    for scope in (selectors.Scope(everything=True), selectors.require_scope(world["town_leader"])):
        both = selectors.by_dimensions(scope, march, ("channel", "appeal_type"))
        assert both["channel"] == selectors.by_dimension(scope, march, "channel")
        assert both["appeal_type"] == selectors.by_dimension(scope, march, "appeal_type")
        assert sum(c.received for c in both["channel"].values()) > 0
        # and the trend's buckets add up to the period's totals (the dashboard's headline)
        buckets = selectors.trend(scope, march, "week")
        assert kpi.Counters.total(b.counters for b in buckets) == selectors.totals(scope, march)


@pytest.mark.django_db
def test_overdue_now_counts_running_appeals_past_their_deadline_only(world):
    from django.utils import timezone

    from minsheng.appeals import selectors as appeal_selectors
    from minsheng.appeals import services

    built = build_march(world).appeals
    # c and d are in progress past their March deadlines; suspend c: its clock stops
    services.suspend_appeal(appeal=built["c"], actor=world["town_handler"], reason="等待鉴定")
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    for user in (world["center_admin"], world["town_leader"]):
        count, most = selectors.overdue_now(user, march)
        expected = appeal_selectors.appeals_for(user).filter(
            appeal_selectors.attention_filters(timezone.now())["overdue"]
        )
        assert count == expected.count() == 1
        assert [a.pk for a in most] == [built["d"].pk]


@pytest.mark.django_db
def test_handler_table_follows_the_appeals_outcome_scope_and_place(world):
    from minsheng.appeals import services

    march_set = build_march(world)
    refresh_rollups()
    march = selectors.StatsFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))

    def table(scope: selectors.Scope, f: selectors.StatsFilter = march) -> list[tuple]:
        return [(h.name, h.handled, h.closed, h.rated) for h in selectors.handler_table(scope, f)]

    town = selectors.Scope(everything=False, unit_paths=(world.town.path,))
    other = selectors.Scope(everything=False, unit_paths=(world.other_town.path,))
    assert table(town) == [("town_handler", 4, 2, 2)]
    assert table(other) == []
    # the place filter: only d lies in the other village (closed, rated, then reopened)
    in_place = selectors.StatsFilter(
        date_from=march.date_from, date_to=march.date_to, place=world.other_village
    )
    assert table(town, in_place) == [("town_handler", 1, 0, 0)]
    # when: c is replied and closed now; the worker's next (incremental) refresh
    services.reply_appeal(
        appeal=march_set.appeals["c"], actor=world["town_handler"], reply="已处理"
    )
    services.approve_reply(appeal=march_set.appeals["c"], actor=world["dispatcher"])
    refresh_rollups()
    # then: the handler's closed count follows the appeal's outcome now
    assert table(town) == [("town_handler", 4, 3, 2)]


@pytest.mark.django_db
def test_handler_rows_add_up_the_same_over_chunks_of_appeals(world, monkeypatch):
    from minsheng.analytics import rollups
    from minsheng.analytics.models import DailyHandlerRollup

    # given the hand-built month, its handler rows from a full refresh (one aggregate a run)
    build_march(world)
    fields = ["day", "actor_id", "lead_unit_id", "territory_id", *rollups.HANDLER_COUNTERS]

    def rows() -> list[tuple]:
        return sorted(DailyHandlerRollup.objects.values_list(*fields))

    refresh_rollups(full=True)
    whole = rows()
    days = sorted({row[0] for row in whole})
    # when the same days are recomputed as the incremental refresh does, one appeal at a time
    # (every row sums several chunks)
    monkeypatch.setattr(rollups, "HANDLER_CHUNK", 1)
    rollups.recompute_days(days)

    # then every row and count is the same; a row of the day with two appeals among them
    assert rows() == whole
    assert max(row[fields.index("handled")] for row in whole) >= 2
