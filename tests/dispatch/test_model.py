"""Training, storage and prediction of the category model, on small made-up data."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from minsheng.appeals.models import Category
from minsheng.core.errors import DomainError
from minsheng.dispatch import classifier, services
from tests.appeals.factories import closed, submitted
from tests.dispatch.factories import NOISE_TEXT, ROAD_TEXT, write_csv


def train_csv(tmp_path, per_label=None):
    path = write_csv(tmp_path / "train.csv", per_label or {"城乡建设": 15, "环境保护": 15})
    return services.train_model(rows=services.rows_from_csv(path), folds=3)


def test_training_and_prediction_round_trip(world, tmp_path, model_dir):
    # given a CSV of two categories named as the system's level-1 categories
    manifest = train_csv(tmp_path)

    # when the platform suggests categories for a road complaint in 东村
    suggestions = services.suggest(ROAD_TEXT, territory=world.village)

    # then the model file and its manifest are in the data directory, versioned
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        [classifier.MANIFEST_NAME, manifest["file"]]
    )
    assert manifest["file"] == f"dispatch-{manifest['version']}.joblib"
    assert manifest["labels"] == ["城乡建设", "环境保护"]
    assert manifest["rows"] == 30
    assert manifest["cv"]["folds"] == 3
    assert set(manifest["cv"]["per_class_f1"]) == {"城乡建设", "环境保护"}
    # and the top suggestion names the category (by name) and the catalogue's unit
    build = Category.objects.get(code="01")
    assert [s.label for s in suggestions] == ["城乡建设", "环境保护"]
    assert suggestions[0].category == build
    assert suggestions[0].unit == world.dept
    assert suggestions[1].unit is None
    assert services.suggest(NOISE_TEXT)[0].label == "环境保护"


def test_confidences_are_probabilities_most_likely_first(world, tmp_path):
    train_csv(tmp_path, {"城乡建设": 15, "环境保护": 15, "教育文体": 15})

    suggestions = services.suggest(ROAD_TEXT)

    confidences = [s.confidence for s in suggestions]
    assert len(suggestions) == 3
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 1 for c in confidences)
    assert sum(confidences) == pytest.approx(1, abs=0.001)
    assert suggestions[0].label == "城乡建设"
    assert suggestions[0].confidence > 0.5
    assert suggestions[2].category is None  # 教育文体 names no category of this system


def test_a_new_model_is_picked_up_without_restart(world, tmp_path):
    first = train_csv(tmp_path)
    assert services.model_status()["version"] == first["version"]

    second = train_csv(tmp_path, {"城乡建设": 16, "环境保护": 16})

    assert services.model_status()["version"] == second["version"]
    assert services.model_status()["rows"] == 32


def test_training_from_closed_appeals_uses_level_one_codes(world, tmp_path):
    # given closed appeals whose final categories are level-2 (道路) and level-2 (噪音)
    for number in range(11):
        closed(world, content=f"{ROAD_TEXT}，第{number}次")
        closed(world, content=f"{NOISE_TEXT}，第{number}次", category=world.noise)
    submitted(world, content="还没办结的不算")

    rows = services.rows_from_appeals()
    manifest = services.train_model(rows=rows, folds=2)

    assert rows.labels.count("01") == 11
    assert rows.labels.count("02") == 11
    assert len(rows.labels) == 22
    assert manifest["labels"] == ["01", "02"]
    top = services.suggest(ROAD_TEXT, territory=world.village)[0]
    assert (top.label, top.category.code, top.unit) == ("01", "01", world.dept)


def test_too_little_data_is_refused_and_the_old_model_kept(world, tmp_path, model_dir):
    old = train_csv(tmp_path)
    small = write_csv(tmp_path / "small.csv", {"城乡建设": 5, "环境保护": 5})

    with pytest.raises(DomainError) as refused:
        services.train_model(rows=services.rows_from_csv(small))

    assert refused.value.code == "too_little_data"
    assert refused.value.details["rows"] == 10
    assert services.model_status()["version"] == old["version"]
    assert len(list(model_dir.glob("dispatch-*.joblib"))) == 1


def test_a_single_category_is_refused(world, tmp_path, model_dir):
    one = write_csv(tmp_path / "one.csv", {"城乡建设": 30})

    with pytest.raises(DomainError) as refused:
        services.train_model(rows=services.rows_from_csv(one))

    assert refused.value.code == "single_category"
    assert not model_dir.exists()


def test_a_file_without_label_column_is_refused(world, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")

    with pytest.raises(DomainError) as refused:
        services.rows_from_csv(bad)

    assert refused.value.code == "bad_training_file"


def test_no_model_means_no_suggestions(world):
    assert services.suggest(ROAD_TEXT) == []
    status = services.model_status()
    assert (status["state"], status["code"]) == ("missing", "no_model")


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        ("model_bytes", "untrusted_model"),
        ("manifest_json", "corrupt_model"),
        ("sklearn_version", "incompatible_model"),
        ("format_version", "incompatible_model"),
        ("missing_file", "corrupt_model"),
        ("other_key", "untrusted_model"),
    ],
)
def test_a_damaged_model_is_not_loaded_and_says_why(
    world, tmp_path, model_dir, settings, damage, code
):
    manifest = train_csv(tmp_path)
    services.forget_model()
    model_file = model_dir / manifest["file"]
    manifest_file = model_dir / classifier.MANIFEST_NAME
    if damage == "model_bytes":
        model_file.write_bytes(model_file.read_bytes()[:-10] + b"0123456789")
    elif damage == "manifest_json":
        manifest_file.write_text("{not json", encoding="utf-8")
    elif damage == "missing_file":
        model_file.unlink()
    elif damage == "other_key":
        settings.SECRET_KEY = "another installation's key"
    else:
        field = "sklearn" if damage == "sklearn_version" else "format"
        manifest_file.write_text(
            json.dumps({**manifest, field: "0.1" if field == "sklearn" else 99}), encoding="utf-8"
        )

    suggestions = services.suggest(ROAD_TEXT)
    status = services.model_status()

    assert suggestions == []
    assert (status["state"], status["code"]) == ("error", code)
    assert status["message"]


def test_train_command_prints_progress_and_scores(world, tmp_path, capsys):
    path = write_csv(tmp_path / "train.csv", {"城乡建设": 15, "环境保护": 15})

    call_command("dispatch", "train", "--csv", str(path), "--folds", "3")

    out = capsys.readouterr().out
    assert "cross-validation fold 3/3" in out
    assert "cross-validated (3 folds): accuracy" in out
    assert "macro-F1" in out
    assert "城乡建设" in out
    assert services.model_status()["state"] == "ready"


def test_train_command_refuses_too_little_data_clearly(world, tmp_path):
    path = write_csv(tmp_path / "train.csv", {"城乡建设": 15, "环境保护": 15})

    with pytest.raises(CommandError) as refused:
        call_command("dispatch", "train", "--csv", str(path), "--min-rows", "100")

    assert "Only 30 labelled appeals; at least 100 are needed" in str(refused.value)
    assert services.model_status()["state"] == "missing"


def test_train_command_from_an_empty_system(world):
    with pytest.raises(CommandError) as refused:
        call_command("dispatch", "train")

    assert "Only 0 labelled appeals" in str(refused.value)
