"""Load: a realistic mix of citizens and staff against ``minsheng serve`` on PostgreSQL (issue 6).

What one run does:

1. Recreates its own PostgreSQL database (``--database``, default ``minsheng_bench_load``),
   migrates it and loads the demo city with ``--year`` appeals replayed through the services
   (``minsheng seed``), so queues, details and lookups read a populated table.
2. Starts ``minsheng serve --workers N`` (``--app-workers``) and ``--task-workers`` processes of
   ``minsheng worker`` on 127.0.0.1, then lets ``--clients`` threads (one keep-alive connection
   each; staff clients logged in through the console's login form) run the mix for
   ``--seconds`` after ``--warmup`` seconds, and stop by themselves:

   ==============  ======  =======================================================================
   kind            weight  request
   ==============  ======  =======================================================================
   submit          25      citizen: POST /api/v1/public/appeals (own Idempotency-Key)
   track           25      citizen: POST /api/v1/public/appeals/track (code + phone of one
                           submitted earlier in the run)
   queue           20      staff: GET /console/appeals/ (dispatcher, or 和兴镇's handler)
   detail          20      staff: GET /console/appeals/<id>/ of an appeal in the account's scope
   dispatch        10      dispatcher: POST /api/v1/appeals/<id>/dispatch of a new appeal to its
                           village's township (session + CSRF, as the console's script does)
   ==============  ======  =======================================================================

3. Prints sustained requests/s and p50/p99/max per kind and over all, the statuses seen, where
   the window's CPU went (app, task workers, PostgreSQL, the loader) and what PostgreSQL read
   from its buffers, the OS and the disk per request (``procstat.py``), and checks afterwards
   that every 201 submission is in the database once. Any non-2xx answer or transport error is
   an error; the run fails (exit 1) if there is one. ``--record`` writes
   the table to the "## Load (issue 6)" section of ``bench/RESULTS.md``.

The tracking rate limit (``MINSHENG_TRACKING_RATE``, per client address per minute) is raised
for the run: every simulated citizen comes from 127.0.0.1.

Run with the project's virtualenv::

    .venv/bin/python bench/load.py                       # 3 app workers, 1 task worker, 60 s
    .venv/bin/python bench/load.py --app-workers 5 --clients 24 --record

It contacts only the server it starts on 127.0.0.1 and PostgreSQL at ``--postgres``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake  # noqa: E402 - server, payloads, PostgreSQL and table helpers
import procstat  # noqa: E402 - CPU split and PostgreSQL's reads over the window
from intake import (  # noqa: E402
    HOST,
    MINSHENG,
    PYTHON,
    BenchError,
    Server,
    bench_env,
    free_port,
    make_payload,
    md_table,
    percentile,
    run_checked,
    say,
    text_table,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Load (issue 6)"
MIX = {"submit": 25, "track": 25, "queue": 20, "detail": 20, "dispatch": 10}
STAFF = {"dispatcher": "dispatcher", "handler": "hexing_handler"}
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
SCOPE_CODE = r"""
import json, django
django.setup()
from minsheng.appeals.permissions import visible_to
from minsheng.appeals.models import Appeal
from minsheng.org.models import OrgUnit, User
out = {}
for key, username in json.loads(__import__("sys").argv[1]).items():
    user = User.objects.get(username=username)
    ids = Appeal.objects.filter(visible_to(user)).order_by("-id").values_list("id", flat=True)
    ids = ids[:2000]
    out[key] = list(ids)
out["townships"] = {str(pk): parent for pk, parent in OrgUnit.objects.values_list("pk", "parent")}
print(json.dumps(out))
"""


@dataclass
class Shared:
    """What the clients learn during the run: appeals to look up, detail and dispatch."""

    submitted: list[tuple[str, str]] = field(default_factory=list)  # (code, phone)
    to_dispatch: list[tuple[int, int]] = field(default_factory=list)  # (appeal id, village id)
    visible: dict[str, list[int]] = field(default_factory=dict)
    townships: dict[str, int] = field(default_factory=dict)
    created: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Session:
    """One keep-alive connection with cookies (a browser tab, or a citizen's phone)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        headers = dict(headers or {})
        headers.setdefault("Accept-Language", "zh-hans")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                if attempt == 2:
                    raise
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return response.status, raw

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/console/login/")
        token = CSRF_INPUT.search(page)
        if status != 200 or token is None:
            raise BenchError(f"login page answered {status}")
        form = (
            f"username={username}&password={password}&csrfmiddlewaretoken={token.group(1).decode()}"
        )
        status, _ = self.request(
            "POST",
            "/console/login/",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Referer": self._origin()},
        )
        if status != 302:
            raise BenchError(f"{username} could not log in (HTTP {status})")

    def _origin(self) -> str:
        return f"http://{HOST}:{self.port}/console/login/"

    def close(self) -> None:
        self.conn.close()


@dataclass
class Outcome:
    kind: str
    status: int
    latency: float
    done_at: float
    error: str = ""


class Worker(threading.Thread):
    """One simulated user: picks a kind by the mix's weights, sends it, records the outcome."""

    def __init__(
        self, index: int, port: int, shared: Shared, data: dict[str, Any], password: str, seed: int
    ) -> None:
        super().__init__(daemon=True, name=f"load-{index}")
        self.rng = random.Random(seed + index)
        self.shared, self.data = shared, data
        self.citizen = Session(port)
        self.staff = {key: Session(port) for key in STAFF}
        for key, username in STAFF.items():
            self.staff[key].login(username, password)
        self.outcomes: list[Outcome] = []
        self.stop_at = 0.0
        self.start_gate: threading.Event | None = None

    def run(self) -> None:
        if self.start_gate is not None:
            self.start_gate.wait()
        kinds, weights = list(MIX), list(MIX.values())
        while time.perf_counter() < self.stop_at:
            kind = self.rng.choices(kinds, weights=weights)[0]
            began = time.perf_counter()
            try:
                status, error = getattr(self, f"do_{kind}")()
            except (OSError, http.client.HTTPException) as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}"
            now = time.perf_counter()
            self.outcomes.append(Outcome(kind, status, now - began, now, error))

    def do_submit(self) -> tuple[int, str]:
        payload = make_payload(self.rng, self.data)
        body = json.dumps(payload, ensure_ascii=False).encode()
        status, raw = self.citizen.request(
            "POST",
            intake.SUBMIT_PATH,
            body,
            {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
        )
        if status != 201:
            return status, raw[:200].decode(errors="replace")
        answer = json.loads(raw)
        with self.shared.lock:
            self.shared.submitted.append((answer["tracking_code"], payload["phone"]))
            self.shared.to_dispatch.append((int(answer["id"]), payload["territory_id"]))
            self.shared.created.append(int(answer["id"]))
        return status, ""

    def do_track(self) -> tuple[int, str]:
        with self.shared.lock:
            pick = self.rng.choice(self.shared.submitted) if self.shared.submitted else None
        if pick is None:
            return self.do_submit()
        code, phone = pick
        body = json.dumps({"tracking_code": code, "phone": phone}).encode()
        status, raw = self.citizen.request(
            "POST", "/api/v1/public/appeals/track", body, {"Content-Type": "application/json"}
        )
        return status, "" if status == 200 else raw[:200].decode(errors="replace")

    def _staff(self) -> tuple[str, Session]:
        key = self.rng.choice(list(STAFF))
        return key, self.staff[key]

    def do_queue(self) -> tuple[int, str]:
        _key, session = self._staff()
        status, raw = session.request("GET", "/console/appeals/")
        return status, "" if status == 200 else raw[:200].decode(errors="replace")

    def do_detail(self) -> tuple[int, str]:
        key, session = self._staff()
        appeal_id = self.rng.choice(self.shared.visible[key])
        status, raw = session.request("GET", f"/console/appeals/{appeal_id}/")
        return status, "" if status == 200 else raw[:200].decode(errors="replace")

    def do_dispatch(self) -> tuple[int, str]:
        with self.shared.lock:
            if not self.shared.to_dispatch:
                item = None
            else:
                item = self.shared.to_dispatch.pop(0)
        if item is None:
            return self.do_submit()
        appeal_id, village = item
        session = self.staff["dispatcher"]
        body = json.dumps({"unit_id": self.shared.townships[str(village)]}).encode()
        status, raw = session.request(
            "POST",
            f"/api/v1/appeals/{appeal_id}/dispatch",
            body,
            {
                "Content-Type": "application/json",
                "X-CSRFToken": session.cookies.get("csrftoken", ""),
                "Referer": f"http://{HOST}:{session.port}/console/",
            },
        )
        return status, "" if status == 200 else raw[:200].decode(errors="replace")

    def close(self) -> None:
        self.citizen.close()
        for session in self.staff.values():
            session.close()


@dataclass
class Report:
    window: float
    outcomes: list[Outcome]

    def rows(self) -> list[list[str]]:
        by_kind: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            by_kind[outcome.kind].append(outcome)
        rows = []
        for kind in [*MIX, "all"]:
            chosen = self.outcomes if kind == "all" else by_kind.get(kind, [])
            if not chosen:
                continue
            latencies = sorted(o.latency * 1000 for o in chosen)
            errors = sum(1 for o in chosen if not 200 <= o.status < 300)
            rows.append(
                [
                    kind,
                    f"{len(chosen):,}",
                    f"{len(chosen) / self.window:,.1f}",
                    f"{percentile(latencies, 50):.1f}",
                    f"{percentile(latencies, 99):.1f}",
                    f"{latencies[-1]:.1f}",
                    str(errors),
                ]
            )
        return rows

    def errors(self) -> list[str]:
        bad = [o for o in self.outcomes if not 200 <= o.status < 300]
        return [f"{o.kind} {o.status}: {o.error}" for o in bad[:10]]


HEADER = ("kind", "requests", "per second", "p50 ms", "p99 ms", "max ms", "errors")


NEW_DEMO_LOGIN_CODE = r"""
import django
django.setup()
from django.db import transaction
from minsheng.org.demo import reset_demo_password
with transaction.atomic():
    print(reset_demo_password())
"""


def prepare(args: argparse.Namespace, root: Path) -> tuple[dict[str, str], dict[str, Any], str]:
    if args.reuse:
        db_url = args.reuse
        say(f"reusing {db_url.rsplit('/', 1)[-1]} (its demo accounts get a new password) …")
    else:
        say(f"creating database {args.database} …")
        intake.recreate_database(args.postgres, args.database)
        db_url = with_database(args.postgres, args.database)
    env = bench_env(db_url, root / "data")
    env["MINSHENG_TRACKING_RATE"] = "1000000"
    env["PYTHONPATH"] = str(ROOT / "src")  # this checkout's code, whatever .venv points at
    (root / "data").mkdir()
    run_checked([MINSHENG, "migrate"], env, "minsheng migrate")
    if args.reuse:
        out = run_checked([PYTHON, "-c", NEW_DEMO_LOGIN_CODE], env, "new demo password")
        password = out.splitlines()[-1].strip()
    else:
        say(f"replaying a year of {args.year:,} appeals through the services (minsheng seed) …")
        run_checked([MINSHENG, "seed", "--appeals", str(args.year)], env, "minsheng seed", 1800)
        password = (root / "data" / "demo_password").read_text().strip()
    out = run_checked([PYTHON, "-c", intake.SETUP_CODE], env, "reading the demo org")
    data = json.loads(out.splitlines()[-1])
    return env, data, password


def run(args: argparse.Namespace) -> tuple[Report, dict[str, Any]]:
    root = Path(tempfile.mkdtemp(prefix="minsheng-load-"))
    server: Server | None = None
    task_workers: list[subprocess.Popen[bytes]] = []
    workers: list[Worker] = []
    try:
        env, data, password = prepare(args, root)
        out = run_checked([PYTHON, "-c", SCOPE_CODE, json.dumps(STAFF)], env, "reading scopes")
        scopes = json.loads(out.splitlines()[-1])
        shared = Shared(visible={k: scopes[k] for k in STAFF}, townships=scopes.pop("townships"))
        if not all(shared.visible.values()):
            raise BenchError("a staff account sees no appeal: the year is too small")
        port = free_port()
        server = Server(env, port, args.app_workers, args.threads, root / "serve.log")
        say(
            f"starting minsheng serve --workers {args.app_workers} "
            f"and {args.task_workers} worker(s) …"
        )
        server.start()
        server.wait_ready()
        for number in range(args.task_workers):
            with open(root / f"worker-{number}.log", "ab") as log:
                task_workers.append(
                    subprocess.Popen(  # noqa: S603 - our own executable
                        [MINSHENG, "worker"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        workers = [Worker(i, port, shared, data, password, args.seed) for i in range(args.clients)]
        gate = threading.Event()
        warm_until = time.perf_counter() + 1e9
        for worker in workers:
            worker.start_gate = gate
            worker.stop_at = warm_until
            worker.start()
        say(
            f"{args.clients} clients: warming up for {args.warmup:g} s, "
            f"then measuring {args.seconds:g} s …"
        )
        sessions = {server.proc.pid: "app"} if server.proc else {}
        sessions.update({p.pid: "task workers" for p in task_workers})
        stats = intake.pg_connect(env["MINSHENG_DATABASE_URL"])
        database = env["MINSHENG_DATABASE_URL"].rsplit("/", 1)[-1]
        snapshots: list[procstat.Snapshot] = []
        opening = threading.Timer(
            args.warmup,
            lambda: snapshots.append(procstat.Snapshot.take(sessions, stats, database)),
        )
        begin = time.perf_counter()
        for worker in workers:
            worker.stop_at = begin + args.warmup + args.seconds
        gate.set()
        opening.start()
        for worker in workers:
            worker.join()
        opening.join()
        snapshots.append(procstat.Snapshot.take(sessions, stats, database))
        stats.close()
        start = begin + args.warmup
        measured = [o for w in workers for o in w.outcomes if o.done_at - o.latency >= start]
        end = max((o.done_at for o in measured), default=start + 1)
        report = Report(window=end - start, outcomes=measured)
        info = check(env, shared)
        info["usage"] = procstat.Usage.between(*snapshots).lines(len(measured))
        info["exited"] = [p.poll() for p in task_workers]
        return report, info
    finally:
        for worker in workers:
            worker.close()
        for proc in task_workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            if not args.reuse:  # a database it was given is not its own to drop
                with contextlib.suppress(BenchError):
                    intake.drop_database(args.postgres, args.database)
        else:
            say(f"kept {root} and database {args.database}")


CHECK_CODE = r"""
import json, sys, django
django.setup()
from minsheng.appeals.models import Appeal
ids = json.loads(sys.stdin.read())
found = Appeal.objects.filter(id__in=ids).count()
print(json.dumps({"created": len(ids), "distinct": len(set(ids)), "found": found}))
"""


def check(env: dict[str, str], shared: Shared) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [PYTHON, "-c", CHECK_CODE],
        env=env,
        input=json.dumps(shared.created),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def record(command: str, machine: dict[str, str], report: Report, info: dict[str, Any]) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = [
        f"### {stamp} — `{command}`",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + ".",
        f"Window: {report.window:.1f} s measured after the warm-up. Submissions answered 201: "
        f"{info['created']:,}, all in the database: {info['found'] == info['distinct']}.",
        "",
        *(f"- {line}" for line in info["usage"]),
        "",
        md_table(HEADER, report.rows()),
        "",
    ]
    text = RESULTS.read_text()
    if SECTION not in text:
        text = text.rstrip() + f"\n\n{SECTION}\n\n"
    head, tail = text.split(SECTION, 1)
    intro, _sep, rest = tail.partition("\n### ")
    rest = ("### " + rest) if _sep else ""
    text = head + SECTION + intro.rstrip() + "\n\n" + "\n".join(block) + "\n" + rest
    RESULTS.write_text(text.rstrip() + "\n")
    say(f"recorded in {RESULTS}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="minsheng_bench_load")
    parser.add_argument("--year", type=int, default=5000, help="appeals seeded beforehand")
    parser.add_argument("--app-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--task-workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE_URL",
        help="run against this existing database (e.g. 10M appeals from bench/generate.py) "
        "instead of a fresh one: no seeding, its demo accounts get a new password, it is kept",
    )
    parser.add_argument("--record", action="store_true", help=f"write to {RESULTS.name}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.app_workers, args.clients, args.year) < 1 or args.seconds <= 0:
        raise BenchError("--app-workers, --clients, --year and --seconds must be positive")
    command = "python bench/load.py" + (" " + shlex.join(argv or sys.argv[1:])).rstrip()
    machine = intake.machine_info(args.postgres)
    report, info = run(args)
    print()
    print(text_table(HEADER, report.rows()))
    print(f"\nsubmissions answered 201: {info['created']:,}; in the database: {info['found']:,}")
    print("\n".join(info["usage"]))
    errors = report.errors()
    for line in errors:
        print("  " + line)
    if args.record:
        record(command, machine, report, info)
    lost = info["found"] != info["distinct"] or info["created"] != info["distinct"]
    return 1 if errors or lost else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"load benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
