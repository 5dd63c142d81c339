"""Auto-dispatch above a configured confidence: off by default, recorded as automatic."""

from __future__ import annotations

from django_tasks_db.models import DBTaskResult

from minsheng.appeals.choices import ActorKind, Status
from minsheng.appeals.models import AppealEvent
from minsheng.dispatch import services
from tests.appeals.factories import reload, submitted
from tests.dispatch.factories import ROAD_TEXT, write_csv


def train(tmp_path):
    path = write_csv(tmp_path / "train.csv", {"城乡建设": 15, "环境保护": 15})
    return services.train_model(rows=services.rows_from_csv(path), folds=3)


def queued() -> list[tuple[str, list]]:
    return list(DBTaskResult.objects.values_list("task_path", "args_kwargs__args"))


def test_off_by_default_nothing_is_queued(world, tmp_path, django_capture_on_commit_callbacks):
    train(tmp_path)

    with django_capture_on_commit_callbacks(execute=True):
        appeal = submitted(world, content=ROAD_TEXT, category=None)

    assert queued() == []
    assert services.auto_dispatch(appeal.pk) == "off"
    assert reload(appeal).status == Status.RECEIVED


def test_intake_queues_the_task_after_commit(
    world, tmp_path, settings, django_capture_on_commit_callbacks
):
    train(tmp_path)
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 0.6

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        appeal = submitted(world, content=ROAD_TEXT, category=None)
        assert queued() == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert queued() == [("minsheng.dispatch.tasks.auto_dispatch_appeal", [appeal.pk])]


def test_above_the_threshold_the_appeal_is_dispatched_automatically(world, tmp_path, settings):
    manifest = train(tmp_path)
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 0.6
    appeal = submitted(world, content=ROAD_TEXT, category=None, territory=world.village)
    confidence = services.suggest_for_appeal(appeal)[0].confidence
    assert confidence >= 0.6

    outcome = services.auto_dispatch(appeal.pk)

    after = reload(appeal)
    event = AppealEvent.objects.filter(appeal=appeal).last()
    assert outcome == "dispatched"
    assert (after.status, after.lead_unit, after.category.code) == (
        Status.DISPATCHED,
        world.dept,
        "01",
    )
    assert (event.action, event.actor, event.actor_kind, event.unit) == (
        "dispatch",
        None,
        ActorKind.SYSTEM,
        world.dept,
    )
    assert event.data == {
        "automatic": True,
        "confidence": confidence,
        "suggested_category": "城乡建设",
        "model_version": manifest["version"],
        "threshold": 0.6,
        "co_units": [],
    }
    # running it again (a retried task) changes nothing
    assert services.auto_dispatch(appeal.pk) == "not_waiting"
    assert AppealEvent.objects.filter(appeal=appeal).count() == 2


def test_below_the_threshold_the_appeal_waits_for_the_dispatcher(world, tmp_path, settings):
    train(tmp_path)
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 1.0
    appeal = submitted(world, content=ROAD_TEXT, category=None)

    outcome = services.auto_dispatch(appeal.pk)

    after = reload(appeal)
    assert outcome == "below_threshold"
    assert (after.status, after.lead_unit, after.category, after.version) == (
        Status.RECEIVED,
        None,
        None,
        appeal.version,
    )
    assert AppealEvent.objects.filter(appeal=appeal).count() == 1


def test_a_category_chosen_at_intake_wins_over_a_disagreeing_model(world, tmp_path, settings):
    train(tmp_path)
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 0.5
    appeal = submitted(world, content=ROAD_TEXT, category=world.noise)

    outcome = services.auto_dispatch(appeal.pk)

    assert outcome == "disagrees_with_intake"
    assert reload(appeal).status == Status.RECEIVED


def test_an_agreeing_intake_category_is_kept(world, tmp_path, settings):
    train(tmp_path)
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 0.5
    appeal = submitted(world, content=ROAD_TEXT, category=world.road, territory=world.village)

    outcome = services.auto_dispatch(appeal.pk)

    after = reload(appeal)
    assert outcome == "dispatched"
    # 道路 in 和兴镇 goes to the township by the catalogue, and the finer category stays
    assert (after.category, after.lead_unit) == (world.road, world.town)


def test_without_a_model_nothing_happens(world, settings):
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = 0.5
    appeal = submitted(world, content=ROAD_TEXT, category=None)

    assert services.auto_dispatch(appeal.pk) == "no_model"
    assert reload(appeal).status == Status.RECEIVED
