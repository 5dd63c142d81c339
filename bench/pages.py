"""Page latency: server time of the staff console and the portal's tracking pages (issue 3).

Target: p95 < 100 ms for every page with 100,000 appeals in PostgreSQL, on the project's
2-core machine (issue 3); at scale (issue 6, up to 21 million appeals): queues, details and
the other pages 100 ms, a text search 500 ms, the tracking look-up 20 ms — the verdict line
applies these.

What one run does:

1. Data. Uses its own PostgreSQL database (``minsheng_bench_pages``; ``--database-url``). If it
   is missing or holds fewer than ``--appeals`` appeals, it (re)creates it, migrates it and
   loads the demo organisation, then replays the appeals through the service functions with
   ``minsheng.appeals.demo.seed_year``: several consecutive years (``--per-year``, oldest
   first, so ids follow time), the last one ending now. 100,000 appeals take about 10–15
   minutes; later runs reuse the database (``--fresh`` rebuilds it). Years other than the last
   stop where the replay of their year stopped, so a few hundred of their appeals stay open
   and overdue: an old backlog, as real queues have. After loading, ``VACUUM FULL`` compacts
   the tables the replay bloated (see ``load``).
2. Measure, in this process, with ``django.test.Client`` through the whole middleware stack
   (sessions in the database, authentication, CSRF, messages, templates): for the demo accounts
   of several roles (``--roles``: city dispatcher, township handler, village handler, department
   handler, township leader) the console home (its counts), the queue (default, status filter,
   overdue shortcut, free-text search, search by tracking code, the third keyset page; with
   ``--only`` naming them, also the searches of issue 6: a common phrase, a word no appeal
   holds, one character, a rare word) and the detail pages of random appeals the account may
   see; for a citizen, the portal's tracking look-up (``POST /track/`` with code and phone) and
   the tracking page it redirects to. After ``--warmup`` rounds it sends ``--requests`` requests
   per page kind, interleaved round by round so the shared machine's noise spreads evenly, and
   reports p50/p95/p99/max milliseconds, then counts the SQL statements (and their time) of a
   few more requests per kind with ``CaptureQueriesContext``. ``--http`` does the same timing
   over HTTP against ``minsheng serve`` (started by this script on 127.0.0.1, or a server you
   name).
3. Prints a table; ``--record`` writes it to the "## Pages (issue 3)" section of
   ``bench/RESULTS.md``. ``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest
   statement of every kind over the target (``--explain all``: of every kind).

Run with the project's virtualenv::

    .venv/bin/python bench/pages.py                   # loads 100,000 appeals once, then measures
    .venv/bin/python bench/pages.py --record          # and writes the figures to RESULTS.md
    .venv/bin/python bench/pages.py --requests 50 --only queue --roles dispatcher --explain all

It contacts only PostgreSQL at ``--database-url`` (default 127.0.0.1:5432) and, with ``--http``,
the server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import math
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake  # noqa: E402 - the sibling benchmark's PostgreSQL, machine and table helpers
from intake import (  # noqa: E402
    BenchError,
    machine_info,
    md_table,
    pg_connect,
    say,
    text_table,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Pages (issue 3)"
RUNS_START = "<!-- pages:runs (bench/pages.py --record writes below; newest first) -->"
RUNS_END = "<!-- /pages:runs -->"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minsheng_bench_pages"
TARGET_P95_MS = 100.0  # every page (issue 3), and the queues and details at scale (issue 6)
SEARCH_TARGET_P95_MS = 500.0  # a text search in the queue (issue 6)
LOOKUP_TARGET_P95_MS = 20.0  # the portal's tracking look-up (issue 6)
HOST = "127.0.0.1"

# Demo accounts (minsheng.org.demo.DEMO_ACCOUNTS) measured, by short role name.
ROLES = {
    "dispatcher": "dispatcher",  # city center: the whole city
    "township": "hexing_handler",  # handler of 和兴镇
    "village": "hexingcun_handler",  # handler of 和兴村 (under 和兴镇)
    "department": "zhujian_handler",  # handler of 住房和城乡建设局
    "leader": "hexing_leader",  # unit leader of 和兴镇: its whole subtree
}
DEFAULT_ROLES = "dispatcher,township,village,department,leader"
SEARCH_WORD = "噪声"  # in one of the demo's noise complaints (SNIPPETS "03")
# More searches (issue 6): a common four-character phrase, whose bigrams PostgreSQL would
# estimate as independent (SNIPPETS "04"); a word no appeal holds (the LIKE reads every appeal
# in scope); one character (a prefix match on the bigram index). The rare word is the address
# of a random appeal the account sees ("高坪村46号": a place and a house number).
SEARCH_PHRASE = "消防通道"
SEARCH_ABSENT = "自来水管爆裂"
SEARCH_CHAR = "堵"  # in two of the demo's snippets ("02", "04")


# ------------------------------------------------------------------------------- database


def _database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise BenchError(f"the database name must be a plain lower-case name, not {name!r}")
    if name in {"minsheng", "postgres", "template0", "template1"} or name.startswith("test"):
        raise BenchError(f"refusing to use {name!r}: the benchmark needs a database of its own")
    return name


def existing_appeals(url: str) -> int | None:
    """Appeals in the benchmark database; None when it or its tables do not exist yet."""
    admin = with_database(url, "postgres")
    name = _database_name(url)
    with pg_connect(admin) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not found:
        return None
    with pg_connect(url) as conn:
        table = conn.execute("SELECT to_regclass('appeals_appeal')").fetchone()[0]
        if table is None:
            return None
        return int(conn.execute("SELECT count(*) FROM appeals_appeal").fetchone()[0])


def recreate(url: str) -> None:
    name = _database_name(url)
    with pg_connect(with_database(url, "postgres")) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure_django(url: str, data_dir: Path, secret_key: str) -> None:
    """Settings come from MINSHENG_* variables (src/minsheng/settings.py), read at setup."""
    for key in [k for k in os.environ if k.startswith("MINSHENG_")]:
        if key != "MINSHENG_SECRET_KEY":
            del os.environ[key]
    os.environ.update(
        MINSHENG_DATABASE_URL=url,
        MINSHENG_DATA_DIR=str(data_dir),
        MINSHENG_SECRET_KEY=secret_key,
        MINSHENG_TRACKING_RATE="1000000",  # look-ups per address and minute: not measured here
        MINSHENG_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="minsheng.settings",
    )
    import django

    django.setup()


def load(appeals: int, per_year: int, seed: int) -> None:
    """Migrate, then the demo organisation and ``appeals`` appeals over consecutive years."""
    from django.core.management import call_command
    from django.db import connection

    from minsheng.appeals.demo import seed_year
    from minsheng.core import clock
    from minsheng.org.demo import load_demo_org

    say("migrating …")
    call_command("migrate", interactive=False, verbosity=0)
    org = load_demo_org()
    years = max(1, math.ceil(appeals / per_year))
    sizes = [appeals // years + (1 if i < appeals % years else 0) for i in range(years)]
    now = clock.now()
    started = time.monotonic()
    done_before = 0
    for index, size in enumerate(sizes):
        end = now - dt.timedelta(days=365 * (years - 1 - index))
        label = f"year {index + 1}/{years} (to {end:%Y-%m-%d})"
        say(f"{label}: replaying {size} appeals through the services …")

        def progress(done: int, total: int, label: str = label, before: int = done_before) -> None:
            if done % 2000 and done != total:
                return
            elapsed = time.monotonic() - started
            rate = (before + done) / elapsed if elapsed else 0.0
            left = (appeals - before - done) / rate if rate else 0.0
            say(
                f"  {label}: {done}/{total}; all {before + done}/{appeals} in {elapsed:.0f} s "
                f"({rate:.0f}/s, about {left / 60:.1f} min left)"
            )

        seed_year(size, seed=seed + index, progress=progress, end=end, org=org)
        done_before += size
    # The replay changes each appeal 5–10 times within one transaction of 250 appeals, which
    # leaves the tables 3–4 times their live size; in service the transitions of an appeal are
    # hours apart and vacuum lets later rows reuse the space. Compact them to that steady state.
    say(f"loaded {appeals} appeals in {time.monotonic() - started:.0f} s; VACUUM FULL …")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (FULL, ANALYZE)")


def ensure_data(args: argparse.Namespace) -> tuple[int, str]:
    """The benchmark database with at least ``--appeals`` appeals (built if needed)."""
    have = None if args.fresh else existing_appeals(args.database_url)
    if have is not None and have >= args.appeals:
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", interactive=False, verbosity=0)  # new indexes, if any
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return have, f"reused ({have} appeals)"
    if have is not None:
        say(f"{have} appeals < {args.appeals}: rebuilding the database")
    recreate(args.database_url)
    started = time.monotonic()
    load(args.appeals, args.per_year, args.seed)
    from minsheng.appeals.models import Appeal

    return Appeal.objects.count(), f"built in {time.monotonic() - started:.0f} s"


def describe_data() -> str:
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from minsheng.appeals.choices import OPEN_STATUSES
    from minsheng.appeals.models import Appeal, AppealEvent
    from minsheng.appeals.selectors import attention_filters

    span = Appeal.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    by_status = dict(Appeal.objects.values_list("status").annotate(n=Count("pk")).order_by("-n"))
    open_count = sum(n for s, n in by_status.items() if s in OPEN_STATUSES)
    overdue = Appeal.objects.filter(attention_filters(timezone.now())["overdue"]).count()
    events = AppealEvent.objects.count()
    first, last = span["first"], span["last"]
    return (
        f"{sum(by_status.values())} appeals received {first:%Y-%m-%d} to {last:%Y-%m-%d}, "
        f"{events} events; open {open_count} (overdue {overdue}); by status "
        + ", ".join(f"{s} {n}" for s, n in by_status.items())
    )


# ------------------------------------------------------------------------------- page kinds


@dataclass
class Request:
    method: str
    path: str
    data: dict[str, str] | None = None
    expect: int = 200


@dataclass
class Kind:
    """One page, for one account: ``make(i)`` is its i-th request."""

    page: str
    role: str
    make: Callable[[int], Request]
    times: list[float] = field(default_factory=list)  # seconds
    cpu: list[float] = field(default_factory=list)  # this process's CPU seconds (in-process)
    sizes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")  # the slowest statement seen in the sample

    @property
    def label(self) -> str:
        return f"{self.page} [{self.role}]"


def demo_users(roles: list[str]) -> dict[str, Any]:
    from minsheng.org.models import User

    found = {u.username: u for u in User.objects.filter(username__in=ROLES.values())}
    missing = [ROLES[r] for r in roles if ROLES[r] not in found]
    if missing:
        raise BenchError(f"demo accounts missing: {', '.join(missing)} (use --fresh)")
    return {role: found[ROLES[role]] for role in roles}


def _sample_visible(user: Any, low: int, high: int, count: int, rng: random.Random) -> list:
    """(id, tracking code) of appeals the user sees, drawn uniformly over the ids: random ids
    first (reading every visible appeal took minutes and gigabytes at 10M), all when few."""
    from minsheng.appeals import selectors

    visible = selectors.appeals_for(user)
    tries = [rng.randint(low, high) for _ in range(max(count, 1) * 200)] if high else []
    found = list(visible.filter(pk__in=tries).values_list("pk", "tracking_code"))
    if len(found) >= count:
        return found
    return list(visible.values_list("pk", "tracking_code"))


def build_kinds(
    users: dict[str, Any], only: list[str], count: int, rng: random.Random
) -> list[Kind]:
    """Every page kind, per account (role name → user), with ``count`` requests prepared."""
    from django.db.models import Max, Min
    from django.urls import reverse

    from minsheng.appeals import selectors
    from minsheng.appeals.models import Appeal
    from minsheng.supervision.selectors import sees_supervision

    queue_url = reverse("console:queue")
    kinds: list[Kind] = []

    def wanted(*pages: str) -> bool:
        return not only or any(word in page for word in only for page in pages)

    def add(page: str, role: str, make: Callable[[int], Request]) -> None:
        if wanted(page):
            kinds.append(Kind(page, role, make))

    def fixed(path: str) -> Callable[[int], Request]:
        return lambda _i: Request("GET", path)

    bounds = Appeal.objects.aggregate(low=Min("pk"), high=Max("pk"))
    for role, user in users.items():
        visible = _sample_visible(user, bounds["low"] or 0, bounds["high"] or 0, count, rng)
        if not visible:
            raise BenchError(f"{user.username} sees no appeals: is the demo data loaded?")
        picks = [rng.choice(visible) for _ in range(count)]
        # The page after the newest 100 rows (page 3 at 50 a page), or as deep as there are.
        skip = min(100, len(visible) - 1)
        cursor = (
            selectors.queue(user, selectors.QueueFilter(), limit=skip).next_cursor if skip else None
        )
        add("console home", role, fixed(reverse("console:home")))
        add("queue", role, fixed(queue_url))
        add("queue status=in_progress", role, fixed(f"{queue_url}?status=in_progress"))
        add("queue overdue", role, fixed(f"{queue_url}?overdue=1"))
        add("queue search text", role, fixed(f"{queue_url}?{urlencode({'q': SEARCH_WORD})}"))
        # The issue-6 searches only when asked for by name (--only search): the default run and
        # its recorded table keep the pages of issue 3.
        if only:
            for page, word in [
                ("queue search phrase", SEARCH_PHRASE),
                ("queue search absent", SEARCH_ABSENT),
                ("queue search 1 char", SEARCH_CHAR),
            ]:
                add(page, role, fixed(f"{queue_url}?{urlencode({'q': word})}"))
        if only and wanted("queue search rare"):
            addresses = dict(
                Appeal.objects.filter(pk__in={pk for pk, _code in picks}).values_list(
                    "pk", "address"
                )
            )
            rare = [addresses[pk] or SEARCH_ABSENT for pk, _code in picks]
            add(
                "queue search rare",
                role,
                lambda i, rare=rare: Request("GET", f"{queue_url}?{urlencode({'q': rare[i]})}"),
            )
        add(
            "queue search code",
            role,
            lambda i, picks=picks: Request("GET", f"{queue_url}?q={picks[i][1]}"),
        )
        if cursor:
            add("queue page 3", role, fixed(f"{queue_url}?{urlencode({'cursor': cursor})}"))
        add(
            "appeal detail",
            role,
            lambda i, picks=picks: Request("GET", reverse("console:detail", args=[picks[i][0]])),
        )
        # the year's supervision (issue 6): the open orders a leader or the center answers
        # for, and one's notifications (the bell's page)
        if sees_supervision(user):
            orders_url = reverse("console:supervision_orders")
            add("supervision orders", role, fixed(orders_url))
            add("supervision orders answered too", role, fixed(f"{orders_url}?all=1"))
        add("notifications", role, fixed(reverse("console:notifications")))

    citizens = list(
        Appeal.objects.exclude(citizen_phone="")
        .order_by("?")
        .values_list("tracking_code", "citizen_phone")[:count]
    )
    track = reverse("portal:track")

    def lookup(i: int) -> Request:
        code, phone = citizens[i % len(citizens)]
        return Request("POST", track, {"tracking_code": code, "phone": phone}, expect=302)

    def followup(i: int) -> Request:
        code, _phone = citizens[i % len(citizens)]
        return Request("GET", reverse("portal:followup", args=[code]))

    # The tracking page comes after the look-up of the same round, in the same session (the
    # session is what lets it show the appeal): the two are measured together.
    if wanted("portal track lookup", "portal tracking page"):
        kinds.append(Kind("portal track lookup", "citizen", lookup))
        kinds.append(Kind("portal tracking page", "citizen", followup))
    return kinds


# ------------------------------------------------------------------------------- transports


class InProcess:
    """``django.test.Client`` per account: the full middleware stack, no network."""

    name = "in-process"

    def __init__(self, users: dict[str, Any]) -> None:
        from django.test import Client

        self.clients: dict[str, Any] = {}
        for role, user in users.items():
            client = Client()
            client.force_login(user)
            self.clients[role] = client
        self.clients["citizen"] = Client()

    def send(self, role: str, request: Request) -> tuple[int, int, float, float | None]:
        client = self.clients[role]
        cpu = time.thread_time()
        started = time.perf_counter()
        if request.method == "POST":
            response = client.post(request.path, request.data or {})
        else:
            response = client.get(request.path)
        elapsed = time.perf_counter() - started
        return response.status_code, len(response.content), elapsed, time.thread_time() - cpu

    def close(self) -> None:
        pass


class OverHttp:
    """Keep-alive HTTP connections to ``minsheng serve``; staff sessions made in-process.

    The server must use the same database and ``MINSHENG_SECRET_KEY`` as this script."""

    name = "http"

    def __init__(self, base: str, users: dict[str, Any]) -> None:
        from django.conf import settings
        from django.test import Client

        parts = urlsplit(base)
        self.host, self.port = parts.hostname or HOST, parts.port or 80
        self.conns: dict[str, http.client.HTTPConnection] = {}
        self.cookies: dict[str, dict[str, str]] = {}
        for role, user in users.items():
            client = Client()
            client.force_login(user)
            self.cookies[role] = {
                settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value
            }
        self.cookies["citizen"] = {}

    def _conn(self, role: str) -> http.client.HTTPConnection:
        if role not in self.conns:
            self.conns[role] = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self.conns[role]

    def _once(self, role: str, request: Request) -> tuple[int, int]:
        jar = self.cookies[role]
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "zh-hans"}
        body = None
        if request.method == "POST":
            if "csrftoken" not in jar:  # the portal's form page sets it
                self._request(role, "GET", request.path, None, headers)
            token = jar["csrftoken"]
            body = urlencode({**(request.data or {}), "csrfmiddlewaretoken": token})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self._request(role, request.method, request.path, body, headers)

    def _request(
        self, role: str, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> tuple[int, int]:
        jar = self.cookies[role]
        if jar:
            headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
        conn = self._conn(role)
        conn.request(method, path, body=body.encode() if body else None, headers=headers)
        response = conn.getresponse()
        content = response.read()
        for raw in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(raw)
            for key, morsel in cookie.items():
                jar[key] = morsel.value
        return response.status, len(content)

    def send(self, role: str, request: Request) -> tuple[int, int, float, float | None]:
        started = time.perf_counter()
        try:
            status, size = self._once(role, request)
        except (OSError, http.client.HTTPException):
            self.conns.pop(role).close()
            status, size = self._once(role, request)  # once more, on a new connection
        return status, size, time.perf_counter() - started, None

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


# ------------------------------------------------------------------------------- measuring


def measure(kinds: list[Kind], transport: Any, warmup: int, requests: int) -> None:
    """Round-robin: one request of every kind per round, so noise hits all kinds alike.

    After the warm-up the process freezes its heap as ``minsheng.wsgi`` does in a server
    process after its first requests (``core.heap``), when the code measured has it.
    """
    for number in range(warmup + requests):
        if number == warmup and isinstance(transport, InProcess):
            _freeze_as_the_server_does()
        for kind in kinds:
            request = kind.make(number)
            status, size, elapsed, cpu = transport.send(kind.role, request)
            if status != request.expect:
                if len(kind.errors) < 3:
                    kind.errors.append(f"{request.method} {request.path} → {status}")
                continue
            if number >= warmup:
                kind.times.append(elapsed)
                kind.sizes.append(size)
                if cpu is not None:
                    kind.cpu.append(cpu)


def _freeze_as_the_server_does() -> None:
    import gc
    import importlib.util

    if importlib.util.find_spec("minsheng.core.heap") is not None:
        gc.freeze()


def count_queries(kinds: list[Kind], transport: InProcess, offset: int, sample: int) -> None:
    """Statements per request and their time, on ``sample`` more requests per kind."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for kind in kinds:
        for number in range(offset, offset + sample):
            with CaptureQueriesContext(connection) as captured:
                transport.send(kind.role, kind.make(number))
            kind.queries.append(len(captured.captured_queries))
            times = [(float(q["time"]), q["sql"]) for q in captured.captured_queries]
            kind.sql_ms.append(sum(t for t, _ in times) * 1000)
            if times:
                slowest = max(times)
                if slowest[0] > kind.slowest[0]:
                    kind.slowest = slowest


def explain(kinds: list[Kind], every: bool) -> list[str]:
    from django.db import connection

    out = []
    for kind in kinds:
        if not kind.slowest[1] or not (every or p(kind.times, 95) * 1000 > target_ms(kind)):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + kind.slowest[1])
            plan = "\n".join("    " + row[0] for row in cursor.fetchall())
        out.append(
            f"{kind.label}: slowest statement {kind.slowest[0] * 1000:.1f} ms\n"
            f"  {kind.slowest[1]}\n{plan}"
        )
    return out


def p(values: list[float], pct: float) -> float:
    return intake.percentile(sorted(values), pct)


HEADER = (
    "page",
    "account",
    "n",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "app CPU p50 ms",
    "SQL statements",
    "SQL ms",
    "KB",
    "errors",
)


def rows_of(kinds: list[Kind]) -> list[list[str]]:
    rows = []
    for kind in kinds:
        ms = [t * 1000 for t in kind.times]
        rows.append(
            [
                kind.page,
                kind.role,
                str(len(ms)),
                *(f"{p(ms, q):.1f}" for q in (50, 95, 99)),
                f"{max(ms):.1f}" if ms else "nan",
                f"{statistics.median(kind.cpu) * 1000:.1f}" if kind.cpu else "–",
                f"{statistics.median(kind.queries):.0f}" if kind.queries else "–",
                f"{statistics.median(kind.sql_ms):.1f}" if kind.sql_ms else "–",
                f"{statistics.median(kind.sizes) / 1024:.0f}" if kind.sizes else "–",
                str(len(kind.errors)) if kind.errors else "0",
            ]
        )
    return rows


def target_ms(kind: Kind) -> float:
    """Issue 6's p95 targets: searches 500 ms, the tracking look-up 20 ms, other pages 100 ms."""
    if kind.page == "portal track lookup":
        return LOOKUP_TARGET_P95_MS
    if kind.page.startswith("queue search") and kind.page != "queue search code":
        return SEARCH_TARGET_P95_MS
    return TARGET_P95_MS


def over_target(kinds: list[Kind]) -> list[Kind]:
    return [k for k in kinds if not k.times or p(k.times, 95) * 1000 >= target_ms(k)]


def verdict(kinds: list[Kind]) -> str:
    over = over_target(kinds)
    worst = max(kinds, key=lambda k: p(k.times, 95) / target_ms(k) if k.times else math.inf)
    target = (
        f"target p95 < {TARGET_P95_MS:.0f} ms for every page (searches "
        f"{SEARCH_TARGET_P95_MS:.0f} ms, tracking look-up {LOOKUP_TARGET_P95_MS:.0f} ms)"
    )
    if not over:
        return (
            f"{target}: MET (closest to its target: {worst.label} "
            f"{p(worst.times, 95) * 1000:.1f} ms)"
        )
    return f"{target}: NOT MET by " + ", ".join(
        f"{k.label} {p(k.times, 95) * 1000:.1f} ms" if k.times else f"{k.label} (no answers)"
        for k in over
    )


# ------------------------------------------------------------------------------- recording


def record(
    command: str,
    info: dict[str, str],
    data: str,
    tables: list[tuple[str, list[Kind]]],
    args: argparse.Namespace,
) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### {now} — `{command}`",
        "",
        f"Machine: {info['cores']} cores (shared with other users), {info['cpu']}, "
        f"{info['memory']} RAM, load average before the run {info['load']}; PostgreSQL "
        f"{info['postgres']} on 127.0.0.1; Python {info['python']}, {info['versions']}. "
        f"Code: {info['code']}.",
        f"Data: {data}.",
        f"Load: one request at a time; {args.warmup} warm-up rounds, then {args.requests} "
        "requests per page, interleaved round by round. SQL statements and SQL ms: median of "
        f"{args.sample} further requests per page (CaptureQueriesContext).",
        "",
    ]
    for name, kinds in tables:
        lines += [f"{name}:", "", md_table(HEADER, rows_of(kinds)), "", f"**{verdict(kinds)}**", ""]
    entry = "\n".join(lines).rstrip() + "\n\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip() + "\n\n" + SECTION + "\n\n" + f"{RUNS_START}\n{RUNS_END}\n"
    if RUNS_START not in text:
        start = text.index(SECTION) + len(SECTION)
        text = text[:start] + f"\n\n{RUNS_START}\n{RUNS_END}\n" + text[start:]
    head, rest = text.split(RUNS_START, 1)
    RESULTS.write_text(head + RUNS_START + "\n\n" + entry + rest.lstrip("\n"))
    say(f"recorded in {RESULTS}")


# ------------------------------------------------------------------------------- main


def _short_code(code: str) -> str:
    """intake's commit description, with a long list of uncommitted files cut short."""
    head, sep, files = code.partition(" + uncommitted changes in ")
    names = files.split(", ") if files else []
    if len(names) <= 6:
        return code
    return f"{head}{sep}{', '.join(names[:6])} and {len(names) - 6} more"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="p50/p95 server time of console and portal pages with 100,000 appeals."
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"the benchmark's own PostgreSQL database (default {DEFAULT_URL})",
    )
    parser.add_argument("--appeals", type=int, default=100_000, help="appeals it must hold")
    parser.add_argument(
        "--per-year", type=int, default=34_000, help="appeals per seeded year (default 34000)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the database")
    parser.add_argument("--load-only", action="store_true", help="load the data, measure nothing")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    parser.add_argument("--sample", type=int, default=5, help="requests per page for SQL counts")
    parser.add_argument(
        "--roles",
        default=DEFAULT_ROLES,
        help=f"accounts, comma-separated, of {', '.join(ROLES)} (default all)",
    )
    parser.add_argument(
        "--only", default="", help="pages whose name contains one of these words (comma list)"
    )
    parser.add_argument(
        "--http",
        nargs="?",
        const="serve",
        metavar="URL",
        help="also time over HTTP: alone, against `minsheng serve` started here "
        "(--workers, sync); with a URL, against a server on the same database started with "
        "the same MINSHENG_SECRET_KEY and a high MINSHENG_TRACKING_RATE",
    )
    parser.add_argument("--workers", type=int, default=3, help="with --http: serve workers")
    parser.add_argument(
        "--explain",
        nargs="?",
        const="slow",
        choices=["slow", "all"],
        help="EXPLAIN ANALYZE the slowest statement of pages over the target (or of all)",
    )
    parser.add_argument(
        "--code",
        metavar="GIT_REF",
        help="measure src/ at this commit instead of the working tree (git archive); "
        "interleave runs of both for an A/B on the same data",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--record", action="store_true", help=f"write to {RESULTS.name}")
    parser.add_argument(
        "--check-target", action="store_true", help="exit 3 when a page misses the target"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise BenchError(f"unknown --roles {unknown}; choose from {', '.join(ROLES)}")
    if args.appeals < 1 or args.requests < 1 or args.per_year < 1:
        raise BenchError("--appeals, --requests and --per-year must be at least 1")
    _database_name(args.database_url)
    command = "python bench/pages.py" + (" " + shlex.join(argv or sys.argv[1:])).rstrip()
    info = machine_info(with_database(args.database_url, "postgres"))
    info["code"] = _short_code(info["code"])
    data_dir = Path(tempfile.mkdtemp(prefix="minsheng-bench-pages-"))
    secret = os.environ.get("MINSHENG_SECRET_KEY") or "bench-" + uuid.uuid4().hex * 2
    server = None
    try:
        code_src = None
        if args.code:
            commit, code_src = intake.export_src(args.code, data_dir)
            sys.path.insert(0, str(code_src))  # before the first import of minsheng
            info["code"] = f"{commit} (--code {args.code}, exported with git archive)"
        configure_django(args.database_url, data_dir, secret)
        _count, how = ensure_data(args)
        say(f"database {_database_name(args.database_url)}: {how}")
        if args.load_only:
            return 0
        data = describe_data()
        say(data)
        rng = random.Random(args.seed)
        count_needed = args.warmup + args.requests + args.sample
        users = demo_users(roles)
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        kinds = build_kinds(users, only, count_needed, rng)
        if not kinds:
            raise BenchError(f"no page matches --only {args.only!r}")
        say(
            f"measuring {len(kinds)} pages × {args.requests} requests "
            f"(+ {args.warmup} warm-up rounds) in-process …"
        )
        local = InProcess(users)
        started = time.monotonic()
        measure(kinds, local, args.warmup, args.requests)
        count_queries(kinds, local, args.warmup + args.requests, args.sample)
        say(f"in-process: {time.monotonic() - started:.0f} s")
        tables = [("In-process (django.test.Client, full middleware stack)", kinds)]
        if args.http:
            base = args.http
            if base == "serve":
                env = {
                    **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
                    "MINSHENG_THREADS": "1",
                }
                if code_src is not None:
                    env["PYTHONPATH"] = str(code_src)
                port = intake.free_port()
                server = intake.Server(env, port, args.workers, 1, data_dir / "serve.log")
                server.start()
                server.wait_ready()
                base = f"http://{HOST}:{port}"
            http_kinds = build_kinds(users, only, count_needed, rng)
            remote = OverHttp(base, users)
            say(f"measuring over HTTP at {base} …")
            measure(http_kinds, remote, args.warmup, args.requests)
            remote.close()
            where = f"{args.workers} sync workers" if args.http == "serve" else args.http
            tables.append((f"Over HTTP (minsheng serve, {where}; client-side time)", http_kinds))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"Data: {data}")
    for name, table in tables:
        print()
        print(name)
        print(text_table(HEADER, rows_of(table)))
        print(verdict(table))
        for kind in table:
            for error in kind.errors:
                print(f"  {kind.label}: unexpected answer {error}")
    if args.explain:
        print()
        print("\n\n".join(explain(kinds, args.explain == "all")) or "nothing to explain")
    if args.record:
        record(command, info, data, tables, args)
    if any(k.errors for _n, table in tables for k in table):
        say("FAILED: unexpected answers above")
        return 1
    over = over_target(kinds)
    if args.check_target and over:
        return 3
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"pages benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("pages benchmark: interrupted", file=sys.stderr)
        sys.exit(130)
