"""The ``minsheng`` command: serve, demo, worker, migrate, audit and Django's own commands.

``minsheng manage ARGS…`` is Django's ``manage.py``; everything else is a short, documented path
through it with the production defaults built in (README.md, "The minsheng command").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SETTINGS_MODULE = "minsheng.settings"
WSGI_APP = "minsheng.wsgi:application"
DEMO_PASSWORD_FILE = "demo_password"  # noqa: S105 - a file name, not a password
# Commands handed to Django unparsed: their own parsers own the arguments.
PASSTHROUGH = ("manage", "calendar", "report", "dispatch")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"MINSHENG_{name}", default)


def _env_flag(name: str) -> bool:
    return _env(name).strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = _env(name).strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"MINSHENG_{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SystemExit(f"MINSHENG_{name} must be at least 1, not {value}")
    return value


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """cores + 1 sync workers, unless ``MINSHENG_WORKERS`` says otherwise.

    Measured (bench/intake.py, bench/RESULTS.md): on 2 cores with PostgreSQL on the same machine,
    3 sync workers beat gunicorn's 2 × cores + 1 (less contention for the CPU); a request spends
    little time waiting on I/O, so more processes only queue for the same cores.
    """
    return _env_int("WORKERS", _cores() + 1)


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minsheng",
        description="民生 Minsheng — citizen appeals platform (接诉即办).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # Listed for --help only: main() hands these to Django before argparse sees them.
    commands.add_parser("manage", help="run a Django management command (manage.py)")
    commands.add_parser("calendar", help="working-day calendar: the `calendar` command")
    commands.add_parser("dispatch", help="smart dispatch: `dispatch train` the category model")

    migrate = commands.add_parser("migrate", help="apply database migrations (non-interactive)")
    migrate.set_defaults(handler=cmd_migrate)

    demo = commands.add_parser(
        "demo", help="migrate, load demo data once, print demo accounts, and serve"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--appeals", type=_non_negative_int, default=32000, help="appeals to generate (first run)"
    )
    demo.add_argument("--no-serve", action="store_true", help="load and print, do not serve")
    demo.set_defaults(handler=cmd_demo)

    seed = commands.add_parser("seed", help="generate a year of demo appeals (no migrate)")
    seed.add_argument("--appeals", type=_non_negative_int, required=True)
    seed.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    seed.set_defaults(handler=cmd_seed)

    serve = commands.add_parser("serve", help="run the production web server (gunicorn)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: MINSHENG_WORKERS or cores + 1)",
    )
    serve.add_argument(
        "--allow-demo-accounts",
        action="store_true",
        help="start even if demo accounts exist (or MINSHENG_ALLOW_DEMO_ACCOUNTS=1)",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run background task workers (django-tasks-db)")
    worker.add_argument("--queue", default="default", help="queue name(s), comma-separated")
    worker.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    worker.set_defaults(handler=cmd_worker)

    # Backup and restore (core/backup.py): one archive, database snapshot + attachments.
    backup = commands.add_parser(
        "backup", help="write one archive of the database and the attachments"
    )
    backup.add_argument("path", help="archive file to create, or a directory for a dated name")
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser(
        "restore", help="restore an archive into an empty database, then verify it"
    )
    restore.add_argument("path", help="archive written by `minsheng backup`")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database that is not empty (its current data is lost)",
    )
    restore.set_defaults(handler=cmd_restore)

    audit = commands.add_parser("audit", help="the hash-chained audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser("verify", help="check every record of the chain")
    verify.set_defaults(handler=cmd_audit_verify)
    # Retention (三员分立 / GB/T 22239): delete records past MINSHENG_AUDIT_KEEP_DAYS.
    purge = audit_commands.add_parser(
        "purge", help="delete records older than the keep period, leaving a checkpoint"
    )
    purge.add_argument(
        "--before",
        required=True,
        type=_iso_date,
        help="delete records written before this date (YYYY-MM-DD, Asia/Shanghai)",
    )
    purge.set_defaults(handler=cmd_audit_purge)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    if args_list and args_list[0] in PASSTHROUGH:
        return run_django_command(args_list)
    args = build_parser().parse_args(args_list)
    _setup_django()
    try:
        return int(args.handler(args) or 0)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1


def _setup_django() -> None:
    import django

    django.setup()


def run_django_command(args_list: list[str]) -> int:
    """``manage ARGS…`` runs ``ARGS…``; ``calendar ARGS…`` runs the ``calendar`` command."""
    from django.core.management import execute_from_command_line

    if args_list[0] == "manage":
        execute_from_command_line(["minsheng manage", *args_list[1:]])
    else:
        execute_from_command_line(["minsheng", *args_list])
    return 0


def _call(name: str, *args: str, **options: Any) -> None:
    from django.core.management import call_command

    call_command(name, *args, **options)


# --- migrate, demo, seed ---------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    _call("migrate", interactive=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from minsheng.appeals.demo import has_demo_data

    _say("Migrating the database … / 迁移数据库 …")
    _call("migrate", interactive=False, verbosity=0)
    if has_demo_data():
        _say("Demo data already loaded; skipping. / 演示数据已存在，跳过加载。")
    else:
        _load_demo(appeals=args.appeals, seed=2026)
    print_demo_accounts(url=f"http://{_display_host(args.host)}:{args.port}/")
    if args.no_serve:
        return 0
    # The demo is the one place demo accounts may log in, in this process and its workers.
    from django.conf import settings

    os.environ["MINSHENG_ALLOW_DEMO_ACCOUNTS"] = "1"
    settings.MINSHENG_ALLOW_DEMO_ACCOUNTS = True
    return serve(
        host=args.host, port=args.port, workers=default_workers(), allow_demo_accounts=True
    )


def cmd_seed(args: argparse.Namespace) -> int:
    from minsheng.org.demo import has_demo_org

    loaded_org = not has_demo_org()
    _load_demo(appeals=args.appeals, seed=args.seed)
    if loaded_org:
        print_demo_accounts(url=None)
    return 0


def _load_demo(*, appeals: int, seed: int) -> None:
    from minsheng.appeals.demo import seed_year
    from minsheng.org.demo import has_demo_org, load_demo_org

    if not has_demo_org():
        _say("Loading the demo organisation 和安市 … / 加载演示组织机构 …")
        store_demo_password(load_demo_org().password)
    _say(f"Generating {appeals} demo appeals … / 生成演示诉求 …")
    seed_year(appeals, seed=seed, progress=progress_printer())
    # The appeals still open at the end of the year get their warnings, reminders and
    # supervision orders now, as the worker's sweep would (a few seconds: open appeals only).
    from minsheng.supervision.services import sweep

    report = sweep().as_dict()
    _say(
        "Deadline sweep / 时限预警: {yellow} yellow, {red} red, {orders} supervision orders, "
        "{escalations} escalations".format(**report)
    )
    # The dashboards read daily rollups, which the worker keeps up to date; fill them now.
    from minsheng.analytics.rollups import refresh_rollups

    result = refresh_rollups(full=True)
    _say(f"Statistics / 统计: {result.days} days rolled up")


def progress_printer(step: int = 1000) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback printing one line each ``step`` appeals."""
    last = [0]

    def progress(done: int, total: int) -> None:
        if done // step > last[0] // step or (done == total and last[0] != total):
            print(f"  {done}/{total} appeals", file=sys.stderr, flush=True)
            last[0] = done

    return progress


def _display_host(host: str) -> str:
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - only shown, not bound
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _password_path() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / DEMO_PASSWORD_FILE


def store_demo_password(password: str) -> None:
    """Keep the demo password beside the database so a later ``minsheng demo`` can show it."""
    path = _password_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)


def demo_password() -> str | None:
    """The demo accounts' password: the stored one if it still works, else a fresh one."""
    from minsheng.org.demo import reset_demo_password
    from minsheng.org.models import User

    sample = User.objects.filter(is_demo=True, is_active=True).order_by("pk").first()
    if sample is None:
        return None
    try:
        stored = _password_path().read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored and sample.check_password(stored):
        return stored
    # The database was loaded elsewhere (or the file lost): its password cannot be read back.
    password = reset_demo_password()
    store_demo_password(password)
    return password


def print_demo_accounts(*, url: str | None) -> None:
    from minsheng.org.demo import DEMO_ACCOUNTS
    from minsheng.org.models import OrgUnit, User

    password = demo_password()
    if password is None:
        _say("No active demo accounts. / 没有可用的演示账号。")
    else:
        users = set(
            User.objects.filter(is_demo=True, is_active=True).values_list("username", flat=True)
        )
        units = dict(
            OrgUnit.objects.filter(code__in=[code for _u, _r, code in DEMO_ACCOUNTS]).values_list(
                "code", "name"
            )
        )
        rows = [
            (username, password, str(role.value), units.get(code, code))
            for username, role, code in DEMO_ACCOUNTS
            if username in users
        ]
        print("Demo accounts / 演示账号 (one shared password, shown here only):")
        print(format_table(("username", "password", "role", "unit"), rows))
    if url:
        print(f"\nMinsheng demo / 民生演示: {url}  (Ctrl+C to stop)")
    sys.stdout.flush()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table whose columns line up in a terminal, Chinese included."""
    widths = [max(_width(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(cell) + " " * (widths[i] - _width(str(cell))) for i, cell in enumerate(row)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


# --- serve -----------------------------------------------------------------------------------


def check_not_debug() -> None:
    from django.conf import settings

    if settings.DEBUG:
        print(
            "拒绝启动：MINSHENG_DEBUG 已开启。调试页面会泄露内部信息，不能对外提供服务。\n"
            "Refusing to start: MINSHENG_DEBUG is on. Debug pages leak internals; "
            "unset MINSHENG_DEBUG to serve.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def check_no_demo_accounts(allow: bool) -> None:
    """Refuse to serve while an active demo account (published password) can log in."""
    from django.conf import settings

    from minsheng.org.models import User

    # settings.MINSHENG_ALLOW_DEMO_ACCOUNTS is read from MINSHENG_ALLOW_DEMO_ACCOUNTS.
    if allow or settings.MINSHENG_ALLOW_DEMO_ACCOUNTS:
        return
    count = User.objects.filter(is_demo=True, is_active=True).count()
    if count:
        print(
            f"拒绝启动：数据库中有 {count} 个启用的演示账号，其密码是公开的。"
            "请先停用或删除这些账号；仅在演示环境中可使用 --allow-demo-accounts "
            "或 MINSHENG_ALLOW_DEMO_ACCOUNTS=1。\n"
            f"Refusing to start: the database holds {count} active demo account(s) whose "
            "password is published. Deactivate or delete them first; only for a demo, pass "
            "--allow-demo-accounts or set MINSHENG_ALLOW_DEMO_ACCOUNTS=1.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def check_migrations_applied() -> None:
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        print(
            f"拒绝启动：有 {len(plan)} 个数据库迁移尚未执行，请先运行 `minsheng migrate`。\n"
            f"Refusing to start: {len(plan)} database migration(s) are not applied; "
            "run `minsheng migrate` first.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def run_system_checks() -> None:
    from django.core.management.base import SystemCheckError

    try:
        _call("check")
    except SystemCheckError as exc:
        print(exc, file=sys.stderr)
        print(
            "拒绝启动：系统检查未通过。/ Refusing to start: system checks failed.", file=sys.stderr
        )
        raise SystemExit(2) from None


def gunicorn_options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        # gthread lets one process wait on several slow clients; sync is the fallback at 1.
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "keepalive": 5,
        "timeout": 60,
        "graceful_timeout": 30,
        "preload_app": False,
        "accesslog": "-" if _env_flag("ACCESS_LOG") else None,
        "proc_name": "minsheng",
        "wsgi_app": WSGI_APP,
        # gunicorn ≥ 25.1 opens a control socket under $HOME; two servers on one host would share
        # its path, and nothing here uses it.
        "control_socket_disable": True,
    }


# Settings that older gunicorn releases (pyproject allows ≥ 23) do not know; skipped there.
_NEWER_GUNICORN_SETTINGS = frozenset({"control_socket_disable"})


def serve(*, host: str, port: int, workers: int, allow_demo_accounts: bool) -> int:
    run_system_checks()
    check_not_debug()
    check_migrations_applied()
    check_no_demo_accounts(allow=allow_demo_accounts)
    _call("collectstatic", interactive=False, verbosity=0)

    from django.db import connections

    # Workers are forked from this process: they must not share its database connections.
    connections.close_all()
    options = gunicorn_options(
        host=host, port=port, workers=workers, threads=_env_int("THREADS", 1)
    )
    from minsheng.core.metrics import gunicorn_hooks

    # Metrics: the workers share their counters through files in a fresh directory per server.
    options.update(gunicorn_hooks(_metrics_dir(port)))
    _gunicorn_application(options).run()
    return 0


def _metrics_dir(port: int) -> Path:
    """Host and port in the name keep two servers (or machines sharing DATA_DIR) apart."""
    import socket

    from django.conf import settings

    return Path(settings.MINSHENG_METRICS_DIR) / f"{socket.gethostname()}-{port}"


def _gunicorn_application(options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication

    class MinshengServer(BaseApplication):  # type: ignore[misc]
        def __init__(self, settings: dict[str, Any]) -> None:
            self.settings = settings
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.settings.items():
                if key in _NEWER_GUNICORN_SETTINGS and key not in self.cfg.settings:
                    continue
                self.cfg.set(key, value)

        def load(self) -> Any:
            from minsheng.wsgi import application

            return application

    return MinshengServer(options)


def cmd_serve(args: argparse.Namespace) -> int:
    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise SystemExit("--workers must be at least 1")
    return serve(
        host=args.host,
        port=args.port,
        workers=workers,
        allow_demo_accounts=args.allow_demo_accounts,
    )


# --- worker ----------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise SystemExit("--processes must be at least 1")
    run_system_checks()  # a bad setting stops here, not in every task later
    if args.processes == 1:
        # Periodic jobs (the deadline sweep, the rollups) with no beat server: each worker's
        # scheduler thread competes for a lease per job, the winner enqueues (core/periodic).
        from minsheng.core import periodic

        periodic.start()
        _call("db_worker", queue_name=args.queue, reload=False)
        return 0
    return _run_worker_pool(args.queue, args.processes)


def _run_worker_pool(queue: str, processes: int) -> int:
    command = [sys.executable, "-m", "minsheng.cli", "worker", "--queue", queue]
    # Own sessions: a terminal's Ctrl+C reaches only this process, which forwards it once
    # (a second signal would make a worker abandon its running task).
    children = [
        subprocess.Popen(command, start_new_session=True)  # noqa: S603 - our own executable
        for _ in range(processes)
    ]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            codes = [child.poll() for child in children]
            if all(code is not None for code in codes):
                break
            if not stopping and any(code not in (None, 0) for code in codes):
                # One worker died: stop the others so a supervisor sees the failure.
                forward(signal.SIGTERM, None)
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max(abs(code) for code in codes if code is not None)


# --- backup and restore ----------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    from minsheng.core.backup import BackupError, create_backup

    try:
        path, manifest = create_backup(args.path)
    except (BackupError, OSError) as exc:  # OSError: a full disk, a directory not writable
        print(exc, file=sys.stderr)
        return 1
    files = sum(1 for name in manifest.members if name.startswith("attachments/"))
    print(f"backup written / 备份已写入: {path} ({path.stat().st_size} bytes)")
    print(f"vendor: {manifest.vendor}; attachments: {files}")
    _print_counts(manifest.counts)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from minsheng.core.backup import BackupError, restore_backup

    try:
        report = restore_backup(args.path, force=args.force)
    except (BackupError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"restored / 已恢复: {args.path} (backup of {report.manifest.created_at})")
    _print_counts(report.counts)
    status = 0
    if report.counts != report.manifest.counts:
        print("row counts differ from the backup's / 行数与备份不一致", file=sys.stderr)
        status = 1
    if report.missing_files:
        print(f"attachments missing / 缺少附件文件: {report.missing_files}", file=sys.stderr)
        status = 1
    if report.audit_problems:
        print(
            f"audit chain BROKEN: {report.audit_problems} problem(s) / 审计链校验失败",
            file=sys.stderr,
        )
        status = 1
    else:
        print(f"audit chain OK: {report.audit_records} records")
    if report.pending_migrations:
        print(
            f"{report.pending_migrations} migration(s) newer than the backup: run "
            "`minsheng migrate` / 有较新的迁移，请运行 minsheng migrate"
        )
    return status


def _print_counts(counts: dict[str, int]) -> None:
    print(format_table(("table", "rows"), [(label, str(n)) for label, n in counts.items()]))


# --- audit -----------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from minsheng.core.audit import verify_chain
    from minsheng.core.models import AuditRecord

    problems = 0
    for problem in verify_chain():
        problems += 1
        where = f"record {problem.record_id}" if problem.record_id is not None else "chain end"
        print(f"{where}: {problem.problem}")
    if problems:
        print(f"audit chain BROKEN: {problems} problem(s) / 审计链校验失败", file=sys.stderr)
        return 1
    print(f"audit chain OK: {AuditRecord.objects.count()} records")
    return 0


def _iso_date(raw: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {raw!r}") from None


def cmd_audit_purge(args: argparse.Namespace) -> int:
    """``audit purge --before DATE``: refused (exit 2) inside the keep period."""
    from minsheng.core.audit import PurgeRefused, purge

    try:
        result = purge(before=args.before)
    except PurgeRefused as exc:
        print(f"拒绝清理审计日志 / audit purge refused: {exc}", file=sys.stderr)
        return 2
    chains = ", ".join(f"chain {c}: {n}" for c, n in sorted(result.chains.items())) or "none"
    print(f"audit purge: {result.deleted} records before {result.before} deleted ({chains})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
