"""Fault: PostgreSQL restarts during load (issue 6, point 4).

``minsheng serve`` (3 workers) on its own database; ``--phones`` simulated phones submit
appeals back to back (same Idempotency-Key again after no answer or a 5xx). Mid-load a
PostgreSQL cluster is stopped for ``--down`` seconds and started again (``pg_ctlcluster
VERSION CLUSTER stop|start``). By default the script creates a throw-away cluster of its own
(``--cluster minsheng_fault`` on ``--port 5433``, dropped at the end), so the machine's main
cluster and whoever uses it are left alone; ``--cluster main --port 5432`` restarts the
machine's. Checks:

- while the database is down the service answers 503 with the ``service_unavailable`` code, a
  clear message and Retry-After — never a 500, never a dropped connection;
- it recovers by itself: the first 201 comes within ``--recover`` seconds (default 10) of
  PostgreSQL accepting connections again, with the same server and worker processes (no
  restart of the application);
- every submission answered 201 is in the database once, and the audit chain verifies.

    .venv/bin/python bench/faults/restart_postgres.py --record
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import COUNT_CODE, Phone, Stack, record, say, status_counts  # noqa: E402


def _version() -> str:
    versions = sorted(
        Path("/etc/postgresql").iterdir(), key=lambda p: [int(x) for x in p.name.split(".")]
    )
    return versions[-1].name


def _pg(cluster: str, action: str) -> None:
    subprocess.run(  # noqa: S603 - the machine's cluster tool
        ["pg_ctlcluster", "--skip-systemctl-redirect", _version(), cluster, action], check=True
    )


def _ready(port: int) -> bool:
    done = subprocess.run(  # noqa: S603
        ["pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
    )
    return done.returncode == 0


def _own_cluster(cluster: str, port: int) -> None:
    """A throw-away cluster with trust auth, like the machine's."""
    version = _version()
    subprocess.run(  # noqa: S603
        ["pg_createcluster", version, cluster, "--port", str(port), "--start", "--"]
        + ["--auth-host=trust", "--auth-local=trust"],
        check=True,
        capture_output=True,
    )


def _drop_cluster(cluster: str) -> None:
    subprocess.run(  # noqa: S603
        ["pg_dropcluster", "--stop", _version(), cluster], check=False, capture_output=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="minsheng_fault_restart_pg")
    parser.add_argument("--phones", type=int, default=8)
    parser.add_argument("--before", type=float, default=5, help="seconds of load before")
    parser.add_argument("--down", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument("--after", type=float, default=10, help="seconds of load after")
    parser.add_argument("--recover", type=float, default=10, help="allowed recovery seconds")
    parser.add_argument("--cluster", default="minsheng_fault", help="cluster to restart")
    parser.add_argument("--port", type=int, default=5433, help="its port")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    command = "python bench/faults/restart_postgres.py " + shlex.join(argv or sys.argv[1:])
    own = args.cluster != "main"
    if own:
        _drop_cluster(args.cluster)  # a leftover of an interrupted run
        _own_cluster(args.cluster, args.port)
    stack = Stack(args.database, admin_url=f"postgres://postgres@127.0.0.1:{args.port}/postgres")
    try:
        stack.prepare()
        server = stack.serve(workers=3)
        pids_before = sorted(server.pids())
        stop = threading.Event()
        phones = [Phone(i, stack.port, stack.data, stop, patience=120) for i in range(args.phones)]
        for phone in phones:
            phone.start()
        stop.wait(args.before)  # load before the fault
        say(f"stopping PostgreSQL for {args.down:g} s …")
        _pg(args.cluster, "stop")
        stop.wait(args.down)
        _pg(args.cluster, "start")
        while not _ready(args.port):
            stop.wait(0.1)  # polling pg_isready, not synchronisation of the clients
        back = time.monotonic()
        for phone in phones:
            phone.mark = back
        say("PostgreSQL accepts connections again")
        stop.wait(args.after)
        stop.set()
        for phone in phones:
            phone.join()
        pids_after = sorted(server.pids())
        answers = [a for p in phones for a in p.answers]
        accepted = {a.key: a.appeal_id for a in answers if a.status == 201}
        counts = stack.python(COUNT_CODE, stdin=json.dumps(list(accepted.values())))
    finally:
        if not _ready(args.port):
            _pg(args.cluster, "start")  # leave PostgreSQL as we found it
        stack.close(keep=args.keep)
        if own and not args.keep:
            _drop_cluster(args.cluster)

    statuses = status_counts(answers)
    samples: dict[int, bytes] = {}
    for phone in phones:
        for status, body in phone.samples.items():
            samples.setdefault(status, body)
    unavailable = json.loads(samples[503]) if 503 in samples else {}
    firsts = [p.first_ok_after - back for p in phones if p.first_ok_after is not None]
    recovery = min(firsts) if firsts else float("inf")
    checks = {
        "only 201 and 503 answers (no 500, no dropped connection)": set(statuses) <= {201, 503},
        "503 says service_unavailable": unavailable.get("code") == "service_unavailable",
        f"first 201 within {args.recover:g} s of PostgreSQL's return": recovery <= args.recover,
        "same server and worker processes (no restart)": pids_before == pids_after,
        "every 201 is in the database once": counts["found"] == len(accepted) == counts["appeals"],
        "the audit chain verifies": counts["chain_problems"] == 0,
    }
    lines = [
        f"- PostgreSQL (cluster {args.cluster}) stopped for {args.down:g} s under load from "
        f"{args.phones} phones; "
        f"{len(answers):,} submissions, {len(accepted):,} answered 201.",
        f"- answers seen, all attempts: {dict(sorted(statuses.items()))}.",
        f"- the 503 while down: `{samples.get(503, b'').decode(errors='replace')}`",
        f"- first 201 after PostgreSQL accepted connections again: {recovery:.2f} s "
        f"(each phone: {', '.join(f'{f:.2f}' for f in sorted(firsts))}).",
    ]
    lines += [f"- {'✔' if ok else '✘ FAILED:'} {name}" for name, ok in checks.items()]
    print("\n".join(lines))
    if args.record:
        record("PostgreSQL restarted during load", command, lines)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
