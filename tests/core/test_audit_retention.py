"""Retention of the audit log: old records may go after the keep period, the chain still holds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core import checks
from django.utils import timezone

from minsheng import cli
from minsheng.core import audit
from minsheng.core.checks import check_audit_retention
from minsheng.core.models import AuditCheckpoint, AuditHead, AuditRecord

pytestmark = pytest.mark.django_db

SHANGHAI_TODAY = timezone.now().astimezone(audit._LOCAL).date()


def _write(n: int, *, days_ago: int, chain: int | None = None, monkeypatch=None) -> list:
    """``n`` records written ``days_ago`` days ago (on ``chain`` if given)."""
    when = timezone.now() - timedelta(days=days_ago)
    with monkeypatch.context() as patch:
        patch.setattr(audit, "timezone", SimpleNamespace(now=lambda: when))
        if chain is not None:
            patch.setattr(audit, "_chain", lambda: chain)
        return [
            audit.record(actor=None, action="test.old", target_type="t", target_id=str(i))
            for i in range(n)
        ]


def _cut() -> date:
    return SHANGHAI_TODAY - timedelta(days=365)


def test_a_purge_inside_the_keep_period_is_refused_and_deletes_nothing(monkeypatch):
    _write(3, days_ago=400, monkeypatch=monkeypatch)
    before = list(AuditRecord.objects.values_list("pk", "hash"))

    with pytest.raises(audit.PurgeRefused, match="inside the keep period of 365 days"):
        audit.purge(before=_cut() + timedelta(days=1))

    assert list(AuditRecord.objects.values_list("pk", "hash")) == before
    assert not AuditCheckpoint.objects.exists()


def test_a_purge_deletes_only_old_records_and_the_chain_still_verifies(monkeypatch):
    old = _write(4, days_ago=400, chain=1, monkeypatch=monkeypatch)
    other_old = _write(2, days_ago=380, chain=2, monkeypatch=monkeypatch)
    young = _write(3, days_ago=100, chain=1, monkeypatch=monkeypatch)

    result = audit.purge(before=_cut())

    assert (result.deleted, result.chains) == (6, {1: 4, 2: 2})
    kept = set(AuditRecord.objects.values_list("pk", flat=True))
    assert kept.isdisjoint({r.pk for r in old + other_old})
    assert {r.pk for r in young} <= kept
    checkpoint = AuditCheckpoint.objects.get(pk=1)
    assert (checkpoint.last_id, checkpoint.last_hash, checkpoint.count, checkpoint.before) == (
        old[-1].pk,
        old[-1].hash,
        4,
        _cut(),
    )
    record = AuditRecord.objects.get(action="audit.purge")
    assert record.data["deleted"] == 6
    assert record.data["checkpoints"]["2"] == {
        "last_id": other_old[-1].pk,
        "last_hash": other_old[-1].hash,
        "count": 2,
    }
    assert list(audit.verify_chain()) == []


def test_a_chain_of_only_old_records_is_cut_entirely_and_still_verifies(monkeypatch):
    _write(3, days_ago=500, chain=4, monkeypatch=monkeypatch)
    audit.purge(before=_cut())
    assert not AuditRecord.objects.filter(chain=4).exists()
    assert AuditHead.objects.get(pk=4).count == 3
    assert list(audit.verify_chain()) == []


def test_purges_add_up_and_a_purge_with_nothing_due_changes_no_checkpoint(monkeypatch):
    monkeypatch.setattr(audit, "_chain", lambda: 9)  # the purges' own records: another chain
    _write(2, days_ago=700, chain=1, monkeypatch=monkeypatch)
    audit.purge(before=SHANGHAI_TODAY - timedelta(days=600))
    assert AuditCheckpoint.objects.get(pk=1).count == 2
    second = _write(3, days_ago=500, chain=1, monkeypatch=monkeypatch)

    audit.purge(before=_cut())
    audit.purge(before=_cut())  # nothing due any more

    checkpoint = AuditCheckpoint.objects.get(pk=1)
    assert (checkpoint.count, checkpoint.last_id) == (5, second[-1].pk)
    assert AuditRecord.objects.filter(action="audit.purge").count() == 3
    assert list(audit.verify_chain()) == []


def test_a_chain_keeps_everything_after_its_first_young_record(monkeypatch):
    # given: an old record appended after a young one (its time was taken before the lock)
    young = _write(1, days_ago=10, chain=1, monkeypatch=monkeypatch)
    late_old = _write(1, days_ago=400, chain=1, monkeypatch=monkeypatch)

    result = audit.purge(before=_cut())

    assert result.chains == {}
    assert set(AuditRecord.objects.filter(chain=1).values_list("pk", flat=True)) >= {
        young[0].pk,
        late_old[0].pk,
    }
    assert list(audit.verify_chain()) == []


def _purged(monkeypatch) -> list:
    _write(3, days_ago=400, chain=1, monkeypatch=monkeypatch)
    kept = _write(3, days_ago=10, chain=1, monkeypatch=monkeypatch)
    audit.purge(before=_cut())
    assert list(audit.verify_chain()) == []
    return kept


def test_after_a_purge_an_edited_record_is_still_detected(monkeypatch):
    kept = _purged(monkeypatch)
    AuditRecord.objects.filter(pk=kept[1].pk).update(data={"forged": True})
    assert [p.record_id for p in audit.verify_chain()] == [kept[1].pk]


def test_after_a_purge_deleting_the_first_kept_record_is_detected(monkeypatch):
    kept = _purged(monkeypatch)
    AuditRecord.objects.filter(pk=kept[0].pk).delete()
    problems = list(audit.verify_chain())
    assert [p.record_id for p in problems] == [kept[1].pk, None]


def test_a_forged_checkpoint_is_detected(monkeypatch):
    kept = _purged(monkeypatch)
    # given: someone deletes a kept record and moves the checkpoint over it to hide that
    AuditRecord.objects.filter(pk=kept[0].pk).delete()
    AuditCheckpoint.objects.filter(pk=1).update(last_id=kept[0].pk, last_hash=kept[0].hash, count=4)

    problems = list(audit.verify_chain())

    purge_record = AuditRecord.objects.get(action="audit.purge")
    assert [(p.record_id, p.problem) for p in problems] == [
        (purge_record.pk, "purge checkpoints differ from the latest purge record")
    ]


def test_a_deleted_checkpoint_is_detected(monkeypatch):
    kept = _purged(monkeypatch)
    AuditCheckpoint.objects.all().delete()
    problems = list(audit.verify_chain())
    assert kept[0].pk in [p.record_id for p in problems]
    assert any(
        p.problem == "purge checkpoints differ from the latest purge record" for p in problems
    )


def test_a_checkpoint_without_a_purge_record_is_detected(monkeypatch):
    _purged(monkeypatch)
    AuditRecord.objects.filter(action="audit.purge").update(action="test.hidden")
    assert any(
        p.problem == "purge checkpoints exist but no purge record confirms them"
        for p in audit.verify_chain()
    )


def test_a_record_put_back_before_the_checkpoint_is_detected(monkeypatch):
    kept = _purged(monkeypatch)
    checkpoint = AuditCheckpoint.objects.get(pk=1)
    clone = AuditRecord.objects.get(pk=kept[0].pk)
    clone.pk = checkpoint.last_id
    clone.hash = "f" * 64
    clone.save(force_insert=True)
    problems = list(audit.verify_chain())
    assert (checkpoint.last_id, "record lies before the chain's purge checkpoint") in [
        (p.record_id, p.problem) for p in problems
    ]


def test_the_keep_period_may_not_be_set_below_180_days(settings, monkeypatch):
    settings.MINSHENG_AUDIT_KEEP_DAYS = 179
    messages = check_audit_retention()
    assert [(m.id, m.level) for m in messages] == [("minsheng.core.E001", checks.ERROR)]
    _write(2, days_ago=1000, monkeypatch=monkeypatch)
    with pytest.raises(audit.PurgeRefused):
        audit.purge(before=SHANGHAI_TODAY - timedelta(days=900))
    assert AuditRecord.objects.filter(action="test.old").count() == 2
    settings.MINSHENG_AUDIT_KEEP_DAYS = 180
    assert check_audit_retention() == []


def test_the_default_keep_period_is_a_year(settings):
    from minsheng import settings as project_settings

    assert project_settings.MINSHENG_AUDIT_KEEP_DAYS == 365


# --- the command ---------------------------------------------------------------------------------


def test_audit_purge_command_refuses_inside_the_keep_period(monkeypatch, capsys):
    _write(2, days_ago=400, monkeypatch=monkeypatch)
    too_late = (SHANGHAI_TODAY - timedelta(days=10)).isoformat()

    assert cli.main(["audit", "purge", "--before", too_late]) == 2

    assert "inside the keep period" in capsys.readouterr().err
    assert AuditRecord.objects.filter(action="test.old").count() == 2


def test_audit_purge_command_then_verify(monkeypatch, capsys):
    _write(2, days_ago=400, chain=1, monkeypatch=monkeypatch)
    _write(1, days_ago=1, chain=1, monkeypatch=monkeypatch)

    assert cli.main(["audit", "purge", "--before", _cut().isoformat()]) == 0
    assert cli.main(["audit", "verify"]) == 0

    out = capsys.readouterr().out
    assert f"audit purge: 2 records before {_cut()} deleted (chain 1: 2)" in out
    assert "audit chain OK" in out


def test_audit_purge_command_needs_a_real_date(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["audit", "purge", "--before", "2025-13-01"])
    assert exited.value.code == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_purge_cut_is_shanghai_midnight(monkeypatch):
    # given: one record just before and one just after midnight of the cut day, Shanghai time
    cut = _cut()
    midnight = datetime.combine(cut, datetime.min.time(), tzinfo=audit._LOCAL)
    for when in (midnight - timedelta(seconds=1), midnight):
        with monkeypatch.context() as patch:
            patch.setattr(audit, "timezone", SimpleNamespace(now=lambda w=when: w))
            patch.setattr(audit, "_chain", lambda: 1)
            audit.record(actor=None, action="test.edge", target_type="t", target_id="x")

    audit.purge(before=cut)

    assert [r.at for r in AuditRecord.objects.filter(action="test.edge")] == [midnight]
