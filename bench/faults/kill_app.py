"""Fault: ``kill -9`` app processes during a submission load (issue 6, point 4).

``minsheng serve`` (3 workers) on its own PostgreSQL database; ``--phones`` simulated phones
submit appeals back to back, each retrying the same Idempotency-Key after no answer or a 5xx
(bench/faults/common.py ``Phone``). Every ``--every`` seconds one gunicorn worker is killed
with SIGKILL mid-load (gunicorn starts a new one). Afterwards:

- every submission that got a 2xx is in the database;
- every key is sent once more: each retry answers the first answer (same appeal id) and the
  number of appeals does not move — a retry with the same key created nothing new;
- the database holds exactly one appeal per key answered 201 (none from a killed request
  whose answer was lost: the phone's retry got the stored answer instead);
- the audit chain verifies.

Exit status 0 when all hold. ``--record`` writes the result to bench/RESULTS.md.

    .venv/bin/python bench/faults/kill_app.py --seconds 30 --record
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import COUNT_CODE, Phone, Stack, record, status_counts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="minsheng_fault_kill_app")
    parser.add_argument("--phones", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--every", type=float, default=3, help="seconds between kills")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    command = "python bench/faults/kill_app.py " + shlex.join(argv or sys.argv[1:])
    stack = Stack(args.database)
    try:
        stack.prepare()
        server = stack.serve(workers=3)
        stop = threading.Event()
        phones = [Phone(i, stack.port, stack.data, stop) for i in range(args.phones)]
        for phone in phones:
            phone.start()
        kills: list[int] = []
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            stop.wait(args.every)  # the pace of the kills, not synchronisation
            victims = server.worker_pids()
            if victims:
                os.kill(victims[len(kills) % len(victims)], signal.SIGKILL)
                kills.append(victims[len(kills) % len(victims)])
        stop.set()
        for phone in phones:
            phone.join()
        answers = [a for p in phones for a in p.answers]
        accepted = {a.key: a.appeal_id for a in answers if a.status == 201}
        statuses = status_counts(answers)
        before = stack.python(COUNT_CODE, stdin=json.dumps(list(accepted.values())))
        # every key once more, as a phone whose answer was lost would
        replay_phone = Phone(0, stack.port, stack.data, threading.Event())
        same, changed = 0, []
        for phone in phones:
            for key, body in phone.bodies.items():
                again = replay_phone.submit(key, body)
                if key in accepted and again.appeal_id == accepted[key]:
                    same += 1
                elif key in accepted:
                    changed.append((key, accepted[key], again.appeal_id))
        after = stack.python(COUNT_CODE, stdin=json.dumps(list(accepted.values())))
    finally:
        stack.close(keep=args.keep)

    never = sum(1 for a in answers if a.status == 0)
    checks = {
        "every 2xx is in the database": before["found"] == len(accepted),
        "one appeal per accepted key (none from lost answers)": before["appeals"] == len(accepted),
        "every retry answered the first answer": same == len(accepted) and not changed,
        "retries created nothing": after["appeals"] == before["appeals"],
        "the audit chain verifies": after["chain_problems"] == 0,
        "every submission was answered in the end": never == 0,
    }
    lines = [
        f"- {len(kills)} app processes killed with SIGKILL during {args.seconds:g} s of load "
        f"by {args.phones} phones; {len(answers):,} submissions, {len(accepted):,} answered 201.",
        f"- answers seen, all attempts: {dict(sorted(statuses.items()))} (0 = connection "
        f"dropped by the killed process; the phone sent the same key again).",
        f"- appeals in the database: {before['appeals']:,}; after sending every key once more: "
        f"{after['appeals']:,}; retries answered with the same appeal: {same:,}.",
    ]
    lines += [f"- {'✔' if ok else '✘ FAILED:'} {name}" for name, ok in checks.items()]
    print("\n".join(lines))
    if args.record:
        record("kill -9 an app process during submissions", command, lines)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
