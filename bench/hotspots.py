"""Hotspot (热点) discovery on real citizen messages: prints the top clusters for a person to judge.

    .venv/bin/python bench/hotspots.py                      # ../shared/data/messages-hot-topics.csv
    .venv/bin/python bench/hotspots.py --file FILE --top 10 --threshold 0.2

Runs ``minsheng.dispatch.hotspots.cluster`` (the console's algorithm) on subject + detail, with
the subject also compared on its own (as the console does with appeals' titles). The
place is the district or county the message names first ("A3区", "A7县"), when it names one:
messages of two different districts join only when very similar, as two townships do in the
console. The real messages are never copied into the repository (../shared/data/README.md): the
script reads them where they are and says so clearly when they are missing.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "messages-hot-topics.csv"
DATA_HINT = (
    "The real citizen messages live outside the repository, in ../shared/data "
    "(see its README.md: terms of use, columns). Pass --file with the path to "
    "messages-hot-topics.csv."
)
PLACE = re.compile(r"A\d+[区县]")


def read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        print(f"error: {path} does not exist.\n{DATA_HINT}", file=sys.stderr)
        raise SystemExit(2)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"subject", "detail"} - set(reader.fieldnames or [])
        if missing:
            print(f"error: {path} has no {sorted(missing)} column(s)", file=sys.stderr)
            raise SystemExit(2)
        return [row for row in reader if (row["subject"] or row["detail"]).strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--no-places", action="store_true", help="ignore the districts")
    parser.add_argument(
        "--no-subjects", action="store_true", help="compare whole texts only (the old algorithm)"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minsheng.settings")
    import django

    django.setup()
    from minsheng.dispatch import hotspots, similarity

    rows = read(args.file)
    texts = [f"{row['subject']}。{row['detail']}" for row in rows]
    places = None
    if not args.no_places:
        places = [(m.group(0) if (m := PLACE.search(row["subject"])) else None) for row in rows]
    threshold = args.threshold if args.threshold is not None else hotspots.THRESHOLD
    hotspots.cluster(texts[:50], min_size=1)  # imports (scikit-learn, SciPy) outside the timing
    started = time.perf_counter()
    subjects = None if args.no_subjects else [row["subject"] for row in rows]
    clusters = hotspots.cluster(texts, places, subjects=subjects, threshold=threshold)
    elapsed = time.perf_counter() - started

    where = "no" if places is None else "the district named in the subject"
    weight = 0 if subjects is None else similarity.SUBJECT_WEIGHT
    print(f"messages: {len(rows)}; threshold {threshold}; places: {where}; subject weight {weight}")
    print(
        f"clusters of {hotspots.MIN_SIZE}+ messages: {len(clusters)}; "
        f"clustered: {sum(len(c.members) for c in clusters)}; time {elapsed:.2f} s\n"
    )
    print("| # | size | likes | from – to | representative subject |\n|---:|---:|---:|---|---|")
    for rank, found in enumerate(clusters[: args.top], 1):
        members = [rows[i] for i in found.members]
        dates = sorted(row.get("created_at", "")[:10] for row in members)
        likes = sum(int(row.get("likes") or 0) for row in members)
        subject = rows[found.representative]["subject"].strip()[:30]
        print(f"| {rank} | {len(members)} | {likes} | {dates[0]} – {dates[-1]} | {subject} |")


if __name__ == "__main__":
    main()
