"""run_once: the first answer to a key is the only one, and a replayed twin leaves no trace."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from minsheng.core.errors import CoreError, DomainError
from minsheng.core.idempotency import run_once
from minsheng.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def _make_group(name: str) -> tuple[int, dict[str, Any]]:
    group = Group.objects.create(name=name)
    return 201, {"id": group.pk, "name": name}


def test_first_run_answers_and_stores_the_answer():
    outcome = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    assert outcome.status == 201
    assert outcome.replayed is False
    assert Group.objects.filter(name="a").count() == 1
    stored = IdempotencyRecord.objects.get(scope="t", key="k")
    assert (stored.status_code, stored.response) == (201, outcome.body)


def test_retry_replays_the_first_answer_and_its_work_is_undone():
    first = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    # The retry's own work runs (the key is checked last) but must not survive.
    again = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("b"))
    assert again.replayed is True
    assert (again.status, again.body) == (first.status, first.body)
    assert list(Group.objects.values_list("name", flat=True)) == ["a"]
    assert IdempotencyRecord.objects.count() == 1


def test_same_key_with_another_payload_is_refused_and_changes_nothing():
    run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    with pytest.raises(DomainError) as raised:
        run_once(scope="t", key="k", payload={"n": 2}, run=lambda: _make_group("b"))
    assert raised.value.code == CoreError.IDEMPOTENCY_KEY_REUSED.code
    assert list(Group.objects.values_list("name", flat=True)) == ["a"]


def test_the_same_key_in_another_scope_is_another_request():
    run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    other = run_once(scope="u", key="k", payload={"n": 1}, run=lambda: _make_group("b"))
    assert other.replayed is False
    assert Group.objects.count() == 2


def test_a_failed_run_stores_nothing_and_a_retry_runs_again():
    def refuse() -> tuple[int, dict[str, Any]]:
        Group.objects.create(name="half-done")
        raise DomainError(CoreError.VALIDATION, {"field": "x"})

    with pytest.raises(DomainError):
        run_once(scope="t", key="k", payload={"n": 1}, run=refuse)
    assert not Group.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    retried = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    assert retried.replayed is False
    assert Group.objects.count() == 1


def test_a_retry_refused_by_the_work_itself_gets_the_first_answer():
    # e.g. a rating sent twice: the second run finds the appeal rated and refuses.
    first = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))

    def refuse() -> tuple[int, dict[str, Any]]:
        raise DomainError(CoreError.VALIDATION, {"field": "already"})

    again = run_once(scope="t", key="k", payload={"n": 1}, run=refuse)
    assert again.replayed is True
    assert again.body == first.body
    assert Group.objects.count() == 1


def test_a_retry_colliding_with_the_first_runs_rows_gets_the_first_answer():
    first = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    # The same unique name again: the database refuses the retry's insert.
    again = run_once(scope="t", key="k", payload={"n": 1}, run=lambda: _make_group("a"))
    assert again.replayed is True
    assert again.body == first.body
    assert Group.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 129])
def test_missing_or_overlong_key_is_a_validation_error(key: str):
    with pytest.raises(DomainError) as raised:
        run_once(scope="t", key=key, payload={}, run=lambda: _make_group("a"))
    assert raised.value.code == CoreError.VALIDATION.code
    assert not Group.objects.exists()
