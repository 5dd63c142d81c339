"""``minsheng manage refresh_rollups [--full]``: bring the daily rollups up to date now."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from minsheng.analytics.rollups import refresh_rollups


class Command(BaseCommand):
    help = "Recompute the daily rollups of every day touched since the last refresh."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--full", action="store_true", help="recompute every day (after a calendar change)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(done: int, total: int) -> None:
            print(f"\r  {done}/{total} days", end="", file=sys.stderr, flush=True)

        result = refresh_rollups(full=options["full"], progress=progress)
        if result.days:
            print(file=sys.stderr)
        self.stdout.write(
            f"{result.days} days recomputed from {result.events} events "
            f"(watermark {result.high_event_id}, {result.gaps} ids still awaited)"
        )
