"""``minsheng manage report --year 2026 [--quarter 1] --output report.docx``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minsheng.analytics.report import build_report
from minsheng.core.errors import DomainError


def progress_bar(done: int, total: int) -> None:
    """A plain progress bar on stderr: [#####-----] 3/6."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


class Command(BaseCommand):
    help = "Write the annual (or quarterly) report as a .docx file."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--quarter", type=int, choices=[1, 2, 3, 4])
        parser.add_argument("--output", required=True, help="path of the .docx file to write")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            totals = build_report(
                options["year"],
                options["quarter"],
                output=options["output"],
                progress=None if options["quiet"] else progress_bar,
            )
        except DomainError as error:
            raise CommandError(str(error.error.message)) from error
        self.stdout.write(
            f"{options['output']}: {totals.received} received, {totals.closed} closed"
        )
