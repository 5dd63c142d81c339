"""Time the demo year: `minsheng demo --no-serve` into a fresh SQLite data directory.

Issue 2 asks for the default year (≈ 32,000 appeals, every one replayed through the service
functions) to load in under 3 minutes on this 2-core machine. Prints the wall time of the
whole command (migrations included), the rows it left and whether the audit chain verifies.

    .venv/bin/python bench/demo_seed.py [--appeals N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINSHENG = ROOT / ".venv" / "bin" / "minsheng"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appeals", type=int, default=32_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minsheng-demo-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINSHENG_")}
        env["MINSHENG_DATA_DIR"] = data_dir
        started = time.monotonic()
        subprocess.run(
            [str(MINSHENG), "demo", "--no-serve", "--appeals", str(args.appeals)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - started
        db = sqlite3.connect(Path(data_dir) / "minsheng.sqlite3")
        appeals = db.execute("select count(*) from appeals_appeal").fetchone()[0]
        events = db.execute("select count(*) from appeals_appealevent").fetchone()[0]
        closed = db.execute(
            "select count(*) from appeals_appeal where status = 'closed'"
        ).fetchone()[0]
        db.close()
        verify = subprocess.run(
            [str(MINSHENG), "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
        )
    print(f"machine: {os.cpu_count()} cores")
    print(f"minsheng demo --no-serve --appeals {args.appeals}: {elapsed:.1f} s wall")
    print(f"appeals {appeals} (closed {closed}, {closed / appeals:.2%}), events {events}")
    print(f"audit: {verify.stdout.strip() or verify.stderr.strip()}")
    return 0 if verify.returncode == 0 and elapsed < 180 else 1


if __name__ == "__main__":
    sys.exit(main())
