"""Intake benchmark: citizen appeal submissions per second through the HTTP API (issue 2).

Target: ≥ 300 submissions/s with p99 < 100 ms at 32 concurrent clients on the project's 2-core
machine, against ``minsheng serve`` on PostgreSQL.

What one run does:

1. Drops and creates its own PostgreSQL database (``minsheng_bench``), migrates it and loads the
   demo organisation and reference data (no year of appeals) into it, with a temporary
   ``MINSHENG_DATA_DIR``.
2. For each server configuration (workers × threads), starts ``minsheng serve`` on a free port
   of 127.0.0.1, warms it up, then lets ``--clients`` threads (one keep-alive connection each)
   POST ``/api/v1/public/appeals`` back to back — realistic Chinese content, a level-2 category,
   a village, a unique ``Idempotency-Key`` — until ``--requests`` submissions or
   ``--max-seconds``. It measures throughput (201s per second over the measured window),
   latency percentiles, non-201 answers by status, the CPU used by the server, by PostgreSQL and
   by this client, and samples what PostgreSQL's backends are doing (``pg_stat_activity``).
3. Checks that the database holds exactly one appeal per 201, that ~50 retries of used keys and
   pairs of concurrent duplicates create nothing new, and that the audit chain verifies.
4. Prints a table; ``--record`` writes it to the "## Intake (issue 2)" section of
   ``bench/RESULTS.md``. ``--sweep`` compares several configurations in one run (the machine is
   shared and noisy, so compare within a run). ``--rate R`` offers a fixed R submissions/s
   instead (open loop: latency at a given load rather than at saturation). ``--profile N`` adds
   an in-process cProfile of N submissions with per-statement SQL timings. ``--code REF``
   measures a commit instead of the working tree; ``--baseline REF`` runs every configuration
   against a second commit too (own database), interleaved: an A/B in one run.

Run with the project's virtualenv (it needs psycopg, a project dependency)::

    .venv/bin/python bench/intake.py                      # default serve config, < 1 minute
    .venv/bin/python bench/intake.py --sweep --record     # 5x4, 3x1, 5x1, 2x4, 2x1 in one run
    .venv/bin/python bench/intake.py --profile 300        # plus where the time goes
    .venv/bin/python bench/intake.py --baseline HEAD~1    # did the last commit help?

It contacts only the server it starts on 127.0.0.1 and PostgreSQL at ``--postgres`` (default
127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import io
import json
import math
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Intake (issue 2)"
RUNS_START = "<!-- intake:runs (bench/intake.py --record writes below; newest first) -->"
RUNS_END = "<!-- /intake:runs -->"
SUBMIT_PATH = "/api/v1/public/appeals"
TARGET_RATE = 300.0
TARGET_P99_MS = 100.0
DEFAULT_SWEEP = "5x4,3x1,5x1,2x4,2x1"
HOST = "127.0.0.1"


class BenchError(Exception):
    """A failure that ends the run with a message (and a non-zero exit)."""


def _venv_bin() -> Path:
    here = Path(sys.executable).parent
    return here if (here / "minsheng").exists() else ROOT / ".venv" / "bin"


VENV_BIN = _venv_bin()
PYTHON = str(VENV_BIN / "python")
MINSHENG = str(VENV_BIN / "minsheng")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------- PostgreSQL


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise BenchError(
            "psycopg is not importable: run this with the project's virtualenv, "
            "e.g. `.venv/bin/python bench/intake.py` (make venv installs it)."
        ) from None
    return psycopg


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def pg_connect(url: str) -> Any:
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        where = urlsplit(url)
        raise BenchError(
            f"PostgreSQL is not reachable at {where.hostname}:{where.port or 5432} "
            f"(user {where.username or '?'}): {str(exc).strip()}\n"
            "Start it (e.g. `pg_ctlcluster 15 main start`) or point --postgres (or POSTGRES_URL) "
            "at a server whose user may CREATE DATABASE."
        ) from None


_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def recreate_database(admin_url: str, name: str) -> None:
    with pg_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with pg_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(url: str, table: str) -> int:
    with pg_connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608
    return int(row[0])


# ------------------------------------------------------------------------------- set-up

SETUP_CODE = r"""
import json, django
django.setup()
from minsheng.org.demo import load_demo_org
from minsheng.appeals.demo import load_reference_data, SNIPPETS
from minsheng.appeals.models import Appeal, Category
from minsheng.core.models import AuditRecord, IdempotencyRecord
org = load_demo_org()
load_reference_data(org)
towns = {t.pk: t.name for t in org.townships}
print(json.dumps({
    "categories": [
        {"id": c.pk, "code": c.code, "name": c.name, "parent": c.parent.code}
        for c in Category.objects.filter(level=2, is_active=True).select_related("parent")
    ],
    "villages": [
        {"id": v.pk, "name": v.name, "township": towns.get(v.parent_id, "")}
        for v in org.villages
    ],
    "snippets": SNIPPETS,
    "tables": {
        "appeal": Appeal._meta.db_table,
        "idempotency": IdempotencyRecord._meta.db_table,
        "audit": AuditRecord._meta.db_table,
    },
}, ensure_ascii=False))
"""


def run_checked(cmd: list[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own executables
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{what} failed (exit {done.returncode}):\n  " + "\n  ".join(tail))
    return done.stdout


def bench_env(db_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINSHENG_")}
    env.update(
        MINSHENG_DATABASE_URL=db_url,
        MINSHENG_DATA_DIR=str(data_dir),
        MINSHENG_SECRET_KEY="bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
        MINSHENG_ALLOWED_HOSTS=f"{HOST},localhost,testserver",
        DJANGO_SETTINGS_MODULE="minsheng.settings",
    )
    return env


# ------------------------------------------------------------------------------- payloads

OPENERS = [
    "",
    "您好，",
    "你好，",
    "领导您好，",
    "我是{village}的居民，",
    "我住在{township}{village}，",
    "反映一个问题：",
    "我想反映一下{village}的情况，",
    "麻烦帮忙看一下，",
]
PLACES = [
    "{village}{n}号楼附近",
    "{village}东门",
    "{township}{village}村委会旁边",
    "{village}{n}栋{m}单元楼下",
    "{village}菜市场对面",
    "{village}幼儿园门口",
    "{township}主街和{village}路口",
    "{village}北侧的小广场",
]
DURATIONS = [
    "这种情况已经持续{n}天了",
    "从上个月开始就这样",
    "最近一周每天都这样",
    "之前已经反映过{k}次",
    "去年也出现过同样的问题",
    "今天早上又发生了",
    "大概有半年时间了",
]
DETAILS = [
    "给周边居民生活带来很大不便",
    "家里有老人和小孩，实在受不了",
    "之前打过电话但一直没有人来处理",
    "物业说不归他们管，让我们找社区",
    "社区工作人员来看过一次，之后就没有下文了",
    "附近很多居民都有同样的意见",
    "晚上十点以后尤其严重",
    "下雨天情况更糟糕",
    "担心会出安全事故",
    "我们已经拍了照片，可以提供",
    "希望能给一个明确的处理时间",
    "周末人多的时候特别明显",
    "上下班高峰期严重影响通行",
    "孩子上学每天都要经过这里",
    "问题反复出现，治标不治本",
    "旁边就是卫生院，来往的病人很多",
    "有老人在这里摔倒过",
    "邻居们都在业主群里讨论这件事",
    "找过村里的网格员，说会向上反映",
    "对方态度很差，沟通不了",
]
REQUESTS = [
    "希望有关部门尽快处理。",
    "请相关部门核实并给予答复。",
    "恳请尽快派人来看看。",
    "希望能彻底解决，谢谢！",
    "盼复。",
    "麻烦尽快处理，谢谢。",
    "请给个说法。",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华建国红梅玉兰志刚海燕春"
PHONE_PREFIXES = ["139", "138", "137", "136", "135", "158", "186", "177", "150", "199", "188"]
TYPES = [
    ("complaint", 40),
    ("help", 30),
    ("consultation", 15),
    ("suggestion", 8),
    ("report", 5),
    ("praise", 2),
]


def make_content(rng: random.Random, snippet: str, extra: str, village: dict[str, Any]) -> str:
    """A citizen's message of 50–300 characters, assembled from invented phrases."""
    fill = {
        "village": village["name"],
        "township": village["township"],
        "n": rng.randint(1, 40),
        "m": rng.randint(1, 6),
        "k": rng.randint(2, 5),
    }
    target = rng.randint(50, 300)
    head = rng.choice(OPENERS).format(**fill)
    place = rng.choice(PLACES).format(**fill)
    lead = f"{place}{snippet}" if rng.random() < 0.5 else f"{snippet}，地点在{place}"
    parts = [head + lead, rng.choice(DURATIONS).format(**fill)]
    details = rng.sample(DETAILS, k=len(DETAILS))
    tail = rng.choice(REQUESTS)
    text = "，".join(parts) + "。" + tail
    while details and len(text) < target:
        if rng.random() < 0.1 and extra:
            parts.append(f"另外，{extra}")
            extra = ""
        else:
            parts.append(details.pop())
        text = "，".join(parts) + "。" + tail
    while len(text) > 300 and len(parts) > 2:
        parts.pop()
        text = "，".join(parts) + "。" + tail
    if len(text) < 50:
        text = "，".join([*parts, *details[:3]]) + "。" + tail
    return text[:300]


def make_payload(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    category = rng.choice(data["categories"])
    village = rng.choice(data["villages"])
    snippets = data["snippets"]
    snippet = rng.choice(snippets.get(category["parent"]) or ["有问题需要反映"])
    extra = rng.choice(snippets[rng.choice(list(snippets))])
    given = "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    name = rng.choice(
        [SURNAMES[rng.randrange(len(SURNAMES))] + given, rng.choice(SURNAMES) + "女士", ""]
    )
    payload: dict[str, Any] = {
        "channel": rng.choice(["mini_program", "mini_program", "web_portal"]),
        "appeal_type": rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0],
        "content": make_content(rng, snippet, extra, village),
        "phone": rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
        "name": name,
        "category_id": category["id"],
        "territory_id": village["id"],
    }
    if rng.random() < 0.3:
        payload["address"] = f"{village['township']}{village['name']}{rng.randint(1, 40)}号"
    if rng.random() < 0.3:
        payload["title"] = snippet[:20]
    return payload


@dataclass
class Job:
    key: str
    body: bytes


def make_jobs(rng: random.Random, data: dict[str, Any], count: int) -> list[Job]:
    return [
        Job(
            key=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            body=json.dumps(make_payload(rng, data), ensure_ascii=False).encode(),
        )
        for _ in range(count)
    ]


# ------------------------------------------------------------------------------- HTTP client

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class Client:
    """One keep-alive connection; ``submit`` retries once (same key) after a transport error."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.connects = 0
        self.transport_errors: Counter[str] = Counter()

    def _once(self, job: Job) -> tuple[int, bytes]:
        if self.conn.sock is None:
            self.connects += 1
        self.conn.request(
            "POST",
            SUBMIT_PATH,
            body=job.body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": job.key,
                "Accept-Language": "zh-hans",
            },
        )
        response = self.conn.getresponse()
        return response.status, response.read()

    def submit(self, job: Job) -> tuple[int, bytes]:
        try:
            return self._once(job)
        except TRANSPORT_ERRORS as exc:
            self.transport_errors[type(exc).__name__] += 1
            self.conn.close()
        try:
            return self._once(job)
        except TRANSPORT_ERRORS as exc:
            self.transport_errors[type(exc).__name__] += 1
            self.conn.close()
            return 0, f"{type(exc).__name__}: {exc}".encode()

    def close(self) -> None:
        self.conn.close()


@dataclass
class Outcome:
    key: str
    body: bytes
    status: int
    latency: float  # seconds, first byte sent to last byte read (including one retry)
    done_at: float  # perf_counter at completion
    appeal_id: int | None
    error: str = ""
    client: int = -1  # which client (connection) sent it


def _appeal_id(status: int, raw: bytes) -> tuple[int | None, str]:
    if status == 201:
        try:
            return int(json.loads(raw)["id"]), ""
        except (ValueError, KeyError, TypeError):
            return None, "201 without an id"
    return None, raw[:200].decode(errors="replace")


def fire(client: Client, job: Job, due: float | None = None) -> Outcome:
    """Send one submission; latency runs from ``due`` (its scheduled time) if given."""
    start = time.perf_counter()
    status, raw = client.submit(job)
    end = time.perf_counter()
    appeal_id, error = _appeal_id(status, raw)
    since = min(start, due) if due is not None else start
    return Outcome(job.key, job.body, status, end - since, end, appeal_id, error)


def run_phase(
    clients: list[Client], jobs: list[Job], deadline_seconds: float, rate: float | None = None
) -> tuple[list[Outcome], float, float]:
    """All clients take jobs until none are left or the deadline passes.

    Closed loop (``rate`` None): each client sends its next job as soon as it has an answer.
    Open loop: job ``i`` is due at ``start + i / rate`` and its latency counts from then, so a
    server that falls behind shows it in the latency (no coordinated omission); at most
    ``len(clients)`` are in flight. Returns the outcomes and the window (start, end).
    """
    lock = threading.Lock()
    cursor = [0]
    results: list[list[Outcome]] = [[] for _ in clients]
    gate = threading.Barrier(len(clients) + 1)
    start_box = [0.0]

    def take() -> tuple[int, Job] | None:
        if time.perf_counter() - start_box[0] >= deadline_seconds:
            return None
        with lock:
            if cursor[0] >= len(jobs):
                return None
            cursor[0] += 1
            return cursor[0] - 1, jobs[cursor[0] - 1]

    def loop(index: int) -> None:
        gate.wait()
        while (item := take()) is not None:
            number, job = item
            due = None
            if rate:
                due = start_box[0] + number / rate
                if (delay := due - time.perf_counter()) > 0:
                    time.sleep(delay)
            outcome = fire(clients[index], job, due)
            outcome.client = index
            results[index].append(outcome)

    threads = [
        threading.Thread(target=loop, args=(i,), daemon=True, name=f"client-{i}")
        for i in range(len(clients))
    ]
    for thread in threads:
        thread.start()
    start_box[0] = time.perf_counter()
    gate.wait()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    outcomes = [o for chunk in results for o in chunk]
    end = max((o.done_at for o in outcomes), default=start_box[0])
    return outcomes, start_box[0], end


def run_parallel(calls: list[Any]) -> list[Any]:
    """Run zero-argument callables at once (released together), return their results."""
    results: list[Any] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def one(i: int) -> None:
        gate.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ------------------------------------------------------------------------------- CPU accounting


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def snapshot(pids: list[int]) -> dict[int, int]:
    return {pid: t for pid in pids if (t := _ticks(pid)) is not None}


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    hz = os.sysconf("SC_CLK_TCK")
    return sum(after[p] - before[p] for p in before if p in after) / hz


# ------------------------------------------------------------------------------- pg sampler


class ActivitySampler(threading.Thread):
    """Samples ``pg_stat_activity`` for the bench database: what the backends wait on."""

    def __init__(self, url: str, database: str, interval: float = 0.1) -> None:
        super().__init__(daemon=True, name="pg-sampler")
        self.url, self.database, self.interval = url, database, interval
        self.stop_event = threading.Event()
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()
        self.in_tx_idle: Counter[str] = Counter()
        self.pids: set[int] = set()
        self.error = ""
        # CPU ticks of the database's backends: at the start (0 for one that connects later, whose
        # whole life is in the window) and when last seen. Backends come and go (the server
        # reconnects after MINSHENG_DB_CONN_MAX_AGE), so a snapshot at both ends would miss some.
        self.first_ticks: dict[int, int] = {}
        self.last_ticks: dict[int, int] = {}

    def begin(self, pids: list[int]) -> None:
        """Take the backends' starting CPU ticks, then start sampling."""
        self.first_ticks = snapshot(pids)
        self.last_ticks = dict(self.first_ticks)
        self.start()

    def backend_cpu_seconds(self) -> float:
        self.last_ticks.update(snapshot(list(self.last_ticks)))
        ticks = sum(t - self.first_ticks.get(pid, 0) for pid, t in self.last_ticks.items())
        return ticks / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        try:
            conn = pg_connect(self.url)
        except BenchError as exc:
            self.error = str(exc)
            return
        try:
            while not self.stop_event.wait(self.interval):
                try:
                    rows = self._sample(conn)
                except Exception as exc:  # noqa: BLE001 - a sampler must never kill the run
                    self.error = f"{type(exc).__name__}: {exc}"
                    return
                self.samples += 1
                for pid, state, wtype, wevent, query in rows:
                    self.pids.add(pid)
                    if (ticks := _ticks(pid)) is not None:
                        self.last_ticks[pid] = ticks
                    if state == "active":
                        label = f"active, waiting {wtype}:{wevent}" if wtype else "active (running)"
                        if wtype == "Lock":
                            self.lock_waits[_squash(query)] += 1
                    elif state == "idle in transaction":
                        label = "idle in transaction (app works, locks held)"
                        self.in_tx_idle[_squash(query)] += 1
                    else:
                        label = str(state)
                    self.states[label] += 1
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def _sample(self, conn: Any) -> list[Any]:
        return list(
            conn.execute(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 70) "
                "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'",
                [self.database],
            ).fetchall()
        )

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)

    def mean(self, counter: Counter[str]) -> list[tuple[str, float]]:
        if not self.samples:
            return []
        return [(k, v / self.samples) for k, v in counter.most_common()]


def _squash(query: str | None) -> str:
    text = re.sub(r"\s+", " ", query or "").strip()
    text = re.sub(r'"s\d+_x\d+"', '"s…"', text)  # savepoint names
    return re.sub(r"\b\d+\b", "N", text)  # literal values (client-side binding)


def backend_pids(url: str, database: str) -> list[int]:
    with pg_connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        ).fetchall()
    return [int(r[0]) for r in rows]


# ------------------------------------------------------------------------------- the server


class Server:
    """``minsheng serve`` in its own session; ``stop`` always sends SIGTERM (then SIGKILL)."""

    def __init__(
        self, env: dict[str, str], port: int, workers: int, threads: int, log: Path
    ) -> None:
        self.env = {**env, "MINSHENG_THREADS": str(threads)}
        self.port, self.workers, self.threads, self.log_path = port, workers, threads, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            MINSHENG,
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--allow-demo-accounts",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own executable
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n  ".join(text.strip().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 90) -> None:
        if self.proc is None:
            raise BenchError("the server was not started")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"minsheng serve exited with {self.proc.returncode}:\n  {self.log_tail()}"
                )
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/api/openapi.json")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except TRANSPORT_ERRORS:
                pass
            time.sleep(0.25)
        raise BenchError(f"minsheng serve did not answer within {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.proc else []

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------- one config


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Result:
    workers: int
    threads: int
    clients: int
    ok: int = 0
    attempted: int = 0
    window: float = 0.0
    rate: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    per_second: tuple[float, float, float] | None = None
    per_client: tuple[float, float] | None = None  # lowest and highest median latency (s)
    statuses: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    warmup_ok: int = 0
    app_cpu: float = 0.0  # cores in use during the window
    pg_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores
    round: int = 1
    code: str = ""  # "" = the code measured; else the --baseline commit
    offered: float | None = None  # --rate (open loop)

    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    pg_states: list[tuple[str, float]] = field(default_factory=list)
    pg_lock_waits: list[tuple[str, float]] = field(default_factory=list)
    pg_idle_in_tx: list[tuple[str, float]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.workers}x{self.threads}" + (f" @{self.code}" if self.code else "")

    @property
    def row_label(self) -> str:
        return self.label if self.round == 1 else f"{self.label} (round {self.round})"

    @property
    def other_cpu(self) -> float:
        """Cores busy with anything else: other users of the shared machine, PG's own helpers."""
        return max(0.0, self.machine_busy * _cores() - self.app_cpu - self.pg_cpu - self.client_cpu)

    def ms_per_submission(self, cores: float) -> float:
        return cores / self.rate * 1000 if self.rate else float("nan")

    @property
    def errors(self) -> int:
        return self.attempted - self.ok

    @property
    def passed(self) -> bool:
        return self.errors == 0 and all(ok for _n, ok, _d in self.checks)

    def meets_target(self) -> bool:
        """Closed loop: the rate reached. Open loop: ≥ the target offered and kept up with."""
        if self.offered:
            rate_ok = self.offered >= TARGET_RATE and self.rate >= 0.99 * self.offered
        else:
            rate_ok = self.rate >= TARGET_RATE
        return rate_ok and self.clients >= 32 and self.p99 * 1000 < TARGET_P99_MS


@dataclass
class Side:
    """One version of the code under test, with its own database and data directory."""

    label: str  # "" for the code measured; the commit for --baseline
    database: str
    db_url: str
    data_dir: Path
    env: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    created: bool = False

    def prepare(self, admin_url: str) -> None:
        t0 = time.monotonic()
        say(f"creating database {self.database} …")
        recreate_database(admin_url, self.database)
        self.created = True
        run_checked([MINSHENG, "migrate"], self.env, f"minsheng migrate ({self.database})")
        out = run_checked([PYTHON, "-c", SETUP_CODE], self.env, "loading the demo org")
        self.data = json.loads(out.splitlines()[-1])
        say(
            f"{self.database} ready in {time.monotonic() - t0:.0f} s: "
            f"{len(self.data['categories'])} categories, {len(self.data['villages'])} villages"
        )


def make_side(
    args: argparse.Namespace, label: str, database: str, src: Path | None, root: Path
) -> Side:
    data_dir = root / (f"data-{label}" if label else "data")
    data_dir.mkdir()
    db_url = with_database(args.postgres, database)
    env = bench_env(db_url, data_dir)
    if src is not None:  # an exported tree: its package shadows the editable install
        env["PYTHONPATH"] = str(src)
    return Side(label=label, database=database, db_url=db_url, data_dir=data_dir, env=env)


def run_config(
    args: argparse.Namespace,
    side: Side,
    workers: int,
    threads: int,
    rng: random.Random,
    log_dir: Path,
) -> Result:
    result = Result(
        workers=workers, threads=threads, clients=args.clients, code=side.label, offered=args.rate
    )
    env, db_url, data = side.env, side.db_url, side.data
    table = data["tables"]["appeal"]
    port = free_port()
    log = log_dir / f"serve-{workers}x{threads}-{result.code or 'main'}.log"
    server = Server(env, port, workers, threads, log)
    say(f"[{result.label}] starting minsheng serve --workers {workers} (threads {threads}) …")
    # Payloads are generated before the clock starts: the client's CPU goes to HTTP only.
    warm_jobs = make_jobs(rng, data, max(args.clients * 200, 2000))
    jobs = make_jobs(rng, data, args.requests)
    clients = [Client(port) for _ in range(args.clients)]
    sampler = ActivitySampler(db_url, side.database)
    try:
        server.start()
        server.wait_ready()
        rows_before = count_rows(db_url, table)
        say(f"[{result.label}] warming up for {args.warmup_seconds:g} s …")
        warm, _s, _e = run_phase(clients, warm_jobs, args.warmup_seconds, args.rate)
        result.warmup_ok = sum(1 for o in warm if o.status == 201)
        if result.warmup_ok == 0:
            sample = warm[0].error if warm else "no response"
            raise BenchError(f"no submission succeeded during warm-up: {sample}")
        for client in clients:
            client.connects, client.transport_errors = 0, Counter()

        pace = f" at {args.rate:g}/s (open loop)" if args.rate else ""
        say(
            f"[{result.label}] measuring: {args.clients} clients{pace}, up to {args.requests} "
            f"submissions or {args.max_seconds:g} s …"
        )
        app_pids = server.pids()
        app0 = snapshot(app_pids)
        sampler.begin(backend_pids(db_url, side.database))
        machine0, self0 = _machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
        outcomes, start, end = run_phase(clients, jobs, args.max_seconds, args.rate)
        app1 = snapshot(app_pids)
        machine1, self1 = _machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
        sampler.stop()

        result.window = max(end - start, 1e-9)
        result.app_cpu = cpu_seconds(app0, app1) / result.window
        result.pg_cpu = sampler.backend_cpu_seconds() / result.window
        result.client_cpu = (
            self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime
        ) / result.window
        busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
        result.machine_busy = busy / total if total else 0.0
        result.pg_states = sampler.mean(sampler.states)
        result.pg_lock_waits = sampler.mean(sampler.lock_waits)
        result.pg_idle_in_tx = sampler.mean(sampler.in_tx_idle)

        result.attempted = len(outcomes)
        good = [o for o in outcomes if o.status == 201]
        result.ok = len(good)
        result.rate = result.ok / result.window
        latencies = sorted(o.latency for o in outcomes)
        result.p50, result.p90 = percentile(latencies, 50), percentile(latencies, 90)
        result.p99, result.max = percentile(latencies, 99), latencies[-1] if latencies else 0.0
        result.statuses = Counter(o.status for o in outcomes)
        result.error_samples = [
            f"{o.status}: {o.error}" for o in outcomes if o.status != 201 and o.error
        ][:5]
        for client in clients:
            result.transport_errors.update(client.transport_errors)
            result.connects += client.connects
        by_client: dict[int, list[float]] = defaultdict(list)
        for o in outcomes:
            by_client[o.client].append(o.latency)
        medians = [statistics.median(v) for v in by_client.values()]
        result.per_client = (min(medians), max(medians)) if medians else None
        buckets = Counter(int(o.done_at - start) for o in good)
        full = [buckets.get(s, 0) for s in range(int(result.window))]  # whole seconds only
        if full:
            result.per_second = (min(full), statistics.median(full), max(full))

        verify(args, result, db_url, data, port, rows_before, warm, outcomes, rng)
    finally:
        if sampler.is_alive():
            sampler.stop()
        for client in clients:
            client.close()
        server.stop()
    return result


def verify(
    args: argparse.Namespace,
    result: Result,
    db_url: str,
    data: dict[str, Any],
    port: int,
    rows_before: int,
    warm: list[Outcome],
    outcomes: list[Outcome],
    rng: random.Random,
) -> None:
    table = data["tables"]["appeal"]
    succeeded = [o for o in [*warm, *outcomes] if o.status == 201]
    ids = {o.appeal_id for o in succeeded}
    rows = count_rows(db_url, table)
    result.checks.append(
        (
            "appeal rows = 201 answers",
            rows - rows_before == len(succeeded) == len(ids),
            f"{rows - rows_before} new rows, {len(succeeded)} answers with 201, "
            f"{len(ids)} distinct ids",
        )
    )

    # Retries of used keys, same body: the stored answer comes back, nothing new is created.
    sample = rng.sample(succeeded, k=min(args.retries, len(succeeded)))
    clients = [Client(port) for _ in range(min(8, max(1, len(sample))))]

    def replay(client: Client, part: list[Outcome]) -> list[tuple[Outcome, Outcome]]:
        return [(o, fire(client, Job(o.key, o.body))) for o in part]

    step = len(clients)
    replays = run_parallel([lambda i=i: replay(clients[i], sample[i::step]) for i in range(step)])
    pairs = [pair for chunk in replays for pair in chunk]
    same = sum(1 for o, again in pairs if again.status == 201 and again.appeal_id == o.appeal_id)
    after = count_rows(db_url, table)
    result.checks.append(
        (
            f"{len(pairs)} retries of used keys",
            same == len(pairs) and after == rows,
            f"{same} answered 201 with the original id, {after - rows} new rows",
        )
    )

    # Concurrent duplicates: the same fresh key sent twice at once creates one appeal.
    fresh = make_jobs(rng, data, 10)
    before = after
    twins: list[tuple[Outcome, Outcome]] = []
    for job in fresh:
        a, b = Client(port), Client(port)
        first, second = run_parallel([lambda a=a, j=job: fire(a, j), lambda b=b, j=job: fire(b, j)])
        a.close()
        b.close()
        twins.append((first, second))
    after = count_rows(db_url, table)
    agree = sum(1 for x, y in twins if x.status == y.status == 201 and x.appeal_id == y.appeal_id)
    result.checks.append(
        (
            f"{len(twins)} concurrent duplicate pairs",
            agree == len(twins) and after - before == len(twins),
            f"{agree} pairs answered 201 with one id, {after - before} new rows",
        )
    )

    # A used key with a different body is refused and creates nothing.
    reused = [Job(o.key, fresh_job.body) for o, fresh_job in zip(sample[:5], fresh, strict=False)]
    refused = [fire(clients[0], job) for job in reused]
    final = count_rows(db_url, table)
    statuses = Counter(o.status for o in refused)
    result.checks.append(
        (
            f"{len(reused)} used keys with another body",
            all(o.status not in (0, 201) and o.status < 500 for o in refused) and final == after,
            f"answered {dict(statuses)}, {final - after} new rows",
        )
    )
    for client in clients:
        client.close()


def audit_check(env: dict[str, str]) -> tuple[str, bool, str]:
    done = subprocess.run(  # noqa: S603 - our own executable
        [MINSHENG, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return ("audit chain verifies", done.returncode == 0, text[-1] if text else "")


# ------------------------------------------------------------------------------- profiling

PROFILE_CODE = r"""
import cProfile, io, json, pstats, re, sys, sysconfig, time, uuid
from collections import defaultdict
import django
django.setup()
from django.db import connection
from minsheng.wsgi import application

payloads = [p.encode() for p in json.loads(sys.stdin.read())]
n_warm, n = int(sys.argv[1]), int(sys.argv[2])
stats = defaultdict(lambda: [0, 0.0])
commit = [0, 0.0]
recording = [False]

def wrapper(execute, sql, params, many, context):
    t = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        if recording[0]:
            key = re.sub(r'"s\d+_x\d+"', '"s…"', " ".join(sql.split()))[:100]
            stats[key][0] += 1
            stats[key][1] += time.perf_counter() - t

def call(body):
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/public/appeals", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4()), "HTTP_ACCEPT_LANGUAGE": "zh-hans",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    status = []
    out = b"".join(application(environ, lambda s, h, e=None: status.append(s)))
    if not status[0].startswith("201"):
        raise SystemExit(f"profile request failed: {status[0]} {out[:300]!r}")

with connection.execute_wrapper(wrapper):
    for body in payloads[:n_warm]:
        call(body)
    real_commit = connection._commit
    def timed_commit():
        t = time.perf_counter()
        try:
            return real_commit()
        finally:
            if recording[0]:
                commit[0] += 1
                commit[1] += time.perf_counter() - t
    connection._commit = timed_commit
    # Pass 1, timings only (no profiler): what one submission costs on an idle connection.
    recording[0] = True
    cpu0, t0 = time.process_time(), time.perf_counter()
    for body in payloads[n_warm:n_warm + n]:
        call(body)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    recording[0] = False
# Pass 2, under cProfile (which slows Python down): where the Python time goes.
profiler = cProfile.Profile()
profiler.enable()
for body in payloads[n_warm + n:]:
    call(body)
profiler.disable()

sql_time = sum(v[1] for v in stats.values())
queries = sum(v[0] for v in stats.values())
ms = lambda seconds: f"{seconds / n * 1000:.2f} ms"
print(f"In-process profile: {n} submissions through the WSGI app (one thread, no HTTP, no "
      "concurrency: the floor of a submission's cost).")
print(f"  wall {ms(wall)} per submission; CPU of this Python process {ms(cpu)}")
print(f"  SQL: {queries / n:.1f} statements per submission taking {ms(sql_time)} (round trip "
      f"plus PostgreSQL's work); COMMIT {ms(commit[1])} ({commit[0] / n:.1f} per submission)")
print(f"  Python outside SQL and COMMIT: {ms(wall - sql_time - commit[1])}")
print("\n  statements per submission (count, ms each, ms per submission):")
for sql, (count, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
    print(f"    {count / n:4.1f}  {seconds / count * 1000:6.3f}  {seconds / n * 1000:6.3f}  {sql}")
prefixes = [sysconfig.get_paths()["purelib"] + "/", sysconfig.get_paths()["stdlib"] + "/"]
for order, top in (("cumulative", 45), ("tottime", 25)):
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats(order).print_stats(top)
    text = buf.getvalue()
    for prefix in prefixes:
        text = text.replace(prefix, "")
    text = re.sub(r"\S*/src/minsheng/", "minsheng/", text)
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print(f"\n  cProfile of another {n} submissions, by {order} time (seconds for all {n}):")
    print("\n".join("    " + line for line in lines[first:] if line.strip()))
"""


def run_profile(env: dict[str, str], data: dict[str, Any], count: int, seed: int) -> str:
    rng = random.Random(seed + 7)
    warm = 30
    payloads = [j.body.decode() for j in make_jobs(rng, data, warm + 2 * count)]
    done = subprocess.run(  # noqa: S603 - our own executable
        [PYTHON, "-c", PROFILE_CODE, str(warm), str(count)],
        input=json.dumps(payloads, ensure_ascii=False),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise BenchError(f"profile failed:\n{done.stderr[-2000:]}")
    return done.stdout


# ------------------------------------------------------------------------------- reporting


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_info(admin_url: str) -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    with pg_connect(admin_url) as conn:
        pg = str(conn.execute("SHOW server_version").fetchone()[0])
        sync = str(conn.execute("SHOW synchronous_commit").fetchone()[0])
    versions = {}
    for name in ("django", "gunicorn", "psycopg"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # noqa: BLE001 - informational only
            versions[name] = "?"
    return {
        "cores": str(_cores()),
        "cpu": model or platform.machine(),
        "memory": mem,
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "python": platform.python_version(),
        "postgres": f"{pg} (synchronous_commit={sync})",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "code": code_version(),
    }


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""
    try:
        head = subprocess.run(  # noqa: S603, S607 - git, read-only
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603, S607 - git, read-only
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


HEADER = (
    "workers×threads",
    "201s",
    "errors",
    "window s",
    "submissions/s",
    "vs first",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "app CPU ms/sub",
    "PG CPU ms/sub",
    "client cores",
    "other cores",
)


def rows_of(results: list[Result]) -> list[list[str]]:
    """One row per measurement; "vs first" compares with the first config of the same round."""
    firsts: dict[int, float] = {}
    for r in results:
        firsts.setdefault(r.round, r.rate)
    rows = []
    for r in results:
        base = firsts[r.round]
        rows.append(
            [
                r.row_label,
                str(r.ok),
                str(r.errors),
                f"{r.window:.1f}",
                f"{r.rate:.1f}",
                f"{r.rate / base:.2f}" if base else "-",
                f"{r.p50 * 1000:.0f}",
                f"{r.p90 * 1000:.0f}",
                f"{r.p99 * 1000:.0f}",
                f"{r.max * 1000:.0f}",
                f"{r.ms_per_submission(r.app_cpu):.1f}",
                f"{r.ms_per_submission(r.pg_cpu):.1f}",
                f"{r.client_cpu:.2f}",
                f"{r.other_cpu:.2f}",
            ]
        )
    return rows


def text_table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(widths[i]) for i, c in enumerate(row)) for row in rows]
    head = "  ".join(h.rjust(widths[i]) for i, h in enumerate(header))
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def md_table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(r: Result, compact: bool = False) -> list[str]:
    out = [
        f"{r.row_label}: warm-up {r.warmup_ok} submissions; per-second 201s min/median/max "
        + ("/".join(f"{v:.0f}" for v in r.per_second) if r.per_second else "n/a")
        + "; "
        f"{r.connects} new connections during measurement"
        + (" (sync workers close after every response)" if r.threads == 1 else "")
        + (
            f"; median latency per client {r.per_client[0] * 1000:.0f}–"
            f"{r.per_client[1] * 1000:.0f} ms"
            if r.per_client
            else ""
        ),
    ]
    if r.errors:
        out.append(f"  non-201 answers by status: {dict(sorted(r.statuses.items()))}")
        out += [f"    e.g. {s}" for s in r.error_samples]
    if r.transport_errors:
        out.append(f"  transport errors (retried once, same key): {dict(r.transport_errors)}")
    if compact and all(ok for _n, ok, _d in r.checks):
        out.append(
            "  checks ok: " + "; ".join(f"{name}: {detail}" for name, _ok, detail in r.checks)
        )
    else:
        out += [f"  [{'ok' if ok else 'FAILED'}] {n}: {d}" for n, ok, d in r.checks]
    if r.pg_states:
        states = ", ".join(f"{k} {v:.1f}" for k, v in r.pg_states)
        out.append(f"  PostgreSQL backends (mean count per sample): {states}")
    for query, mean in r.pg_lock_waits[:3]:
        out.append(f"    waiting on a lock ({mean:.1f}): {query}")
    for query, mean in r.pg_idle_in_tx[:3]:
        out.append(f"    idle in transaction after ({mean:.1f}): {query}")
    return out


def load_description(args: argparse.Namespace) -> str:
    loop = (
        f"open loop at {args.rate:g} submissions/s (latency from each one's due time)"
        if args.rate
        else "closed loop (each client sends again as soon as it is answered)"
    )
    return (
        f"{args.clients} clients with keep-alive connections, {loop}, up to {args.requests} "
        f"submissions or {args.max_seconds:g} s per configuration after a "
        f"{args.warmup_seconds:g} s warm-up"
    )


def verdict(results: list[Result], args: argparse.Namespace) -> str:
    best = max(results, key=lambda r: r.rate)
    fastest = min(results, key=lambda r: r.p99)
    met = [r for r in results if r.meets_target()]
    target = f"target ≥ {TARGET_RATE:.0f}/s with p99 < {TARGET_P99_MS:.0f} ms at 32 clients"
    if met:
        names = ", ".join(
            f"{r.row_label} ({r.rate:.0f}/s, p99 {r.p99 * 1000:.0f} ms)"
            for r in sorted(met, key=lambda r: r.p99)
        )
        text = f"{target}: MET by {names}"
        if args.rate:
            text += f" — open loop, {args.rate:g}/s offered and kept up with"
    else:
        text = (
            f"{target}: NOT MET — highest rate {best.row_label} {best.rate:.1f}/s "
            f"(p99 {best.p99 * 1000:.0f} ms); lowest p99 {fastest.row_label} "
            f"{fastest.p99 * 1000:.0f} ms ({fastest.rate:.1f}/s)"
        )
    if not args.rate:
        text += (
            f". Closed loop: mean latency = clients / rate, so at {args.clients} clients a p99 "
            f"under {TARGET_P99_MS:.0f} ms needs well over "
            f"{args.clients / TARGET_P99_MS * 1000:.0f} submissions/s"
        )
    return text


def record(
    command: str,
    info: dict[str, str],
    args: argparse.Namespace,
    results: list[Result],
    audits: list[tuple[str, bool, str]],
    profile: str = "",
) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### {now} — `{command}`",
        "",
        f"Machine: {info['cores']} cores, {info['cpu']}, {info['memory']} RAM, load average "
        f"before the run {info['load']}; PostgreSQL {info['postgres']} on 127.0.0.1; "
        f"Python {info['python']}, {info['versions']}. Code: {info['code']}.",
        f"Load: {load_description(args)}. CPU: app = gunicorn master and workers, PG = this "
        "database's backends, in CPU milliseconds per 201; client = this script and other = "
        "everything else on the machine (other users, PostgreSQL's helpers), in cores.",
        "",
        md_table(HEADER, rows_of(results)),
        "",
        *(
            [
                f"Median over {args.rounds} interleaved rounds:",
                "",
                md_table(SUMMARY_HEADER, summary_rows(results)),
                "",
            ]
            if args.rounds > 1
            else []
        ),
        f"**{verdict(results, args)}**",
        "",
    ]
    for r in results:
        for line in details(r, compact=True):
            if "idle in transaction after" in line:
                continue  # console only
            depth = (len(line) - len(line.lstrip())) // 2
            lines.append("  " * depth + "- " + line.strip())
    lines += [f"- [{'ok' if ok else 'FAILED'}] {name}: {detail}" for name, ok, detail in audits]
    if profile:  # the timings and statements; the cProfile listings stay on the console
        head = profile.split("\n  cProfile of another")[0].rstrip()
        lines += ["", "```text", head, "```"]
    entry = "\n".join(lines).rstrip() + "\n\n"

    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip() + "\n\n" + SECTION + "\n\n" + f"{RUNS_START}\n{RUNS_END}\n"
    if RUNS_START not in text:
        start = text.index(SECTION) + len(SECTION)
        text = text[:start] + f"\n\n{RUNS_START}\n{RUNS_END}\n" + text[start:]
    head, rest = text.split(RUNS_START, 1)
    text = head + RUNS_START + "\n\n" + entry + rest.lstrip("\n")
    RESULTS.write_text(text)
    say(f"recorded in {RESULTS}")


# ------------------------------------------------------------------------------- main


def _git(*args: str) -> bytes:
    try:
        return subprocess.run(  # noqa: S603, S607 - git, read-only commands only
            ["git", "-C", str(ROOT), *args], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise BenchError(
            f"git {' '.join(args)} failed: {detail.decode(errors='replace')}"
        ) from None


def export_src(ref: str, into: Path) -> tuple[str, Path]:
    """Extract ``src/`` at ``ref`` with ``git archive`` (read-only); it runs via ``PYTHONPATH``."""
    commit = _git("rev-parse", "--short", f"{ref}^{{commit}}").decode().strip()
    dest = into / f"src-{commit}"
    dest.mkdir()
    with tarfile.open(fileobj=io.BytesIO(_git("archive", "--format=tar", commit, "src"))) as tar:
        if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4
            tar.extractall(dest, filter="data")
        else:  # our own repository's archive
            tar.extractall(dest)  # noqa: S202
    return commit, dest / "src"


def parse_configs(spec: str) -> list[tuple[int, int]]:
    configs = []
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", part)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise argparse.ArgumentTypeError(f"not WORKERSxTHREADS: {part!r}")
        configs.append((int(match[1]), int(match[2])))
    return configs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Appeal submissions per second through POST /api/v1/public/appeals.",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="admin connection URL (needs CREATEDB; default POSTGRES_URL or postgres@127.0.0.1)",
    )
    parser.add_argument("--database", default="minsheng_bench", help="database to (re)create")
    parser.add_argument("--keep", action="store_true", help="keep the database and data dir")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=6000, help="measured submissions")
    parser.add_argument("--max-seconds", type=float, default=120, help="measured window bound")
    parser.add_argument("--warmup-seconds", type=float, default=5)
    parser.add_argument(
        "--workers", type=int, default=2 * _cores() + 1, help="default: 2 × cores + 1"
    )
    parser.add_argument("--threads", type=int, default=4, help="MINSHENG_THREADS (default 4)")
    parser.add_argument(
        "--sweep",
        nargs="?",
        const=DEFAULT_SWEEP,
        type=parse_configs,
        help=f"compare WORKERSxTHREADS configurations in one run (default {DEFAULT_SWEEP})",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --sweep: repeat it, interleaved"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: offer this many submissions/s (latency from each one's due time); "
        "default: closed loop, every client sends again as soon as it is answered",
    )
    parser.add_argument("--retries", type=int, default=50, help="retries of used keys")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile N submissions in-process, with SQL timings",
    )
    parser.add_argument(
        "--code",
        metavar="GIT_REF",
        help="measure src/ at this commit instead of the working tree (git archive)",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="A/B: also run every configuration against src/ at this commit (its own "
        "database, DATABASE_base), interleaved",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--record", action="store_true", help=f"write to {RESULTS.name}")
    parser.add_argument(
        "--check-target", action="store_true", help="exit 3 when the target is not met"
    )
    return parser


def _terminate(signum: int, _frame: object) -> None:
    print(f"intake benchmark: stopped by signal {signum}; cleaning up", file=sys.stderr)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not _SAFE_NAME.match(args.database):
        raise BenchError(f"--database must be a plain lower-case name, not {args.database!r}")
    if args.clients < 1 or args.requests < 1 or args.rounds < 1:
        raise BenchError("--clients, --requests and --rounds must be at least 1")
    configs = args.sweep or [(args.workers, args.threads)]
    command = "python bench/intake.py" + (" " + shlex.join(argv or sys.argv[1:])).rstrip()
    signal.signal(signal.SIGTERM, _terminate)

    admin_url = args.postgres
    info = machine_info(admin_url)  # fails early, with a message, if PostgreSQL is down
    root = Path(tempfile.mkdtemp(prefix="minsheng-bench-"))
    rng = random.Random(args.seed)
    results: list[Result] = []
    sides: list[Side] = []
    audits: list[tuple[str, bool, str]] = []
    profile = ""
    try:
        primary = export_src(args.code, root) if args.code else None
        if primary is not None:
            info["code"] = f"{primary[0]} (--code {args.code}, exported with git archive)"
        sides.append(make_side(args, "", args.database, primary[1] if primary else None, root))
        if args.baseline:
            commit, src = export_src(args.baseline, root)
            info["code"] += f"; baseline {commit} (--baseline {args.baseline}) in its own database"
            sides.append(make_side(args, commit, f"{args.database}_base", src, root))
        for side in sides:
            side.prepare(admin_url)
        per_round = [(w, t, side) for w, t in configs for side in sides]
        plan = [entry for _ in range(args.rounds) for entry in per_round]
        for number, (workers, threads, side) in enumerate(plan):
            result = run_config(args, side, workers, threads, rng, root)
            result.round = number // len(per_round) + 1
            results.append(result)
        for side in sides:
            name, ok, detail = audit_check(side.env)
            audits.append((name + (f" @{side.label}" if side.label else ""), ok, detail))
        if args.profile:
            profile = run_profile(sides[0].env, sides[0].data, args.profile, args.seed)
    finally:
        for side in sides:
            if side.created and not args.keep:
                with contextlib.suppress(BenchError):
                    drop_database(admin_url, side.database)
        if args.keep:
            say(f"kept database(s) {', '.join(s.database for s in sides)} and {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    passed = all(ok for _n, ok, _d in audits) and all(r.passed for r in results)
    print()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"Load: {load_description(args)}")
    print()
    print(text_table(HEADER, rows_of(results)))
    if args.rounds > 1:
        print()
        print(text_table(SUMMARY_HEADER, summary_rows(results)))
    print()
    for r in results:
        print("\n".join(details(r)))
    for name, ok, detail in audits:
        print(f"[{'ok' if ok else 'FAILED'}] {name}: {detail}")
    print()
    print(verdict(results, args))
    if profile:
        print()
        print(profile)
    if args.record:
        record(command, info, args, results, audits, profile)
    if not passed:
        say("FAILED: errors or failed checks above")
        return 1
    if args.check_target and not any(r.meets_target() for r in results):
        return 3
    return 0


SUMMARY_HEADER = (
    "workers×threads",
    "rounds",
    "median submissions/s",
    "median vs first",
    "median p99 ms",
    "median app+PG CPU ms/sub",
)


def summary_rows(results: list[Result]) -> list[list[str]]:
    """Medians per configuration over the rounds (ratios are taken within each round first)."""
    firsts: dict[int, float] = {}
    for r in results:
        firsts.setdefault(r.round, r.rate)
    by_config: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_config[r.label].append(r)
    return [
        [
            label,
            str(len(runs)),
            f"{statistics.median(r.rate for r in runs):.1f}",
            f"{statistics.median(r.rate / firsts[r.round] for r in runs if firsts[r.round]):.2f}",
            f"{statistics.median(r.p99 for r in runs) * 1000:.0f}",
            f"{statistics.median(r.ms_per_submission(r.app_cpu + r.pg_cpu) for r in runs):.1f}",
        ]
        for label, runs in by_config.items()
    ]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"intake benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("intake benchmark: interrupted", file=sys.stderr)
        sys.exit(130)
