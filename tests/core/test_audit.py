"""The audit log is a hash chain: any edit, insertion or deletion is detected."""

from __future__ import annotations

import pytest

from minsheng.core import audit
from minsheng.core.models import AuditRecord

pytestmark = pytest.mark.django_db


def _fill(n: int) -> list[AuditRecord]:
    return [
        audit.record(
            actor=None,
            action="test.write",
            target_type="thing",
            target_id=str(i),
            data={"n": i, "text": "民生"},
        )
        for i in range(n)
    ]


def test_intact_chain_verifies():
    records = _fill(5)
    assert list(audit.verify_chain()) == []
    assert records[1].prev_hash == records[0].hash


def test_edited_row_is_detected():
    records = _fill(5)
    AuditRecord.objects.filter(pk=records[2].pk).update(data={"n": 99, "text": "民生"})
    problems = list(audit.verify_chain())
    assert [p.record_id for p in problems] == [records[2].pk]


def test_deleted_row_is_detected():
    records = _fill(5)
    AuditRecord.objects.filter(pk=records[2].pk).delete()
    problems = list(audit.verify_chain())
    assert [p.record_id for p in problems] == [records[3].pk, None]


def test_deleted_tail_is_detected():
    records = _fill(3)
    AuditRecord.objects.filter(pk=records[-1].pk).delete()
    problems = list(audit.verify_chain())
    assert [p.problem for p in problems] == ["records are missing: the chain head expects more"]


def test_rehashed_forgery_still_breaks_the_next_link():
    records = _fill(4)
    forged = AuditRecord.objects.get(pk=records[1].pk)
    forged.action = "test.forged"
    forged.hash = audit.compute_hash(forged.prev_hash, forged)
    forged.save()
    problems = list(audit.verify_chain())
    assert [p.record_id for p in problems] == [records[2].pk]


def test_parallel_chains_verify_independently(monkeypatch):
    # given: records on three chains (as three concurrent writers would leave them)
    written = []
    for chain in (1, 2, 3, 2, 1, 3):
        monkeypatch.setattr(audit, "_chain", lambda c=chain: c)
        written.append(audit.record(actor=None, action="t", target_type="x", target_id=str(chain)))
    assert sorted({r.chain for r in written}) == [1, 2, 3]
    assert list(audit.verify_chain()) == []
    # when: a record is moved to another chain, both chains break
    AuditRecord.objects.filter(pk=written[1].pk).update(chain=3)
    problems = list(audit.verify_chain())
    assert {p.record_id for p in problems} >= {written[1].pk}
    assert any(p.problem.startswith("records are missing") for p in problems)
