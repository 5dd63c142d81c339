"""Dashboard latency: console statistics pages and KPI selectors at 100k and 1M appeals (issue 4).

Target: p95 < 300 ms for every dashboard page and KPI query, for any period up to a year, with
1,000,000 appeals, on PostgreSQL and on SQLite, on the project's 2-core machine.

What one run does:

1. Data, per backend and size (``--backends``; ``--sizes``, default 100k and 1M on PostgreSQL,
   100k and 300k on SQLite: its bulk load of 1M takes ~11 min here), each in a database of its own:
   PostgreSQL ``minsheng_bench_dash_<size>`` (``--pg-1m-url`` names another for 1M) and SQLite
   files under ``--data-dir`` (default ``$TMPDIR/minsheng-bench-dashboard``). Appeals are loaded
   by ``load_city_year`` (``bulk_create`` of a city's year: received over the last 365 days,
   the state following the age, the lead unit following the place; no events), then
   ``refresh_rollups(full=True)`` computes the daily rollups (timed, reported). Later runs reuse
   both when the rollups already count every appeal.
2. Measure, in a child process per database (Django binds one database per process), with
   ``django.test.Client`` through the whole middleware stack, for the city's center admin
   (``center_admin``: everything) and a township leader (``hexing_leader``: 和兴镇's subtree):
   ``/console/stats/`` for the last month, quarter and year, the leader view and the rankings
   page (last full month), and the selectors the pages call, for a year, one by one. After
   ``--warmup`` rounds it sends ``--requests`` per kind, interleaved round by round (noise spreads
   evenly), and reports p50/p95/p99; then SQL statements and SQL time of ``--sample`` more with
   ``CaptureQueriesContext``. ``--explain`` prints ``EXPLAIN ANALYZE`` of the slowest statement
   of every kind over the target (PostgreSQL; ``EXPLAIN QUERY PLAN`` on SQLite).
3. Prints one table per backend with the growth from the smallest to the largest size (p50
   and p95 ratios); ``--record`` replaces that backend's block of the "## Dashboard (issue 4)"
   section of ``bench/RESULTS.md`` (nothing else; hand-written notes in the section are kept).

Run with the project's virtualenv::

    .venv/bin/python bench/dashboard.py --load-only            # build the data once (long)
    .venv/bin/python bench/dashboard.py --record               # measure all four databases
    .venv/bin/python bench/dashboard.py --backends sqlite --sizes 100000 --requests 20
    .venv/bin/python bench/dashboard.py --code HEAD~3          # src/ of another commit, A/B

It contacts only PostgreSQL on 127.0.0.1 and the SQLite files under ``--data-dir``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake  # noqa: E402 - PostgreSQL, machine and table helpers
import pages  # noqa: E402 - its short description of the code measured
from intake import BenchError, md_table, say, text_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Dashboard (issue 4)"
TARGET_P95_MS = 300.0
DEFAULT_SIZES_PG = "100000,1000000"
DEFAULT_SIZES_SQLITE = "100000,300000"
NOTES_START = "<!-- dashboard:notes (kept by --record) -->"
NOTES_END = "<!-- /dashboard:notes -->"
PG_BASE = "postgres://postgres@127.0.0.1:5432/"
DATA_DIR_DEFAULT = Path(tempfile.gettempdir()) / "minsheng-bench-dashboard"
ACCOUNTS = {"city": "center_admin", "township": "hexing_leader"}


# ------------------------------------------------------------------------------- child: data


def pg_url(size: int, args: argparse.Namespace) -> str:
    if size == 1_000_000 and args.pg_1m_url:
        return args.pg_1m_url
    if args.pg_url:
        return args.pg_url
    return f"{PG_BASE}minsheng_bench_dash_{_size_label(size).lower()}"


def _size_label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def configure(backend: str, size: int, args: argparse.Namespace, src: Path | None) -> str:
    """Point Django at the database of ``backend``/``size`` (before the first setup)."""
    for key in [k for k in os.environ if k.startswith("MINSHENG_")]:
        del os.environ[key]
    data_dir = Path(args.data_dir) / f"{backend}-{_size_label(size)}"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        MINSHENG_DATA_DIR=str(data_dir),
        MINSHENG_SECRET_KEY="bench-dashboard-" + "x" * 40,
        MINSHENG_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="minsheng.settings",
    )
    if backend == "postgresql":
        url = pg_url(size, args)
        import exports  # the sibling benchmark's loader: bulk_create, no events

        exports._ensure_database(url, fresh=False)
        os.environ["MINSHENG_DATABASE_URL"] = url
        where = url.rsplit("/", 1)[1]
    else:
        where = str(data_dir / "minsheng.sqlite3")
    if src is not None:
        sys.path.insert(0, str(src))
    else:
        sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    return where


def load_city_year(appeals: int) -> None:
    """A city's year of ``appeals`` (bulk_create, no events), shaped like the reference city's.

    Unlike ``bench/exports.py``'s loader (dimensions and status drawn independently: 27 % of the
    appeals open and overdue, whatever their age), the state follows the age: each appeal is
    closed a few days after receipt (1 + an exponential with a 4-day mean), except 0.8 % that
    are still open (the reference city closed 99.21 % of its year), so the open ones are the
    last days' intake plus that residue. The lead unit follows the place the way a dispatcher
    sends work: the place's township or street (half), the village itself (a fifth), or a city
    department (the rest). Channels and types are weighted like a hotline center's.
    """
    from django.core.management import call_command

    from minsheng.appeals.demo import load_reference_data
    from minsheng.appeals.models import Appeal, Category
    from minsheng.org.demo import load_demo_org
    from minsheng.org.models import OrgUnit

    call_command("migrate", verbosity=0)
    have = Appeal.objects.count()
    if have >= appeals:
        return
    if not OrgUnit.objects.exists():
        load_reference_data(load_demo_org())
    units = {u.pk: u for u in OrgUnit.objects.filter(depth__gte=1)}
    places = [u for u in units.values() if u.is_territorial]
    departments = [u for u in units.values() if u.depth == 1 and not u.is_territorial]
    categories = list(Category.objects.filter(parent__isnull=False))
    rng = random.Random(2026 + have)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=365)
    channels = ["hotline"] * 12 + ["mini_program"] * 4 + ["web_portal"] * 3 + ["walk_in"]
    types = ["complaint"] * 4 + ["help"] * 4 + ["consultation"] * 3 + ["suggestion"]
    batch: list[Any] = []
    for i in range(have, appeals):
        created = start + dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
        place = rng.choice(places)
        pick = rng.random()
        if pick < 0.5:
            lead = units.get(place.ancestors_and_self_ids()[1], place)
        elif pick < 0.7:
            lead = place
        else:
            lead = rng.choice(departments)
        due = created + dt.timedelta(days=7)
        done = created + dt.timedelta(days=1 + rng.expovariate(1 / 4))
        stale = rng.random() < 0.008
        age = now - created
        if done <= now and not stale:
            status, closed_at = "closed", done
        else:
            closed_at = None
            status = "received" if age < dt.timedelta(hours=2) else "in_progress"
            if dt.timedelta(hours=2) <= age < dt.timedelta(hours=6):
                status = "dispatched"
        dispatched = status != "received"
        accepted = dispatched and status != "dispatched"
        rated = bool(closed_at) and rng.random() < 0.9
        rating = rng.choice(["satisfied"] * 8 + ["basically_satisfied", "unsatisfied"])
        batch.append(
            Appeal(
                tracking_code=f"C{i:09d}",
                channel=rng.choice(channels),
                appeal_type=rng.choice(types),
                category=rng.choice(categories),
                territory=place,
                lead_unit=lead if dispatched else None,
                title=f"基准诉求 {i}",
                content="道路破损，请尽快修复。" * 5,
                citizen_phone=f"139{rng.randrange(10**8):08d}",
                status=status,
                created_at=created,
                dispatched_at=created + dt.timedelta(hours=1) if dispatched else None,
                accept_due_at=created + dt.timedelta(hours=3) if dispatched else None,
                accepted_at=created + dt.timedelta(hours=2) if accepted else None,
                due_at=due if dispatched else None,
                closed_at=closed_at,
                closed_on_time=(closed_at <= due) if closed_at else None,
                rating=rating if rated else "",
                solved=rating != "unsatisfied" if rated else None,
            )
        )
        if len(batch) == 10_000:
            Appeal.objects.bulk_create(batch)
            batch = []
            say(f"  {i + 1:,}/{appeals:,} appeals")
    Appeal.objects.bulk_create(batch)


def ensure_data(size: int) -> dict[str, Any]:
    """Appeals (``load_city_year``) and rollups that count every one of them."""
    from django.db import connection
    from django.db.models import Sum

    from minsheng.analytics.models import DailyRollup
    from minsheng.analytics.rollups import refresh_rollups
    from minsheng.appeals.models import Appeal

    info: dict[str, Any] = {}
    began = time.perf_counter()
    load_city_year(size)
    info["load_s"] = round(time.perf_counter() - began, 1)
    appeals = Appeal.objects.count()
    counted = DailyRollup.objects.aggregate(n=Sum("received"), i=Sum("invalid"), m=Sum("merged"))
    if sum(v or 0 for v in counted.values()) != appeals:
        say(f"  refresh_rollups(full=True) over {appeals:,} appeals …")
        began = time.perf_counter()
        refresh_rollups(full=True)
        info["rollup_s"] = round(time.perf_counter() - began, 1)
    if connection.vendor == "postgresql":  # bulk loads leave no statistics: plan with some
        with connection.cursor() as cursor:
            # (and no visibility map: a real table's autovacuum keeps one)
            cursor.execute("VACUUM ANALYZE appeals_appeal")
            cursor.execute("ANALYZE")
    info["appeals"] = appeals
    info["rollup_rows"] = DailyRollup.objects.count()
    return info


# ------------------------------------------------------------------------------- child: measure


@dataclass
class Kind:
    name: str
    account: str
    run: Callable[[], Any] = field(repr=False)
    times: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")


def periods(today: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    return {
        "month": (today - dt.timedelta(days=29), today),
        "quarter": (today - dt.timedelta(days=90), today),
        "year": (today - dt.timedelta(days=364), today),
    }


def build_kinds(only: list[str]) -> list[Kind]:
    from django.test import Client
    from django.urls import reverse

    from minsheng.analytics import selectors as s
    from minsheng.org.models import User

    users = {a: User.objects.filter(username=u).first() for a, u in ACCOUNTS.items()}
    missing = [ACCOUNTS[a] for a, u in users.items() if u is None]
    if missing:
        raise BenchError(f"demo accounts missing: {missing}")
    today = s.today()
    spans = periods(today)
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    kinds: list[Kind] = []

    def page(name: str, account: str, url: str) -> None:
        client = Client()
        client.force_login(users[account])

        def run() -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise BenchError(f"GET {url} → {response.status_code}")

        kinds.append(Kind(name, account, run))

    def call(name: str, account: str, body: Callable[[Any, Any, Any], Any]) -> None:
        user = users[account]
        year_from, year_to = spans["year"]

        def run() -> None:
            scope = s.require_scope(user)
            body(user, scope, s.StatsFilter(date_from=year_from, date_to=year_to))

        kinds.append(Kind(name, account, run))

    dashboard, leader, ranking = (
        reverse(f"analytics:{n}") for n in ("dashboard", "leader", "ranking")
    )
    for account in ACCOUNTS:
        for label, (start, end) in spans.items():
            page(f"page dashboard {label}", account, f"{dashboard}?from={start}&to={end}")
        start, end = spans["year"]
        page("page leader year", account, f"{leader}?from={start}&to={end}")
        page("page ranking month", account, f"{ranking}?month={last_month}")
        call("kpi totals", account, lambda u, sc, f: s.totals(sc, f))
        call("kpi trend month", account, lambda u, sc, f: s.trend(sc, f, "month"))
        call("kpi by channel", account, lambda u, sc, f: s.by_dimension(sc, f, "channel"))
        call("kpi category table", account, lambda u, sc, f: s.category_table(sc, f))
        call("kpi territory table", account, lambda u, sc, f: s.unit_table(sc, f, axis="territory"))
        call(
            "kpi unit table + months",
            account,
            lambda u, sc, f: s.unit_table_with_months(sc, f),
        )
        call("kpi red/black lists", account, lambda u, sc, f: s.red_black_lists(sc, f))
        call("snapshot open by status", account, lambda u, sc, f: s.open_by_status(u, f))
        call("snapshot overdue now", account, lambda u, sc, f: s.overdue_now(u, f))
        # a scope since the handler rollup (an account before it: --code of an older commit)
    by_scope = "scope" in inspect.signature(s.handler_table).parameters
    call(
        "kpi handler table",
        account,
        lambda u, sc, f: s.handler_table(sc if by_scope else u, f),
    )
    if only:
        kinds = [k for k in kinds if any(w in k.name for w in only)]
    return kinds


def measure(kinds: list[Kind], warmup: int, requests: int, sample: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for number in range(warmup + requests):
        for kind in kinds:
            started = time.perf_counter()
            try:
                kind.run()
            except BenchError as exc:
                if len(kind.errors) < 3:
                    kind.errors.append(str(exc))
                continue
            if number >= warmup:
                kind.times.append(time.perf_counter() - started)
    for kind in kinds:
        for _ in range(sample):
            with CaptureQueriesContext(connection) as captured:
                try:
                    kind.run()
                except BenchError:
                    continue
            found = [(float(q["time"]), q["sql"]) for q in captured.captured_queries]
            kind.queries.append(len(found))
            kind.sql_ms.append(sum(t for t, _ in found) * 1000)
            if found and max(found)[0] > kind.slowest[0]:
                kind.slowest = max(found)


def explain(kinds: list[Kind], every: bool) -> list[str]:
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN "
    if connection.vendor != "postgresql":
        prefix = "EXPLAIN QUERY PLAN "
    out = []
    for kind in kinds:
        if not kind.slowest[1] or not (every or p(kind.times, 95) * 1000 >= TARGET_P95_MS):
            continue
        with connection.cursor() as cursor:
            cursor.execute(prefix + kind.slowest[1])
            plan = "\n".join("    " + " ".join(str(c) for c in row) for row in cursor.fetchall())
        out.append(
            f"{kind.name} [{kind.account}]: slowest statement {kind.slowest[0] * 1000:.1f} ms\n"
            f"  {kind.slowest[1][:2000]}\n{plan}"
        )
    return out


def p(values: list[float], pct: float) -> float:
    return intake.percentile(sorted(values), pct) if values else float("nan")


def child(args: argparse.Namespace) -> int:
    backend, raw_size = args.child.split(":")
    size = int(raw_size)
    src = None
    code = None
    if args.code:
        commit, src = intake.export_src(args.code, Path(tempfile.mkdtemp(prefix="dash-src-")))
        code = commit
    where = configure(backend, size, args, src)
    say(f"{backend} {_size_label(size)}: {where}")
    info = ensure_data(size)
    info.update(backend=backend, size=size, where=where, code=code)
    say(f"  data: {info}")
    result: dict[str, Any] = {"info": info, "kinds": [], "explain": []}
    if not args.load_only:
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        kinds = build_kinds(only)
        say(f"  measuring {len(kinds)} kinds × {args.requests} (+{args.warmup} warm-up) …")
        began = time.monotonic()
        measure(kinds, args.warmup, args.requests, args.sample)
        say(f"  {time.monotonic() - began:.0f} s")
        result["kinds"] = [{k: v for k, v in asdict(kind).items() if k != "run"} for kind in kinds]
        if args.explain:
            result["explain"] = explain(kinds, args.explain == "all")
    Path(args.out).write_text(json.dumps(result, default=str))
    return 0


# ------------------------------------------------------------------------------- parent


HEADER = ("kind", "account", "size", "n", "p50 ms", "p95 ms", "p99 ms", "SQL", "SQL ms", "errors")


def _row(kind: dict[str, Any], size: int) -> list[str]:
    ms = [t * 1000 for t in kind["times"]]
    return [
        kind["name"],
        kind["account"],
        _size_label(size),
        str(len(ms)),
        *(f"{p(ms, q):.1f}" for q in (50, 95, 99)),
        f"{statistics.median(kind['queries']):.0f}" if kind["queries"] else "–",
        f"{statistics.median(kind['sql_ms']):.1f}" if kind["sql_ms"] else "–",
        str(len(kind["errors"])),
    ]


GROWTH_HEADER = (
    "kind",
    "account",
    "p50 ms per size",
    "p95 ms per size",
    "p50 ratio",
    "p95 ratio",
    "target",
)


def growth_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Per kind: p50 and p95 at each size, and the ratio of the largest to the smallest.

    With few requests on a shared machine one slow outlier moves p95; p50 shows the growth."""
    runs = sorted(runs, key=lambda r: r["info"]["size"])
    rows = []
    for index, kind in enumerate(runs[0]["kinds"] if runs else []):
        found = [run["kinds"][index] if index < len(run["kinds"]) else None for run in runs]
        ms = [[t * 1000 for t in k["times"]] if k else [] for k in found]
        p50s, p95s = [p(v, 50) for v in ms], [p(v, 95) for v in ms]

        def ratio(values: list[float]) -> str:
            if len(values) < 2 or not values[0]:
                return "–"
            return f"{values[-1] / values[0]:.1f}×"

        rows.append(
            [
                kind["name"],
                kind["account"],
                " / ".join(f"{v:.0f}" for v in p50s),
                " / ".join(f"{v:.0f}" for v in p95s),
                ratio(p50s),
                ratio(p95s),
                "met" if p95s[-1] < TARGET_P95_MS else "**missed**",
            ]
        )
    return rows


def data_line(run: dict[str, Any]) -> str:
    info = run["info"]
    extra = f", rollups refreshed in {info['rollup_s']} s" if info.get("rollup_s") else ""
    return (
        f"{_size_label(info['size'])}: {info['appeals']:,} appeals, "
        f"{info['rollup_rows']:,} rollup rows ({'/'.join(info['where'].split('/')[-2:])}){extra}"
    )


def _kept(text: str, begin: str, end: str) -> str | None:
    """The block from ``begin`` to ``end`` (both included) if ``text`` has it."""
    if begin in text and end in text[text.index(begin) :]:
        first = text.index(begin)
        return text[first : text.index(end, first) + len(end)]
    return None


def record(command: str, machine: dict[str, str], per_backend: dict[str, list], args: Any) -> None:
    """Replace the section's block of each backend measured; keep the other blocks and notes."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = [
        SECTION,
        "",
        "Written by `bench/dashboard.py --record` (one block per backend, replaced by a run that "
        "measures it). Data: `load_city_year`'s synthetic year (bulk_create, received over the "
        "last 365 days; closed 1 + Exp(4 days) after receipt except 0.8 % left open, so the open "
        "appeals are the last days' intake plus that residue; lead unit = the place's township, "
        "the village itself or a department; category drawn independently: most rollup rows "
        "hold one appeal; no events, so the handler table reads nothing), rollups "
        "by `refresh_rollups(full=True)`. One request at a time, in-process (django.test.Client, "
        "full middleware stack), warm (untimed rounds first), requests interleaved round by "
        "round. `page …`: a console page (dashboard for the last 30/91/365 days, leader view for "
        "365 days, rankings for the last full month); `kpi …`/`snapshot …`: one selector call "
        "for the last 365 days. Accounts: city = center_admin (everything), township = "
        "hexing_leader (和兴镇's subtree). Target p95 < "
        f"{TARGET_P95_MS:.0f} ms at the largest size.",
        "",
    ]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    blocks = []
    for backend in ("postgresql", "sqlite"):
        begin, end = f"<!-- dashboard:{backend} -->", f"<!-- /dashboard:{backend} -->"
        runs = per_backend.get(backend)
        if not runs:
            old = _kept(text, begin, end)
            if old:
                blocks.append(old)
            continue
        lines = [
            begin,
            f"**{backend}** — {now} — `{command}`",
            "",
            f"Machine: {machine['cores']} cores, shared with CI and other jobs, noisy (load "
            f"average before the run {machine['load']}); {machine['cpu']}, {machine['memory']} "
            f"RAM; PostgreSQL {machine['postgres']}; Python {machine['python']}, "
            f"{machine['versions']}. Code: {machine['code']}. {args.warmup} warm-up rounds, "
            f"{args.requests} requests per kind; SQL: median of {args.sample} more "
            "(CaptureQueriesContext).",
            "Data: " + "; ".join(data_line(r) for r in runs) + ".",
            "",
            md_table(GROWTH_HEADER, growth_rows(runs)),
            "",
            "<details><summary>p50/p95/p99 and SQL per size</summary>",
            "",
            md_table(HEADER, [_row(k, r["info"]["size"]) for r in runs for k in r["kinds"]]),
            "",
            "</details>",
            end,
        ]
        blocks.append("\n".join(lines))
    notes = _kept(text, NOTES_START, NOTES_END) or f"{NOTES_START}\n{NOTES_END}"
    section = "\n".join(intro) + "\n" + "\n\n".join([*blocks, notes]) + "\n"
    if SECTION in text:
        # The section ends at its notes' end marker: whatever others append after it stays.
        head, _sep, rest = text.partition(SECTION)
        if NOTES_END in rest:
            after = rest.split(NOTES_END, 1)[1].lstrip("\n")
            text = head + section + ("\n" + after if after else "")
        else:
            tail = rest.split("\n## ", 1)
            text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)
    say(f"recorded in {RESULTS}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument(
        "--sizes",
        help="appeals, comma-separated (default: 100000,1000000 on PostgreSQL and "
        "100000,300000 on SQLite, whose bulk load of 1M takes ~11 min here)",
    )
    parser.add_argument(
        "--pg-1m-url",
        default="",
        help="PostgreSQL database for 1,000,000 appeals (default: minsheng_bench_dash_1m)",
    )
    parser.add_argument(
        "--pg-url",
        default="",
        help="PostgreSQL database for the other size (one, e.g. --sizes 10000000 on data from "
        "bench/generate.py)",
    )
    parser.add_argument("--data-dir", default=str(DATA_DIR_DEFAULT), help="SQLite files")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2)
    parser.add_argument("--only", default="", help="kinds whose name contains one of these")
    parser.add_argument("--explain", nargs="?", const="slow", choices=["slow", "all"])
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--code", metavar="GIT_REF", help="measure src/ at this commit")
    parser.add_argument("--record", action="store_true", help=f"write to {RESULTS.name}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child(args)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(backends) - {"postgresql", "sqlite"}:
        raise BenchError("--backends: postgresql and/or sqlite")
    defaults = {"postgresql": DEFAULT_SIZES_PG, "sqlite": DEFAULT_SIZES_SQLITE}
    sizes_of = {
        b: sorted(int(s) for s in (args.sizes or defaults[b]).split(",") if s.strip())
        for b in backends
    }
    if any(not v or min(v) < 1 for v in sizes_of.values()) or args.requests < 1:
        raise BenchError("--sizes and --requests must be positive")
    command = "python bench/dashboard.py" + (" " + shlex.join(argv or sys.argv[1:])).rstrip()
    machine = intake.machine_info(PG_BASE + "postgres")
    machine["code"] = pages._short_code(machine["code"])
    passed = [a for a in (argv or sys.argv[1:]) if a != "--record"]
    per_backend: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="dash-") as tmp:
        for backend in backends:
            for size in sizes_of[backend]:
                out = Path(tmp) / f"{backend}-{size}.json"
                cmd = [sys.executable, __file__, *passed, "--child", f"{backend}:{size}"]
                cmd += ["--out", str(out)]
                subprocess.run(cmd, check=True)  # noqa: S603 - this script
                per_backend.setdefault(backend, []).append(json.loads(out.read_text()))
    if args.load_only:
        return 0
    errors = 0
    for backend, runs in per_backend.items():
        print()
        print(f"{backend}: " + "; ".join(data_line(r) for r in runs))
        print(text_table(HEADER, [_row(k, r["info"]["size"]) for r in runs for k in r["kinds"]]))
        print()
        print(text_table(GROWTH_HEADER, growth_rows(runs)))
        for run in runs:
            for kind in run["kinds"]:
                errors += len(kind["errors"])
                for error in kind["errors"]:
                    print(f"  {kind['name']} [{kind['account']}]: {error}")
            for plan in run["explain"]:
                print(f"\n[{backend} {_size_label(run['info']['size'])}] {plan}")
    if args.record:
        record(command, machine, per_backend, args)
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"dashboard benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
