"""What the fault scripts share: a database, ``minsheng serve`` and workers, submitting clients
that behave like a phone on a bad network (retry the same Idempotency-Key until answered), and
the "## Faults (issue 6)" section of bench/RESULTS.md."""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import intake  # noqa: E402 - server, payloads, PostgreSQL helpers
from intake import (  # noqa: E402
    HOST,
    MINSHENG,
    PYTHON,
    SUBMIT_PATH,
    BenchError,
    Server,
    bench_env,
    free_port,
    make_payload,
    run_checked,
    say,
    with_database,
)

RESULTS = BENCH / "RESULTS.md"
SECTION = "## Faults (issue 6)"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
TRANSPORT = (OSError, http.client.HTTPException)


@dataclass
class Stack:
    """A database of its own, the demo org, and the processes started on it."""

    database: str
    admin_url: str = ADMIN_URL
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="minsheng-fault-")))
    env: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    server: Server | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    port: int = 0

    def prepare(self, extra_env: dict[str, str] | None = None) -> None:
        say(f"creating database {self.database} …")
        intake.recreate_database(self.admin_url, self.database)
        (self.root / "data").mkdir(exist_ok=True)
        self.env = bench_env(with_database(self.admin_url, self.database), self.root / "data")
        # the code of this checkout, whatever the virtualenv's editable install points at
        self.env["PYTHONPATH"] = str(BENCH.parent / "src")
        self.env.update(extra_env or {})
        run_checked([MINSHENG, "migrate"], self.env, "minsheng migrate")
        out = run_checked([PYTHON, "-c", intake.SETUP_CODE], self.env, "loading the demo org")
        self.data = json.loads(out.splitlines()[-1])

    def serve(self, workers: int = 3) -> Server:
        self.port = free_port()
        self.server = Server(self.env, self.port, workers, 1, self.root / "serve.log")
        self.server.start()
        self.server.wait_ready()
        return self.server

    def start_worker(self) -> subprocess.Popen[bytes]:
        with open(self.root / "worker.log", "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own executable
                [MINSHENG, "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(proc)
        return proc

    def python(self, code: str, *args: str, stdin: str = "") -> Any:
        """Run ``code`` with Django set up on this stack's database; its last line is JSON."""
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [PYTHON, "-c", "import django; django.setup()\n" + code, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"check failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def close(self, keep: bool = False) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
                if proc.poll() is None:
                    proc.kill()
        if self.server is not None:
            self.server.stop()
        if keep:
            say(f"kept {self.root} and database {self.database}")
            return
        with contextlib.suppress(BenchError):
            intake.drop_database(self.admin_url, self.database)
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Answer:
    key: str
    status: int  # the final answer's status (0: never answered)
    appeal_id: int | None
    attempts: int
    statuses: list[int]


class Phone(threading.Thread):
    """A citizen's phone: submits, and on no answer or a 5xx sends the same request again with
    the same Idempotency-Key (after 0.2 s, then longer), up to ``patience`` seconds."""

    def __init__(
        self,
        index: int,
        port: int,
        data: dict[str, Any],
        stop: threading.Event,
        patience: float = 60.0,
        seed: int = 1,
    ) -> None:
        super().__init__(daemon=True, name=f"phone-{index}")
        self.port, self.data, self.stop_event, self.patience = port, data, stop, patience
        self.rng = random.Random(seed * 1000 + index)
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.answers: list[Answer] = []
        self.bodies: dict[str, bytes] = {}
        self.samples: dict[int, bytes] = {}  # the first body seen per status
        self.first_ok_after: float | None = None  # monotonic time of a 201 after ``mark``
        self.mark: float | None = None

    def send(self, key: str, body: bytes) -> tuple[int, bytes]:
        try:
            self.conn.request(
                "POST",
                SUBMIT_PATH,
                body=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
            response = self.conn.getresponse()
            raw = response.read()
            self.samples.setdefault(response.status, raw[:300])
            if response.status == 201 and self.mark is not None and self.first_ok_after is None:
                if time.monotonic() >= self.mark:
                    self.first_ok_after = time.monotonic()
            return response.status, raw
        except TRANSPORT:
            self.conn.close()
            return 0, b""

    def submit(self, key: str, body: bytes) -> Answer:
        statuses: list[int] = []
        give_up = time.monotonic() + self.patience
        delay = 0.2
        while True:
            status, raw = self.send(key, body)
            statuses.append(status)
            if 200 <= status < 500 or time.monotonic() > give_up:
                break
            time.sleep(delay)  # a phone's back-off before it tries again, not synchronisation
            delay = min(delay * 2, 2.0)
        appeal_id = json.loads(raw)["id"] if status == 201 else None
        return Answer(key, status, appeal_id, len(statuses), statuses)

    def run(self) -> None:
        while not self.stop_event.is_set():
            key = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            body = json.dumps(make_payload(self.rng, self.data), ensure_ascii=False).encode()
            self.bodies[key] = body
            self.answers.append(self.submit(key, body))


def status_counts(answers: list[Answer]) -> Counter[int]:
    return Counter(s for a in answers for s in a.statuses)


COUNT_CODE = r"""
import json, sys
from minsheng.appeals.models import Appeal
from minsheng.core.audit import verify_chain
ids = json.loads(sys.stdin.read())
print(json.dumps({
    "appeals": Appeal.objects.count(),
    "found": Appeal.objects.filter(id__in=ids).count(),
    "chain_problems": len(list(verify_chain())),
}))
"""


def record(title: str, command: str, lines: list[str]) -> None:
    """Add (or replace) the block ``### title`` in the Faults section of RESULTS.md."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = f"### {title}\n\n`{command}` ({stamp}; 2 cores shared)\n\n" + "\n".join(lines) + "\n"
    text = RESULTS.read_text()
    if SECTION not in text:
        text = text.rstrip() + f"\n\n{SECTION}\n\nEach script under `bench/faults/` starts its own "
        text += "database and processes, breaks one thing, and checks what survived.\n"
    head, tail = text.split(SECTION, 1)
    start = tail.find(f"### {title}\n")
    if start >= 0:
        end = tail.find("\n### ", start + 1)
        nxt = tail.find("\n## ", start + 1)
        ends = [e for e in (end, nxt) if e >= 0]
        stop = min(ends) if ends else len(tail)
        tail = tail[:start] + tail[stop + 1 :]
    nxt = tail.find("\n## ")
    if nxt < 0:
        tail = tail.rstrip() + "\n\n" + block
    else:
        tail = tail[:nxt].rstrip() + "\n\n" + block + tail[nxt:]
    RESULTS.write_text(head + SECTION + tail)
    say(f"recorded in {RESULTS}")
