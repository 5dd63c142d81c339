"""bench/generate.py writes appeals as the service functions would have: a generated sample obeys
the lifecycle invariants and each copy is its template with its own ids and codes."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet, Sum

from minsheng.analytics.models import DailyRollup
from minsheng.analytics.rollups import refresh_rollups
from minsheng.appeals import selectors, workflow
from minsheng.appeals.choices import Action
from minsheng.appeals.models import Appeal, AppealAssignment, AppealEvent, ExtensionRequest
from minsheng.core.audit import verify_chain
from minsheng.core.models import AuditRecord
from minsheng.notify.models import Notification
from minsheng.supervision.models import DeadlineWarning, Escalation, SupervisionOrder

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parent.parent / "bench" / "generate.py"
COMPARED = [
    "channel",
    "appeal_type",
    "urgency",
    "category_id",
    "territory_id",
    "lead_unit_id",
    "intake_by_id",
    "title",
    "content",
    "status",
    "created_at",
    "dispatched_at",
    "accept_due_at",
    "due_at",
    "closed_at",
    "closed_on_time",
    "rating",
    "solved",
    "reopen_count",
    "return_count",
    "version",
]
EVENT_FIELDS = ["at", "action", "from_status", "to_status", "unit_id", "actor_id", "due_at"]
# The templates' year: fixed, so the sample's late appeals (and their supervision) are too.
END = datetime(2026, 6, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
WARNING_FIELDS = ["deadline_kind", "level", "deadline", "raised_at", "cleared_at"]
ORDER_FIELDS = [
    "unit_id",
    "automatic",
    "issued_at",
    "reason",
    "deadline",
    "response_due_at",
    "responded_at",
    "responded_by_id",
    "response",
]
NOTIFICATION_FIELDS = ["recipient_id", "kind", "title", "body", "created_at"]


def _generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_generate"] = module
    spec.loader.exec_module(module)
    return module


def _history_replays(appeal: Appeal, events: list[AppealEvent]) -> None:
    assert events[0].action == Action.SUBMIT
    status = ""
    for event in events:
        assert event.from_status == status
        if event.action != Action.SUBMIT:
            assert workflow.can_start(Action(event.action), status), (appeal.pk, event.action)
        assert event.due_at is None or event.due_at >= appeal.created_at
        status = event.to_status
    assert appeal.status == status
    assert appeal.version == len(events)


def test_generated_sample_obeys_the_invariants_and_copies_its_templates():
    generate = _generate()
    # given / when: 60 appeals through the services, then copies up to 200, in two runs (the
    # second resumes where the first stopped), batches that end mid-block
    first = generate.generate(130, templates=60, batch=17, say=lambda _: None, end=END)
    second = generate.generate(200, templates=60, batch=17, say=lambda _: None, end=END)
    templates = first["templates"]
    assert templates >= 60  # the demo's year adds the duplicates it merges
    assert second["resumed_at"] == 130
    assert Appeal.objects.count() == 200

    # then: every history replays to its appeal's state by allowed moves
    events: dict[int, list[AppealEvent]] = {}
    for event in AppealEvent.objects.order_by("at", "pk"):
        events.setdefault(event.appeal_id, []).append(event)
    appeals = {a.pk: a for a in Appeal.objects.all()}
    for pk, appeal in appeals.items():
        _history_replays(appeal, events[pk])
    # one audit record per event, and every chain (the copies' one included) verifies
    assert list(verify_chain()) == []
    assert AuditRecord.objects.filter(action__startswith="appeal.").count() == len(
        AppealEvent.objects.all()
    )
    # each copy is its template: same fields and history; own ids, code and phone
    ordered = sorted(appeals)
    template_ids, copy_ids = ordered[:templates], ordered[templates:]
    codes = {a.tracking_code for a in appeals.values()}
    assert len(codes) == 200
    for number, copy_id in enumerate(copy_ids):
        block, rank = divmod(number, templates)
        template, copy = appeals[template_ids[rank]], appeals[copy_id]
        assert [getattr(copy, f) for f in COMPARED] == [getattr(template, f) for f in COMPARED]
        assert copy.tracking_code == generate.tracking_code(number)
        if template.merged_into_id is not None:
            target_rank = template_ids.index(template.merged_into_id)
            assert copy.merged_into_id == copy_ids[block * templates + target_rank]
        copied = [[getattr(e, f) for f in EVENT_FIELDS] for e in events[copy_id]]
        original = [[getattr(e, f) for f in EVENT_FIELDS] for e in events[template.pk]]
        assert copied == original
        for event in events[copy_id]:
            if "request" in event.data:
                assert ExtensionRequest.objects.get(pk=event.data["request"]).appeal_id == copy_id
            if "into" in event.data:
                assert event.data["into"] == copy.merged_into_id
                assert event.data["into_code"] == appeals[copy.merged_into_id].tracking_code
        assert AppealAssignment.objects.filter(appeal_id=copy_id).count() == (
            AppealAssignment.objects.filter(appeal_id=template.pk).count()
        )
        of_appeals = AuditRecord.objects.filter(target_type="appeals.appeal").order_by("pk")
        audited = of_appeals.filter(target_id=str(copy_id))
        audited_template = of_appeals.filter(target_id=str(template.pk))
        assert [(r.action, r.actor_id) for r in audited] == [
            (r.action, r.actor_id) for r in audited_template
        ]
        assert sorted(r.data["event"] for r in audited if "event" in r.data) == sorted(
            e.pk for e in events[copy_id]
        )
        _same_supervision(copy_id, template.pk, events[copy_id])
    # the sample ran late somewhere: the sweep's rows were copied, not just absent
    assert DeadlineWarning.objects.filter(appeal_id__in=copy_ids).exists()
    assert SupervisionOrder.objects.filter(appeal_id__in=copy_ids).exists()
    assert SupervisionOrder.objects.filter(
        appeal_id__in=copy_ids, responded_at__isnull=False
    ).exists()
    assert Notification.objects.filter(appeal_id__in=copy_ids).exists()
    # a copy is found by its tracking code and phone, as a citizen would look it up
    some = appeals[copy_ids[-1]]
    assert selectors.by_tracking(some.tracking_code, some.citizen_phone).pk == some.pk
    # the worker's full refresh counts every appeal once
    refresh_rollups(full=True)
    counted = DailyRollup.objects.aggregate(r=Sum("received"), i=Sum("invalid"), m=Sum("merged"))
    assert sum(counted.values()) == 200


def _fields(rows: QuerySet, names: list[str]) -> list[list[object]]:
    return [[getattr(row, name) for name in names] for row in rows.order_by("pk")]


def _same_supervision(copy_id: int, template_id: int, copy_events: list[AppealEvent]) -> None:
    """A copy's warnings, orders, escalation and notifications are its template's, and every
    reference among them (event data, an escalation's order, a notification's key) stays
    within the copy."""
    for model, names in (
        (DeadlineWarning, WARNING_FIELDS),
        (SupervisionOrder, ORDER_FIELDS),
        (Notification, NOTIFICATION_FIELDS),
    ):
        assert _fields(model.objects.filter(appeal_id=copy_id), names) == _fields(
            model.objects.filter(appeal_id=template_id), names
        )
    warnings = set(DeadlineWarning.objects.filter(appeal_id=copy_id).values_list("pk", flat=True))
    orders = set(SupervisionOrder.objects.filter(appeal_id=copy_id).values_list("pk", flat=True))
    escalation = Escalation.objects.filter(appeal_id=copy_id).first()
    template_escalation = Escalation.objects.filter(appeal_id=template_id).first()
    assert (escalation is None) == (template_escalation is None)
    if escalation is not None:
        assert escalation.cause == template_escalation.cause
        assert escalation.order_id is None or escalation.order_id in orders
    for event in copy_events:
        assert event.data.get("warning") is None or event.data["warning"] in warnings
        assert event.data.get("order") is None or event.data["order"] in orders
    rows = {"warning": warnings, "order": orders, "escalation": {getattr(escalation, "pk", None)}}
    for key in Notification.objects.filter(appeal_id=copy_id).values_list("key", flat=True):
        table, _, number = key.partition(":")
        assert int(number) in rows[table], key


def _schema(tables: list[str]) -> set[tuple[str, ...]]:
    """Indexes and constraints by name and definition (a partial index's predicate is compared
    by whether it has one: PostgreSQL deparses ``IN (…)`` differently once rebuilt)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [tables]
        )
        indexes = {(name, *definition.partition(" WHERE ")[:2]) for name, definition in cursor}
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[])",
            [tables],
        )
        return indexes | set(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's bulk path")
def test_indexes_dropped_for_the_copies_come_back_and_check_what_was_written():
    generate = _generate()
    tables = [m._meta.db_table for m in generate._models().values()]
    before = _schema(tables)
    assert ("UNIQUE (tracking_code)",) in {tuple(d[1:]) for d in before}
    assert any("USING gin" in d[1] for d in before)
    # when: a run defers them, copies, and builds them back
    figures = generate.generate(90, templates=40, batch=25, say=lambda _: None)
    # then: the same indexes and constraints, by name and definition
    assert figures["appeals"] == 90
    assert _schema(tables) == before
    assert generate._meta_get("deferred") is None
    # and they work: a duplicate tracking code is refused again
    with pytest.raises(IntegrityError), transaction.atomic():
        Appeal.objects.filter(pk=Appeal.objects.order_by("pk")[1].pk).update(
            tracking_code=Appeal.objects.order_by("pk")[0].tracking_code
        )


def test_generator_refuses_a_database_holding_other_appeals(world):
    from tests.appeals.factories import submitted

    generate = _generate()
    submitted(world)
    with pytest.raises(generate.GenerateError, match="did not write"):
        generate.generate(50, templates=10, say=lambda _: None)
    assert Appeal.objects.count() == 1
