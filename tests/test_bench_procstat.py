"""bench/procstat.py: the CPU split and block reads a load run reports."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench" / "procstat.py"
# A child that burns 0.3 s of CPU when told to, says so, and waits to be told to exit.
BUSY = """
import sys, time
sys.stdin.readline()
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
print("done", flush=True)
sys.stdin.readline()
"""


def _procstat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_procstat", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_procstat"] = module
    spec.loader.exec_module(module)
    return module


def test_cpu_is_counted_per_session_and_for_this_process() -> None:
    procstat = _procstat()
    child = subprocess.Popen(  # noqa: S603 - this interpreter
        [sys.executable, "-c", BUSY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    try:
        # given the child's session named, before and after it burns 0.3 s and we burn 0.2 s
        first = procstat.cpu_seconds({child.pid: "child"})
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        start = time.process_time()
        while time.process_time() - start < 0.2:
            pass
        last = procstat.cpu_seconds({child.pid: "child"})
    finally:
        child.communicate("exit\n", timeout=30)

    # then each group's CPU grew by what it burnt (the clock ticks in hundredths)
    assert 0.28 <= last["child"] - first["child"] < 0.6
    assert 0.18 <= last["self"] - first["self"] < 0.6
    assert set(last) == {"child", "postgres", "self"}


def test_usage_between_two_snapshots_gives_shares_and_reads_per_request() -> None:
    procstat = _procstat()
    cores = procstat.os.cpu_count() or 1
    first = procstat.Snapshot(
        at=10.0, cpu={"app": 1.0, "postgres": 2.0}, blocks=(100, 1_000, 0), disk={7: 0, 8: 50}
    )
    last = procstat.Snapshot(
        at=20.0,
        cpu={"app": 1.0 + 5.0 * cores, "postgres": 2.0 + 2.5 * cores},
        blocks=(300, 11_000, 2**20),
        disk={7: 8192 * 10, 8: 50, 9: 10**9},  # 9 started inside the window: not counted
    )

    usage = procstat.Usage.between(first, last)
    lines = usage.lines(requests=100)

    assert usage.cpu_share == {"app": 0.5, "postgres": 0.25}
    assert (usage.blocks_read, usage.blocks_hit, usage.temp_bytes) == (200, 10_000, 2**20)
    assert usage.disk_bytes == 8192 * 10
    assert "app 50%, postgres 25%" in lines[0]
    assert "100 from its buffers, 2.0 from the OS" in lines[1]
    assert "hit ratio 98.04%" in lines[1]
    assert "0.10 blocks of 8 KiB per request" in lines[1]
