"""Write the OpenAPI document, or check that the committed one matches the code (CI drift)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation


def current_document() -> str:
    from minsheng.api import api

    # English descriptions, whatever the server's language, so the file diffs stably.
    with translation.override("en"):
        schema = api.get_openapi_schema(path_prefix="/api")
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Export the OpenAPI document (--output FILE) or check it for drift (--check FILE)."

    def add_arguments(self, parser: Any) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--output", type=Path)
        group.add_argument("--check", type=Path)

    def handle(self, *args: Any, output: Path | None, check: Path | None, **options: Any) -> None:
        document = current_document()
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(document, encoding="utf-8")
            self.stdout.write(f"wrote {output}")
            return
        if check is None:  # argparse's required group guarantees one of the two
            raise CommandError("--output or --check is required")
        committed = check.read_text(encoding="utf-8") if check.exists() else ""
        if committed != document:
            diff = "".join(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    document.splitlines(keepends=True),
                    fromfile=str(check),
                    tofile="generated",
                    n=2,
                )
            )
            raise CommandError(
                f"OpenAPI drift: {check} differs from the code. Run `make openapi`.\n{diff[:6000]}"
            )
        self.stdout.write("OpenAPI document is up to date")
