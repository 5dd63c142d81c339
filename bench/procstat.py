"""Where a benchmark's time went: CPU per process group, PostgreSQL's reads (Linux, PostgreSQL).

A load run takes a ``Snapshot`` when its measured window opens and another when it closes;
``Usage.between`` turns the two into shares of the machine and block reads per request, so a
run says whether it was bound by the application, the database or the disk.

CPU is read from ``/proc/<pid>/stat`` (user + system ticks). The application's processes are
those of the server's session (``minsheng serve`` starts its workers in it); PostgreSQL's are
every process named ``postgres`` (with the ticks of its exited children, so a backend that
ended during the window still counts) — the whole server, whatever database it works for, so
run nothing else beside a measurement. Block reads come from ``pg_stat_database``: ``blks_hit``
were found in PostgreSQL's shared buffers, ``blks_read`` were asked of the operating system
(its page cache or the disk); ``read_bytes`` of ``/proc/<pid>/io`` of PostgreSQL's processes
alive at both ends is what the disk itself gave them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, list[str]] | None:
    """(command name, the fields after it) of a process, or None if it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    return name, raw[raw.rindex(")") + 2 :].split()


def disk_read_bytes() -> dict[int, int]:
    """Bytes each PostgreSQL process has read from the disk so far (not the page cache)."""
    read: dict[int, int] = {}
    for entry in PROC.iterdir():
        found = _stat(int(entry.name)) if entry.name.isdigit() else None
        if found is None or found[0] != "postgres":
            continue
        try:
            io = (entry / "io").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for line in io.splitlines():
            if line.startswith("read_bytes:"):
                read[int(entry.name)] = int(line.split()[1])
    return read


def cpu_seconds(sessions: dict[int, str]) -> dict[str, float]:
    """CPU seconds used so far by the processes of each session (by id → a group's name), by
    PostgreSQL's and by this process (``self``)."""
    used = dict.fromkeys([*sessions.values(), "postgres", "self"], 0.0)
    wanted = sessions
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is None:
            continue
        name, fields = found
        # fields[3]: session id; [11], [12]: user and system ticks; [13], [14]: of waited children
        ticks = int(fields[11]) + int(fields[12])
        if name == "postgres":
            used["postgres"] += (ticks + int(fields[13]) + int(fields[14])) / TICK
        elif int(entry.name) == me:
            used["self"] += ticks / TICK
        elif int(fields[3]) in wanted:
            used[wanted[int(fields[3])]] += ticks / TICK
    return used


BLOCKS_SQL = "SELECT blks_read, blks_hit, temp_bytes FROM pg_stat_database WHERE datname = %s"


@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]
    blocks: tuple[int, int, int]
    disk: dict[int, int]

    @classmethod
    def take(cls, sessions: dict[int, str], connection: Any, database: str) -> Snapshot:
        """``connection``: a psycopg connection in autocommit (the statistics are per
        transaction snapshot otherwise)."""
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(BLOCKS_SQL, (database,)).fetchone()
        blocks = (int(row[0]), int(row[1]), int(row[2]))
        return cls(time.perf_counter(), cpu_seconds(sessions), blocks, disk_read_bytes())


@dataclass
class Usage:
    seconds: float
    cpu_share: dict[str, float] = field(default_factory=dict)  # of the whole machine, 0…1
    blocks_read: int = 0
    blocks_hit: int = 0
    temp_bytes: int = 0
    disk_bytes: int = 0

    @classmethod
    def between(cls, first: Snapshot, last: Snapshot) -> Usage:
        seconds = max(last.at - first.at, 1e-9)
        capacity = seconds * (os.cpu_count() or 1)
        share = {k: (last.cpu[k] - first.cpu.get(k, 0.0)) / capacity for k in last.cpu}
        read, hit, temp = (b - a for a, b in zip(first.blocks, last.blocks, strict=True))
        disk = sum(b - first.disk[pid] for pid, b in last.disk.items() if pid in first.disk)
        return cls(seconds, share, read, hit, temp, disk)

    def lines(self, requests: int) -> list[str]:
        """What to print: the CPU split and PostgreSQL's reads per request."""
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.cpu_share.items())
        total = self.blocks_read + self.blocks_hit
        per = max(requests, 1)
        return [
            f"CPU of the machine ({os.cpu_count()} cores) over {self.seconds:.1f} s: {shares}",
            f"PostgreSQL blocks per request: {self.blocks_hit / per:,.0f} from its buffers, "
            f"{self.blocks_read / per:,.1f} from the OS (page cache or disk); "
            f"buffer hit ratio {self.blocks_hit / max(total, 1):.2%}; "
            f"temporary files {self.temp_bytes / 2**20:,.1f} MiB; "
            f"read from the disk {self.disk_bytes / 2**20:,.1f} MiB "
            f"({self.disk_bytes / 8192 / per:,.2f} blocks of 8 KiB per request)",
        ]
