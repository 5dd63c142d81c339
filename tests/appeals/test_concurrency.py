"""Two concurrent transitions on one appeal cannot both succeed (real threads, real database).

On PostgreSQL each service locks the row (SELECT … FOR UPDATE); on SQLite the IMMEDIATE
transaction mode serialises writers. Either way the loser sees the new state and is refused.
"""

from __future__ import annotations

import pytest
from django.db import connection

from minsheng.appeals import services
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core.audit import verify_chain
from minsheng.core.errors import DomainError
from tests.appeals.factories import dispatched
from tests.concurrency import race
from tests.conftest import fresh

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("rounds", [5])
def test_two_accepts_race_only_one_wins(world, rounds):
    for _ in range(rounds):
        appeal = dispatched(world)
        results = race(
            lambda a=appeal: services.accept_appeal(
                appeal=a.pk, actor=fresh(world["town_handler"])
            ),
            lambda a=appeal: services.accept_appeal(appeal=a.pk, actor=fresh(world["town_leader"])),
        )
        errors = [r for r in results if isinstance(r, DomainError)]
        assert len(errors) == 1, results
        assert errors[0].code == "illegal_transition"
        row = Appeal.objects.get(pk=appeal.pk)
        actions = list(AppealEvent.objects.filter(appeal=appeal).values_list("action", flat=True))
        assert actions == ["submit", "dispatch", "accept"]
        assert (row.status, row.version) == ("in_progress", 3)
    assert list(verify_chain()) == []


def test_two_dispatchers_dispatch_once(world):
    from tests.appeals.factories import submitted

    appeal = submitted(world)
    results = race(
        lambda: services.dispatch_appeal(
            appeal=appeal.pk, actor=fresh(world["dispatcher"]), unit=world.town
        ),
        lambda: services.dispatch_appeal(
            appeal=appeal.pk, actor=fresh(world["center_admin"]), unit=world.dept
        ),
    )
    assert sum(isinstance(r, DomainError) for r in results) == 1
    assert AppealEvent.objects.filter(appeal=appeal, action="dispatch").count() == 1
    assert connection.vendor in ("postgresql", "sqlite")


def test_concurrent_retries_with_one_idempotency_key_create_one_appeal(world):
    from minsheng.core.idempotency import run_once

    def submit() -> tuple[int, dict]:
        def create() -> tuple[int, dict]:
            appeal = services.submit_appeal(
                actor=None,
                channel="mini_program",
                appeal_type="help",
                content="路灯不亮",
                phone="13900000009",
            )
            return 201, {"id": appeal.pk}

        return run_once(scope="public", key="same-key", payload={"content": "路灯不亮"}, run=create)

    results = race(submit, submit, submit)
    assert [r[0] for r in results] == [201, 201, 201]
    assert len({r[1]["id"] for r in results}) == 1
    assert Appeal.objects.count() == 1
