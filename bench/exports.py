"""Export memory: the queue's xlsx export of N appeals keeps memory flat (issue 4).

Target: peak memory of the export does not grow with the number of rows (1,000,000 appeals):
openpyxl's write-only mode writes rows to a temporary file as they come, and the console's
queue selector is read in keyset chunks of ``exports.CHUNK`` appeals.

What one run does:

1. Data. Uses its own PostgreSQL database (``minsheng_bench_exports``; ``--database-url``). If it
   holds fewer than ``--appeals`` appeals it loads the demo organisation and inserts synthetic
   appeals with ``bulk_create`` (no events: the export reads appeals only, and replaying a
   million appeals through the services would take hours). ``--fresh`` rebuilds it.
2. Measure, in this process, for a city dispatcher: the export of the whole queue, then of
   ``--steps`` smaller ranges (``--appeals`` × 1/8, 1/4, 1/2, 1), each into a temporary file:
   rows, seconds, file size, peak Python allocations (``tracemalloc``) and the growth of the
   process's maximum resident set. Flat means the peak is the same at every size.
3. Prints a table; ``--record`` writes it to the "## Exports (issue 4)" section of
   ``bench/RESULTS.md``.

Run with the project's virtualenv::

    .venv/bin/python bench/exports.py --appeals 1000000          # loads once, then measures
    .venv/bin/python bench/exports.py --appeals 100000 --record

It contacts only PostgreSQL at ``--database-url`` (default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minsheng_bench_exports"


def _setup(url: str) -> None:
    os.environ["MINSHENG_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minsheng.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def _ensure_database(url: str, fresh: bool) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _load(appeals: int) -> None:
    from django.core.management import call_command

    from minsheng.appeals.demo import load_reference_data
    from minsheng.appeals.models import Appeal, Category
    from minsheng.org.demo import load_demo_org
    from minsheng.org.models import OrgUnit

    call_command("migrate", verbosity=0)
    have = Appeal.objects.count()
    if have >= appeals:
        return
    org = load_demo_org() if not OrgUnit.objects.exists() else None
    if org is not None:
        load_reference_data(org)
    units = list(OrgUnit.objects.filter(depth__gte=1))
    places = [u for u in units if u.is_territorial]
    categories = list(Category.objects.filter(parent__isnull=False))
    rng = random.Random(2026)
    start = datetime.now(UTC) - timedelta(days=365)
    statuses = ["closed"] * 8 + ["in_progress", "dispatched", "received"]
    batch = []
    for i in range(have, appeals):
        created = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
        status = rng.choice(statuses)
        batch.append(
            Appeal(
                tracking_code=f"B{i:09d}",
                channel=rng.choice(["hotline", "mini_program", "web_portal", "walk_in"]),
                appeal_type=rng.choice(["complaint", "help", "consultation"]),
                category=rng.choice(categories),
                territory=rng.choice(places),
                lead_unit=rng.choice(units),
                title=f"基准诉求 {i}",
                content="道路破损，请尽快修复。" * 5,
                citizen_phone=f"139{rng.randrange(10**8):08d}",
                status=status,
                created_at=created,
                due_at=created + timedelta(days=7),
                closed_at=created + timedelta(days=3) if status == "closed" else None,
                closed_on_time=True if status == "closed" else None,
            )
        )
        if len(batch) == 10_000:
            Appeal.objects.bulk_create(batch)
            batch = []
            print(f"  {i + 1}/{appeals} appeals", file=sys.stderr, flush=True)
    Appeal.objects.bulk_create(batch)


def _measure(rows_wanted: int, total: int) -> dict[str, float]:
    from minsheng.analytics import exports
    from minsheng.appeals.models import Appeal
    from minsheng.appeals.selectors import QueueFilter
    from minsheng.org.models import User

    user = User.objects.filter(memberships__role="dispatcher", memberships__unit__depth=0).first()
    if user is None:
        raise SystemExit("no city dispatcher: load the demo organisation first")
    filters = QueueFilter()
    if rows_wanted < total:
        # The newest ``rows_wanted`` appeals: a received-from date that cuts there.
        cut = Appeal.objects.order_by("-created_at").values_list("created_at", flat=True)[
            rows_wanted - 1
        ]
        filters = QueueFilter(received_from=cut)
    tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        workbook = exports.queue_workbook(user, filters)
        workbook.save(out)
        size = out.tell()
    seconds = time.perf_counter() - began
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows_wanted,
        "seconds": seconds,
        "megabytes": size / 1e6,
        "peak_python_mb": peak / 1e6,
        "rss_growth_mb": (rss_after - rss_before) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appeals", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    _ensure_database(args.database_url, args.fresh)
    _setup(args.database_url)
    _load(args.appeals)
    results = [_measure(max(1, args.appeals * part // 8), args.appeals) for part in (1, 2, 4, 8)]
    header = "| rows | seconds | file MB | peak Python MB | max RSS growth MB |"
    lines = [header, "|---:|---:|---:|---:|---:|"] + [
        f"| {r['rows']:,} | {r['seconds']:.1f} | {r['megabytes']:.1f} | "
        f"{r['peak_python_mb']:.1f} | {r['rss_growth_mb']:.1f} |"
        for r in results
    ]
    print("\n".join(lines))
    if args.record:
        path = ROOT / "bench" / "RESULTS.md"
        text = path.read_text(encoding="utf-8")
        section = "## Exports (issue 4)\n\n" + "\n".join(lines) + "\n"
        if "## Exports (issue 4)" in text:
            head, _sep, rest = text.partition("## Exports (issue 4)")
            tail = rest.split("\n## ", 1)
            text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
