"""``minsheng manage sweep_deadlines``: run one deadline sweep now and print what it did."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from minsheng.supervision import services


class Command(BaseCommand):
    help = "Raise due deadline warnings, reminders, supervision orders and escalations once."

    def handle(self, *args: Any, **options: Any) -> None:
        report = services.sweep()
        self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
