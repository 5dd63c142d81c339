"""Fault: the disk of the attachments fills up (issue 6, point 4).

The data directory's ``attachments/`` is a small tmpfs of ``--size-mb`` (mounted by this script;
it needs root). ``minsheng serve`` runs on its own PostgreSQL database. A filler file takes
most of the space, then citizens upload photos (``POST /api/v1/public/uploads``) and submit
appeals naming them, until the disk is full. Then the filler is deleted (an operator freeing
space) and uploads go on. Checks:

- an upload that does not fit is refused with a clear error (HTTP 507, code ``storage_full``,
  a message in Chinese) — never a 500;
- nothing half-written remains: no temporary file, every attachment row has its file with the
  size and SHA-256 it records, every file has its row, every appeal answered 201 is there with
  the attachments it named;
- once space is free again, uploads succeed without a restart.

    .venv/bin/python bench/faults/disk_full.py --record
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import shlex
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HOST, BenchError, Stack, make_payload, record, say  # noqa: E402

CHECK_CODE = r"""
import hashlib, json, sys
from pathlib import Path
from django.conf import settings
from minsheng.appeals.models import Appeal, Attachment
root = Path(settings.MEDIA_ROOT)
expected = json.loads(sys.stdin.read())
rows = list(Attachment.objects.values_list("storage_name", "size", "sha256", "appeal_id"))
files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
bad = []
for name, size, digest, _appeal in rows:
    path = root / name
    if not path.is_file():
        bad.append(f"row without file: {name}")
        continue
    data = path.read_bytes()
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        bad.append(f"file does not match its row: {name}")
names = {r[0] for r in rows}
strays = sorted(f for f in files - names if f != "filler")
appeals = {a.pk: a for a in Appeal.objects.all()}
attached = {}
for name, _s, _d, appeal_id in rows:
    attached.setdefault(appeal_id, 0)
    attached[appeal_id] += 1
missing = [k for k, n in expected.items() if attached.get(int(k), 0) != n]
print(json.dumps({
    "rows": len(rows), "files": len(files), "problems": bad, "strays": strays,
    "appeals": len(appeals), "appeals_missing_attachments": missing,
}))
"""


def png(rng: random.Random, side: int) -> bytes:
    """A photo-like PNG that does not compress away (noise), about side² × 3 bytes."""
    from PIL import Image

    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(port: int, data: bytes) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/public/uploads",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, {"raw": raw[:200].decode(errors="replace")}


def submit(port: int, payload: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/public/appeals",
        body=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
    )
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="minsheng_fault_disk_full")
    parser.add_argument("--size-mb", type=int, default=8)
    parser.add_argument("--free-mb", type=float, default=2.5, help="left free by the filler")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise BenchError("mounting the small tmpfs needs root")
    command = "python bench/faults/disk_full.py " + shlex.join(argv or sys.argv[1:])
    rng = random.Random(5)
    stack = Stack(args.database)
    mount = stack.root / "data" / "attachments"
    mounted = False
    statuses: Counter[int] = Counter()
    refusal: dict = {}
    expected: dict[str, int] = {}
    try:
        stack.prepare({"MINSHENG_ATTACHMENT_MAX_BYTES": str(2 * 1024 * 1024)})
        mount.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            ["mount", "-t", "tmpfs", "-o", f"size={args.size_mb}m", "tmpfs", str(mount)],
            check=True,
        )
        mounted = True
        filler = mount / "filler"
        filler.write_bytes(b"\0" * int((args.size_mb - args.free_mb) * 1024 * 1024))
        server = stack.serve(workers=2)
        say(f"serving; {args.free_mb} MB free on {mount}")
        tokens: list[str] = []
        refused_in_a_row = 0
        while refused_in_a_row < 3:
            status, answer = upload(stack.port, png(rng, 300))
            statuses[status] += 1
            if status == 201:
                tokens.append(answer["upload_token"])
                refused_in_a_row = 0
            else:
                refusal = refusal or answer
                refused_in_a_row += 1
            if len(tokens) == 2:  # an appeal names two photos
                payload = make_payload(rng, stack.data) | {"uploads": tokens}
                code, created = submit(stack.port, payload)
                statuses[code] += 1
                if code == 201:
                    expected[str(created["id"])] = 2
                tokens = []
        filler.unlink()  # an operator frees space
        after, _answer = upload(stack.port, png(rng, 300))
        pids_same = server.proc is not None and server.proc.poll() is None
        check = stack.python(CHECK_CODE, stdin=json.dumps(expected))
    finally:
        stack.close(keep=args.keep)
        if mounted:
            subprocess.run(["umount", str(mount)], check=False)  # noqa: S603, S607

    checks = {
        "a full disk is a 507 storage_full, never a 500": refusal.get("code") == "storage_full"
        and 500 not in statuses,
        "no half-written or stray file": not check["strays"] and not check["problems"],
        "every 201 appeal has the attachments it named": not check["appeals_missing_attachments"]
        and check["appeals"] == len(expected),
        "uploads work again once space is freed (no restart)": after == 201 and pids_same,
    }
    lines = [
        f"- attachments on a {args.size_mb} MB tmpfs, {args.free_mb} MB left free by a filler; "
        f"answers: {dict(sorted(statuses.items()))}; {len(expected)} appeals with 2 photos each.",
        f"- the refusal: `{json.dumps(refusal, ensure_ascii=False)}`",
        f"- afterwards: {check['rows']} attachment rows, {check['files']} files (with the "
        f"filler gone); upload after freeing space: HTTP {after}.",
    ]
    lines += [f"- {'✔' if ok else '✘ FAILED:'} {name}" for name, ok in checks.items()]
    print("\n".join(lines))
    if args.record:
        record("the attachments' disk fills up", command, lines)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"disk_full: {exc}", file=sys.stderr)
        sys.exit(2)
