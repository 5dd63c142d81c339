"""``minsheng dispatch train [--csv FILE] [--min-rows N]`` and ``minsheng dispatch status``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minsheng.core.errors import DomainError
from minsheng.dispatch import classifier, services


class Command(BaseCommand):
    help = (
        "Smart dispatch (智能派单): train the category model from the closed appeals (or a "
        "CSV file with label and text columns), or show the current model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        train = actions.add_parser(
            "train",
            help="train a new model version; prints progress and cross-validated scores",
        )
        train.add_argument(
            "--csv",
            type=Path,
            help="train from this CSV file instead of the closed appeals "
            "(columns: label, text — or label, subject, detail)",
        )
        train.add_argument(
            "--min-rows",
            type=int,
            default=classifier.MIN_ROWS,
            help=f"refuse to train on fewer rows (default {classifier.MIN_ROWS})",
        )
        train.add_argument(
            "--folds", type=int, default=5, help="cross-validation folds (default 5)"
        )
        actions.add_parser("status", help="show the model in use and its scores")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self._status()
        else:
            self._train(options)

    def _say(self, message: str) -> None:
        self.stdout.write(f"[{time.perf_counter() - self._started:6.1f}s] {message}")
        self.stdout.flush()

    def _train(self, options: dict[str, Any]) -> None:
        self._started = time.perf_counter()
        if options["min_rows"] < 2:
            raise CommandError("--min-rows must be at least 2")
        if options["folds"] < 2:
            raise CommandError("--folds must be at least 2")
        try:
            if options["csv"] is not None:
                self._say(f"reading {options['csv']}")
                rows = services.rows_from_csv(options["csv"])
            else:
                self._say("reading closed appeals (category as finally given, level 1)")
                rows = services.rows_from_appeals()
            manifest = services.train_model(
                rows=rows,
                min_rows=options["min_rows"],
                folds=options["folds"],
                progress=self._say,
            )
        except DomainError as exc:
            detail = exc.details.get("detail", "")
            raise CommandError(f"{exc.error.message} {detail}".strip()) from None
        cv = manifest["cv"]
        self._say(f"saved model {manifest['version']} ({manifest['bytes'] / 1e6:.1f} MB)")
        self.stdout.write(
            f"cross-validated ({cv['folds']} folds): accuracy {cv['accuracy']:.3f}, "
            f"macro-F1 {cv['macro_f1']:.3f}"
        )
        for label, score in cv["per_class_f1"].items():
            self.stdout.write(
                f"  {label:<20} F1 {score:.3f}  ({manifest['per_category'][label]} rows)"
            )

    def _status(self) -> None:
        status = services.model_status()
        if status["state"] != "ready":
            self.stdout.write(f"{status['message']} ({status['code']}: {status['detail']})")
            return
        cv = status.get("cv") or {}
        self.stdout.write(
            f"model {status['version']}, trained {status['trained_at']} on {status['rows']} rows; "
            f"cross-validated macro-F1 {cv.get('macro_f1')}, accuracy {cv.get('accuracy')}"
        )
