"""Exports (issue 4): the background job's queue export at 1/8 … 1 of N appeals, and its memory.

Target: a 1,000,000-row queue export in a few minutes, memory flat (the same at every size).
The queue is read in keyset chunks of ``exports.CHUNK`` appeals as plain rows and written by
XlsxWriter in ``constant_memory`` mode (each row spooled to disk as the next starts), so nothing
grows with the row count.

What one run does:

1. Data. Uses its own PostgreSQL database (``minsheng_bench_exports``; ``--database-url``). If it
   holds fewer than ``--appeals`` appeals it loads the demo organisation and inserts synthetic
   appeals with ``bulk_create`` (no events: the export reads appeals only, and replaying a
   million appeals through the services would take hours). ``--fresh`` rebuilds it.
2. Speed, in this process, for a city dispatcher: ``export_jobs.run_job`` (what ``minsheng
   worker`` runs) on a job for the newest ``--appeals`` × 1/8, 1/4, 1/2 and all of it, writing
   its file under a temporary data directory: rows, seconds, rows per second (and per second
   of this process's CPU time, which a busy machine disturbs less), file size, and the growth
   of the process's maximum resident set since before the first export (flat: the same after
   the largest run as after the smallest).
3. Python allocations: ``tracemalloc`` slows Python code about tenfold, so its peak is measured
   in separate runs of ``--trace-rows`` × 1/4, 1/2 and 1 (default 40,000): a peak that does not
   grow with the rows is flat at any size.
4. Prints both tables; ``--record`` writes them to the "## Exports (issue 4)" section of
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


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(rows_wanted: int, total: int, data_dir: Path) -> tuple[int, float, float, int]:
    """One background export of the newest ``rows_wanted`` appeals: rows, seconds, this
    process's CPU seconds, bytes."""
    from django.conf import settings
    from django.utils import timezone

    from minsheng.analytics import export_jobs
    from minsheng.analytics.models import ExportJob, ExportStatus
    from minsheng.appeals.models import Appeal
    from minsheng.appeals.selectors import QueueFilter
    from minsheng.org.models import User

    user = User.objects.filter(memberships__role="dispatcher", memberships__unit__depth=0).first()
    if user is None:
        raise SystemExit("no city dispatcher: load the demo organisation first")
    filters = QueueFilter()
    if rows_wanted < total:
        # The newest ``rows_wanted`` appeals: a received-from time that cuts there.
        cut = Appeal.objects.order_by("-created_at").values_list("created_at", flat=True)[
            rows_wanted - 1
        ]
        filters = QueueFilter(received_from=cut)
    settings.DATA_DIR = data_dir
    now = timezone.now()
    # Created running, as ``claim_next`` leaves it: the measurement never takes a queued job.
    job = ExportJob.objects.create(
        owner=user,
        filters=export_jobs.filters_to_json(filters),
        status=ExportStatus.RUNNING,
        created_at=now,
        started_at=now,
    )
    began, cpu = time.perf_counter(), time.process_time()
    export_jobs.run_job(job)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if job.status != ExportStatus.DONE:
        raise SystemExit(f"export failed: {job.error}")
    path = data_dir / job.file
    size = path.stat().st_size
    path.unlink()
    job.delete()
    return job.row_count or 0, seconds, cpu, size


def _speed(parts: list[int], total: int, data_dir: Path) -> list[dict[str, float]]:
    results = []
    rss_before = _rss_mb()
    for rows_wanted in parts:
        rows, seconds, cpu, size = _export(rows_wanted, total, data_dir)
        results.append(
            {
                "rows": rows,
                "seconds": seconds,
                "rows_per_second": rows / seconds if seconds else 0.0,
                "rows_per_cpu_second": rows / cpu if cpu else 0.0,
                "megabytes": size / 1e6,
                "rss_growth_mb": _rss_mb() - rss_before,
            }
        )
        print(f"  {rows:,} rows in {seconds:.1f} s", file=sys.stderr, flush=True)
    return results


def _python_peaks(parts: list[int], total: int, data_dir: Path) -> list[dict[str, float]]:
    results = []
    for rows_wanted in parts:
        tracemalloc.start()
        rows, _seconds, _cpu, _size = _export(rows_wanted, total, data_dir)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append({"rows": rows, "peak_python_mb": peak / 1e6})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appeals", type=int, default=1_000_000)
    parser.add_argument("--trace-rows", type=int, default=40_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    _ensure_database(args.database_url, args.fresh)
    _setup(args.database_url)
    _load(args.appeals)
    trace_rows = min(args.trace_rows, args.appeals)
    with tempfile.TemporaryDirectory(prefix="minsheng-bench-exports-") as tmp:
        data_dir = Path(tmp)
        speed = _speed(
            [max(1, args.appeals * part // 8) for part in (1, 2, 4, 8)], args.appeals, data_dir
        )
        peaks = _python_peaks(
            [max(1, trace_rows * part // 4) for part in (1, 2, 4)], args.appeals, data_dir
        )
    lines = [
        "| rows | seconds | rows/s | rows per CPU second | file MB | max RSS growth MB |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_second']:,.0f} | "
            f"{r['rows_per_cpu_second']:,.0f} | {r['megabytes']:.1f} | {r['rss_growth_mb']:.1f} |"
            for r in speed
        ),
        "",
        "| rows (tracemalloc on) | peak Python MB |",
        "|---:|---:|",
        *(f"| {r['rows']:,} | {r['peak_python_mb']:.1f} |" for r in peaks),
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
