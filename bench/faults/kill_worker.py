"""Fault: ``kill -9`` a worker in the middle of sending notifications (issue 6, point 4).

``--messages`` text-message deliveries are queued (``notify.services.notify`` for as many
staff with phones) and ``minsheng worker`` sends them to a gateway this script runs on
127.0.0.1: the ``WebhookBackend``'s JSON post, answered after ``--gateway-ms``, the gateway
keeping the keys it accepted (``Idempotency-Key``: one per delivery, the same on every attempt)
as real SMS gateways keep a request id. When a third has arrived the worker's whole process
group is killed with SIGKILL — mid-send: the gateway has taken a message the worker never
marked sent. A new worker is started. The platform runs with ``MINSHENG_NOTIFY_RESEND_STALE=1``
(at least once; a delivery left "sending" for ``MINSHENG_NOTIFY_STALE_SECONDS`` goes back to
pending) and the gateway drops a key it has seen. Checks, after the new worker has settled
everything:

- every delivery is marked sent (none failed, none "unknown");
- every message reached the gateway, and every phone got its message exactly once (the
  resends of the messages in flight at the kill carried a key the gateway had, and were
  dropped there).

    .venv/bin/python bench/faults/kill_worker.py --record
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
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchError, Stack, record, say  # noqa: E402

QUEUE_CODE = r"""
import json, sys
from django.db import transaction
from minsheng.notify.services import notify
from minsheng.org.models import User
count = int(sys.argv[1])
with transaction.atomic():
    people = [
        User.objects.create(username=f"fault-{i}", phone=f"1390000{i:04d}", display_name=f"F{i}")
        for i in range(count)
    ]
    notify(recipients=people, kind="supervision", appeal=None, title="故障演练", channels=["sms"])
print(json.dumps({"queued": count}))
"""

STATE_CODE = r"""
import json
from django.db.models import Count
from minsheng.notify.models import Delivery
print(json.dumps(dict(Delivery.objects.values_list("status").annotate(n=Count("id")))))
"""


class Gateway:
    """An SMS gateway that keeps the keys it accepted: a resend is answered, not delivered."""

    def __init__(self, delay: float) -> None:
        self.requests: list[str] = []
        self.delivered: Counter[str] = Counter()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key", "")
                with gateway.lock:
                    gateway.requests.append(key)
                    if key not in gateway.delivered:
                        gateway.delivered[key] += 1  # to the phone, once per key
                    if body.get("key") != key:
                        gateway.delivered["<body and header keys differ>"] += 1
                time.sleep(delay)  # the gateway's own latency before it answers
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except BrokenPipeError:
                    pass  # the killed worker: the gateway has the message all the same

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="minsheng_fault_kill_worker")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--gateway-ms", type=float, default=50)
    parser.add_argument("--stale-seconds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    command = "python bench/faults/kill_worker.py " + shlex.join(argv or sys.argv[1:])
    gateway = Gateway(args.gateway_ms / 1000)
    stack = Stack(args.database)
    waiter = threading.Event()
    try:
        stack.prepare(
            {
                "MINSHENG_NOTIFY_CHANNELS": "sms",
                "MINSHENG_SMS_BACKEND": "minsheng.notify.sms.WebhookBackend",
                "MINSHENG_SMS_WEBHOOK_URL": gateway.url,
                "MINSHENG_NOTIFY_RESEND_STALE": "1",
                "MINSHENG_NOTIFY_STALE_SECONDS": str(args.stale_seconds),
                "MINSHENG_SWEEP_SECONDS": "1",
                "MINSHENG_ROLLUP_SECONDS": "0",
                "MINSHENG_HOUSEKEEPING_SECONDS": "0",
            }
        )
        stack.python(QUEUE_CODE, str(args.messages))
        first = stack.start_worker()
        began = time.monotonic()
        while len(gateway.requests) < args.messages // 3:
            if first.poll() is not None or time.monotonic() - began > args.timeout:
                raise BenchError("the worker sent too little before the kill; see worker.log")
            waiter.wait(0.02)  # polling the gateway's counter, not synchronisation
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = len(gateway.requests)
        state_at_kill = stack.python(STATE_CODE)
        say(f"killed the worker after {at_kill} messages; state: {state_at_kill}")
        stack.start_worker()
        while True:
            state = stack.python(STATE_CODE)
            if state.get("sent", 0) == args.messages or time.monotonic() - began > args.timeout:
                break
            waiter.wait(0.5)
        elapsed = time.monotonic() - began
    finally:
        stack.close(keep=args.keep)
        gateway.close()

    keys = Counter(gateway.requests)
    resent = sum(n - 1 for n in keys.values())
    checks = {
        "the kill landed mid-send (a delivery left 'sending')": state_at_kill.get("sending", 0) > 0,
        "every delivery marked sent": state.get("sent", 0) == args.messages and len(state) == 1,
        "every message reached the gateway": len(keys) == args.messages,
        "every phone got its message once": sorted(set(gateway.delivered.values())) == [1]
        and len(gateway.delivered) == args.messages,
    }
    lines = [
        f"- {args.messages} text messages queued; the worker was killed (SIGKILL, its process "
        f"group) after {at_kill} had reached the gateway; state then: {state_at_kill}.",
        f"- a new worker settled everything {elapsed:.1f} s after the first started; deliveries: "
        f"{state}.",
        f"- gateway requests: {len(gateway.requests)} for {len(keys)} keys; {resent} resent "
        f"after the kill (same key, dropped by the gateway).",
    ]
    lines += [f"- {'✔' if ok else '✘ FAILED:'} {name}" for name, ok in checks.items()]
    print("\n".join(lines))
    if args.record:
        record("kill -9 a worker while it sends notifications", command, lines)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
