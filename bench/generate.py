"""Data at scale (issue 6): N appeals with full histories, written directly and fast.

``python bench/generate.py --appeals 10000000`` fills a PostgreSQL database (default
``minsheng_bench_gen``; ``--database-url`` names another, ``--sqlite PATH`` a SQLite file) with
N appeals, each with the events, assignments, extension requests, deadline warnings, supervision
orders, escalations, notifications and hash-chained audit records the service functions write.

How, and why the result is what the services would have produced:

1. **Templates through the services.** The first ``--templates`` appeals (default 20,000) are a
   year replayed through the service functions exactly as ``minsheng demo`` does
   (``appeals.demo.seed_year``: submissions, dispatches, returns, extensions, suspensions,
   replies, reviews, ratings, reopenings, merges; the working-day calendar sets every
   deadline; the deadline sweep raises the warnings, reminders, supervision orders and
   escalations of the appeals that run late, as the worker would have all year). They are real
   service output, nothing else touches them.
2. **Copies of that year.** The remaining N − T appeals are copies of the templates, block after
   block (copy k of template r is appeal ``first_id + k·T + r``). A copy keeps every time,
   deadline, unit, category, actor, text and decision of its template, so each block is the same
   year again, handled the same way; it gets its own ids (appeal and every row of it — and
   the references between them: merge targets, the event, request, warning or order an event
   or audit record names, an escalation's order, a notification's event key), its own
   tracking code (a bijection of
   its number over the code alphabet: unique, no retry) and its own phone number. Its audit
   records are chained anew (``core.audit.compute_hash``) on one chain whose head moves with
   every batch. What a copy does not vary, said plainly: its timeline (T distinct timelines for
   N appeals) and its text.
3. **Bulk paths.** PostgreSQL: ``COPY … FROM STDIN``; SQLite: ``executemany``. One transaction
   per ``--batch`` appeals (rows, audit head and all), so an interrupted run resumes at the
   last committed batch: run the same command again. ``--max-disk`` (default 0.8) stops before
   the database's disk is that full (used ÷ (used + available), as ``df`` counts it).
   On PostgreSQL the ten tables' secondary indexes, unique and foreign-key constraints are
   dropped while copying and built at the end (``defer_indexes``; ``--keep-indexes`` to keep
   them): faster, packed indexes, and the uniqueness and every reference are checked once over
   the whole result when the constraints come back.
4. **Rollups** by the worker's own code, ``refresh_rollups(full=True)``, at the end
   (``--no-rollups`` to skip).

``tests/test_bench_generate.py`` generates a small sample and checks it against the lifecycle
invariants (each history replays to its appeal's state by allowed moves, versions, deadlines,
the audit chain, one audit record per event, rollups equal to a full refresh).

Prints progress (appeals/s, rows/s, ETA) and, at the end, the footprint per appeal (table and
index bytes ÷ appeals, PostgreSQL). Contacts only the database it is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/minsheng_bench_gen"
META_TABLE = "bench_generate"
# The chain the copies' audit records extend (the services' own writers use 1…16 by thread;
# a chain of its own keeps the copies' records in one ordered run).
COPY_CHAIN = 99
# Keys of event and audit ``data`` that name other rows (→ the table they point into): remapped
# per copy. The other keys are values, copied as they are.
_ID_KEYS = {
    "event": "event",
    "request": "extension",
    "into": "appeal",
    "warning": "warning",
    "order": "order",
}
_KNOWN_KEYS = set(_ID_KEYS) | {
    "into_code",
    "from",
    "to",
    "unit",
    "reason",
    "channel",
    "co_units",
    "amount",
    "from_due",
    "rating",
    "solved",
    "reopen",
    "suspended_from",
    "deadline_kind",
    "level",
    "cause",
    "late",
    "manual",
    "response_due_at",
}
# Per table, its columns that hold the id of another generated row (→ that row's table).
_REFS = {
    "appeal": [("merged_into_id", "appeal")],
    "event": [("appeal_id", "appeal")],
    "assignment": [("appeal_id", "appeal")],
    "extension": [("appeal_id", "appeal")],
    "warning": [("appeal_id", "appeal")],
    "order": [("appeal_id", "appeal")],
    "escalation": [("appeal_id", "appeal"), ("order_id", "order")],
    "notification": [("appeal_id", "appeal")],
    "delivery": [("notification_id", "notification")],
    "audit": [],  # target_id is text: set by the copier
}
# The tables whose rows belong to one appeal, in writing order (targets before references).
CHILDREN = [
    "event",
    "assignment",
    "extension",
    "warning",
    "order",
    "escalation",
    "notification",
    "delivery",
    "audit",
]
# A notification's ``key`` names the row it reports ("order:12"): unique per recipient.
_KEY_TABLES = {"warning": "warning", "order": "order", "escalation": "escalation", "event": "event"}


class GenerateError(Exception):
    """A clear reason to stop (printed without a traceback)."""


# ------------------------------------------------------------------------------ the templates


@dataclass
class Template:
    """One template appeal and every row the services wrote for it, as stored values."""

    appeal: list[Any]
    rows: dict[str, list[list[Any]]] = field(
        default_factory=lambda: {table: [] for table in CHILDREN}
    )


@dataclass
class Plan:
    """Where the copies' ids start and how the template rows map into a block."""

    templates: list[Template]
    first: dict[str, int]  # table → first id of copy block 0
    block: dict[str, int]  # table → rows per block
    offset: dict[str, list[int]]  # table → rows before template r within a block
    index: dict[str, dict[int, int]]  # table → template row id → its place within a block
    tracking: dict[int, str]  # template appeal id → its tracking code


def _models() -> dict[str, Any]:
    from minsheng.appeals.models import Appeal, AppealAssignment, AppealEvent, ExtensionRequest
    from minsheng.core.models import AuditRecord
    from minsheng.notify.models import Delivery, Notification
    from minsheng.supervision.models import DeadlineWarning, Escalation, SupervisionOrder

    return {
        "appeal": Appeal,
        "event": AppealEvent,
        "assignment": AppealAssignment,
        "extension": ExtensionRequest,
        "warning": DeadlineWarning,
        "order": SupervisionOrder,
        "escalation": Escalation,
        "notification": Notification,
        "delivery": Delivery,
        "audit": AuditRecord,
    }


def _columns(model: Any) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _meta_get(key: str = "plan") -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR(40) PRIMARY KEY, value TEXT)"
        )
        cursor.execute(f"SELECT value FROM {META_TABLE} WHERE key = %s", [key])  # noqa: S608
        row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def _meta_put(value: Any, key: str = "plan") -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {META_TABLE} WHERE key = %s", [key])  # noqa: S608
        if value is not None:
            cursor.execute(
                f"INSERT INTO {META_TABLE} (key, value) VALUES (%s, %s)",  # noqa: S608
                [key, json.dumps(value)],
            )


# ------------------------------------------------------------------------ deferred indexes


def defer_indexes(say: Callable[[str], None]) -> int:
    """PostgreSQL: drop the ten tables' secondary indexes, unique and foreign-key constraints.

    Maintaining 30-odd indexes row by row is most of a bulk load's cost, and indexes on random
    keys (the audit hashes, the tracking codes) grow by page splits to about 70 % full. Built
    once after the load they cost a fraction and come out packed. The definitions are saved
    in the meta table in the same transaction as the drops, so an interrupted run restores
    them at its end all the same. The primary keys stay (resuming counts by them).
    """
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return 0
    tables = [m._meta.db_table for m in _models().values()]
    with transaction.atomic(), connection.cursor() as cursor:
        # a table with deferred checks still pending cannot be altered: run them now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        saved: list[list[str]] = _meta_get("deferred") or []
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') "
            "ORDER BY contype, conname",  # foreign keys first
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])) "
            "ORDER BY indexname",
            [tables, tables],
        )
        indexes = cursor.fetchall()
        for table, name, definition, _kind in constraints:
            saved.append(["constraint", table, name, definition])
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for table, name, definition in indexes:
            saved.append(["index", table, name, definition])
            cursor.execute(f'DROP INDEX "{name}"')
        _meta_put(saved, "deferred")
    if constraints or indexes:
        say(f"deferred {len(indexes)} indexes and {len(constraints)} constraints until the end")
    return len(constraints) + len(indexes)


def restore_indexes(say: Callable[[str], None]) -> float:
    """Build what ``defer_indexes`` dropped (unique and foreign keys are checked as they are
    added: a duplicate code or a dangling reference fails the run); returns seconds."""
    from django.db import connection

    saved = _meta_get("deferred") or []
    if not saved:
        return 0.0
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem TO '2GB'")
        # indexes and unique constraints before the foreign keys that lean on them
        for kind, table, name, definition in sorted(saved, key=lambda s: "FOREIGN" in s[3]):
            if kind == "index":
                cursor.execute("SELECT to_regclass(%s)", [name])
                present = cursor.fetchone()[0] is not None
            else:
                cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
                present = cursor.fetchone() is not None
            if present:
                continue
            step = time.perf_counter()
            if kind == "index":
                cursor.execute(definition)
            else:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            say(f"  {name}: {time.perf_counter() - step:,.1f} s")
    _meta_put(None, "deferred")
    return time.perf_counter() - began


def seed_templates(
    count: int, seed: int, say: Callable[[str], None], end: datetime | None = None
) -> dict[str, Any]:
    """Replay ``count`` appeals through the services (the demo's year) and remember the cut."""
    from django.db.models import Max

    from minsheng.appeals.demo import seed_year
    from minsheng.appeals.models import Appeal

    if Appeal.objects.exists():
        raise GenerateError(
            "the database already holds appeals that this generator did not write: "
            "give it an empty database (migrated or not)"
        )
    began = time.perf_counter()

    def progress(done: int, total: int) -> None:
        say(f"templates through the services: {done:,}/{total:,}")

    seed_year(appeals=count, seed=seed, progress=progress, end=end, sweeps=True)
    models = _models()
    meta = {
        f"last_{name}": model.objects.aggregate(m=Max("id"))["m"] or 0
        for name, model in models.items()
    }
    meta["templates_s"] = round(time.perf_counter() - began, 1)
    _meta_put(meta)
    return meta


def load_plan(meta: dict[str, Any]) -> Plan:
    """Read the template rows (as stored values) and lay out a copy block."""
    models = _models()
    appeal_cols = _columns(models["appeal"])
    rows = list(
        models["appeal"]
        .objects.filter(id__lte=meta["last_appeal"])
        .order_by("id")
        .values_list(*appeal_cols)
    )
    templates = [Template(appeal=list(r)) for r in rows]
    by_id = {t.appeal[0]: t for t in templates}
    index: dict[str, dict[int, int]] = {"appeal": {t.appeal[0]: r for r, t in enumerate(templates)}}
    tracking = {t.appeal[0]: t.appeal[appeal_cols.index("tracking_code")] for t in templates}
    merged = appeal_cols.index("merged_into_id")
    for t in templates:
        target = t.appeal[merged]
        if target is not None and index["appeal"][target] >= index["appeal"][t.appeal[0]]:
            raise GenerateError(f"template {t.appeal[0]} is merged into a later appeal")
    owner_of_notification: dict[int, int] = {}
    for name in CHILDREN:
        cols = _columns(models[name])
        query = models[name].objects.filter(id__lte=meta.get(f"last_{name}", 0)).order_by("id")
        if name == "audit":
            query = query.filter(target_type="appeals.appeal")
        for row in query.values_list(*cols):
            if name == "audit":
                owner = int(row[cols.index("target_id")])
            elif name == "delivery":
                owner = owner_of_notification.get(row[cols.index("notification_id")], 0)
            else:
                owner = row[cols.index("appeal_id")] or 0
            if owner not in by_id:  # not about a template appeal (none are written so)
                raise GenerateError(f"template {name} {row[0]} belongs to no template appeal")
            if name == "notification":
                owner_of_notification[row[0]] = owner
            by_id[owner].rows[name].append(list(row))
    offset: dict[str, list[int]] = {"appeal": list(range(len(templates)))}
    block: dict[str, int] = {"appeal": len(templates)}
    for name in CHILDREN:
        running, starts = 0, []
        for t in templates:
            starts.append(running)
            running += len(t.rows[name])
        offset[name], block[name] = starts, running
        index[name] = {
            row[0]: offset[name][r] + j
            for r, t in enumerate(templates)
            for j, row in enumerate(t.rows[name])
        }
    first = {name: meta.get(f"last_{name}", 0) + 1 for name in models}
    return Plan(templates, first, block, offset, index, tracking)


# --------------------------------------------------------------------------------- the copies


def tracking_code(number: int) -> str:
    """The ``number``-th generated code: an odd multiplier permutes 32**10, so codes never clash
    and do not look sequential; the leading "Z" keeps them apart from the templates' random
    codes (which could otherwise equal one by chance)."""
    from minsheng.appeals.services import TRACKING_ALPHABET, TRACKING_LENGTH

    space = len(TRACKING_ALPHABET) ** (TRACKING_LENGTH - 1)
    value = (number * 0x5DEECE66D + 0xB) % space
    digits = []
    for _ in range(TRACKING_LENGTH - 1):
        value, digit = divmod(value, len(TRACKING_ALPHABET))
        digits.append(TRACKING_ALPHABET[digit])
    return "Z" + "".join(reversed(digits))


def _code_number(code: str) -> int | None:
    """The number whose generated code is ``code`` (inverse of ``tracking_code``), if any."""
    from minsheng.appeals.services import TRACKING_ALPHABET, TRACKING_LENGTH

    if len(code) != TRACKING_LENGTH or code[0] != "Z":
        return None
    space = len(TRACKING_ALPHABET) ** (TRACKING_LENGTH - 1)
    value = 0
    for char in code[1:]:
        value = value * len(TRACKING_ALPHABET) + TRACKING_ALPHABET.index(char)
    return (value - 0xB) * pow(0x5DEECE66D, -1, space) % space


def _phone(number: int) -> str:
    return f"1{3 + number % 7}{(number * 7919 + 12345) % 10**9:09d}"


class Copier:
    """Builds the rows of copy (block k, template r) and chains their audit records."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        models = _models()
        self.cols = {name: _columns(model) for name, model in models.items()}
        self.fields = {
            name: [model._meta.get_field(c) if c != "id" else None for c in self.cols[name]]
            for name, model in models.items()
        }
        self.refs = {
            name: [(self.cols[name].index(col), target) for col, target in refs]
            for name, refs in _REFS.items()
        }
        a = self.cols["appeal"]
        self.a_tracking = a.index("tracking_code")
        self.a_phone = a.index("citizen_phone")
        self.data_at = {name: self.cols[name].index("data") for name in ("event", "audit")}
        self.n_key = self.cols["notification"].index("key")
        u = self.cols["audit"]
        self.u_target = u.index("target_id")
        self.u_chain = u.index("chain")
        self.u_prev = u.index("prev_hash")
        self.u_hash = u.index("hash")

    def _id(self, table: str, block: int, place: int) -> int:
        return self.plan.first[table] + block * self.plan.block[table] + place

    def _copy_of(self, table: str, block: int, template_id: int) -> int:
        """The id, in copy block ``block``, of the row copied from template row ``template_id``."""
        return self._id(table, block, self.plan.index[table][template_id])

    def appeal_id(self, number: int) -> int:
        return self.plan.first["appeal"] + number

    def _remap(self, data: dict[str, Any], block: int) -> dict[str, Any]:
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise GenerateError(f"unknown keys in event/audit data: {sorted(unknown)}")
        if not (_ID_KEYS.keys() & data.keys()):
            return data
        data = dict(data)
        for key, table in _ID_KEYS.items():
            if data.get(key) is not None:
                data[key] = self._copy_of(table, block, data[key])
        if "into" in data:
            rank = data["into"] - self._id("appeal", block, 0)
            data["into_code"] = tracking_code(block * self.plan.block["appeal"] + rank)
        return data

    def _key(self, key: str, block: int) -> str:
        """A notification's event key, naming the copy's row instead of the template's."""
        if not key:
            return key
        prefix, _, number = key.partition(":")
        if prefix not in _KEY_TABLES or not number.isdigit():
            raise GenerateError(f"unknown notification key {key!r}")
        return f"{prefix}:{self._copy_of(_KEY_TABLES[prefix], block, int(number))}"

    def _row(self, table: str, template_row: list[Any], block: int, place: int) -> list[Any]:
        row = list(template_row)
        row[0] = self._id(table, block, place)
        for at, target in self.refs[table]:
            if row[at] is not None:
                row[at] = self._copy_of(target, block, row[at])
        if table in self.data_at:
            row[self.data_at[table]] = self._remap(row[self.data_at[table]], block)
        return row

    def rows(self, number: int) -> dict[str, list[list[Any]]]:
        """Every row of generated appeal ``number`` (0-based over the copies)."""
        plan = self.plan
        block, rank = divmod(number, plan.block["appeal"])
        t = plan.templates[rank]
        appeal = self._row("appeal", t.appeal, block, rank)
        appeal[self.a_tracking] = tracking_code(number)
        if appeal[self.a_phone]:
            appeal[self.a_phone] = _phone(number)
        out: dict[str, list[list[Any]]] = {"appeal": [appeal]}
        for table in CHILDREN:
            start = plan.offset[table][rank]
            out[table] = [
                self._row(table, template_row, block, start + j)
                for j, template_row in enumerate(t.rows[table])
            ]
        for row in out["notification"]:
            row[self.n_key] = self._key(row[self.n_key], block)
        for row in out["audit"]:
            row[self.u_target] = str(appeal[0])
            row[self.u_chain] = COPY_CHAIN
        return out

    def chain(self, audits: list[list[Any]], prev_hash: str) -> str:
        """Set prev_hash and hash of ``audits`` in order, as the audit module would."""
        from minsheng.core.audit import compute_hash

        cols = self.cols["audit"]
        for row in audits:
            # compute_hash reads the record's attributes only: a namespace is enough, and a
            # tenth of the cost of a model instance
            record = SimpleNamespace(**dict(zip(cols, row, strict=True)))
            row[self.u_prev] = prev_hash
            prev_hash = row[self.u_hash] = compute_hash(prev_hash, record)
        return prev_hash


# ----------------------------------------------------------------------------------- writing


def _write(table: str, copier: Copier, rows: list[list[Any]]) -> None:
    """Insert stored values: COPY on PostgreSQL, executemany elsewhere."""
    from django.db import connection

    if not rows:
        return
    model = _models()[table]
    db_table = model._meta.db_table
    cols = copier.cols[table]
    fields = copier.fields[table]
    if connection.vendor == "postgresql":
        json_at = [
            i
            for i, f in enumerate(fields)
            if f is not None and f.get_internal_type() == "JSONField"
        ]
        names = ", ".join(f'"{c}"' for c in [_column(model, c) for c in cols])
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {db_table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    for i in json_at:
                        row[i] = json.dumps(row[i], ensure_ascii=False)
                    copy.write_row(row)
        return
    prepared = [
        [
            v if f is None else f.get_db_prep_save(v, connection)
            for v, f in zip(row, fields, strict=True)
        ]
        for row in rows
    ]
    names = ", ".join(f'"{_column(model, c)}"' for c in cols)
    marks = ", ".join(["%s"] * len(cols))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {db_table} ({names}) VALUES ({marks})", prepared)  # noqa: S608


def _column(model: Any, attname: str) -> str:
    return next(f.column for f in model._meta.concrete_fields if f.attname == attname)


def _disk_share() -> tuple[float, str]:
    """How full the disk holding the database is (0–1), and that path."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            path = cursor.fetchone()[0]
    else:
        path = str(Path(connection.settings_dict["NAME"]).parent)
    usage = shutil.disk_usage(path)
    # as df reports it: space reserved for root or held back by the host is not ours to fill
    return usage.used / (usage.used + usage.free), path


def copy_batch(copier: Copier, numbers: Iterable[int]) -> int:
    """Write the copies ``numbers`` and move the copy chain's head, in one transaction."""
    from django.db import transaction

    from minsheng.core.audit import _lock_head, _set_head

    tables: dict[str, list[list[Any]]] = {table: [] for table in ["appeal", *CHILDREN]}
    for number in numbers:
        for table, rows in copier.rows(number).items():
            tables[table].extend(rows)
    with transaction.atomic():
        prev = _lock_head(COPY_CHAIN, 0)
        last = copier.chain(tables["audit"], prev)
        for table, rows in tables.items():
            _write(table, copier, rows)
        _set_head(COPY_CHAIN, last, len(tables["audit"]))
    return sum(len(rows) for rows in tables.values())


def reset_sequences() -> None:
    """Point PostgreSQL's id sequences past the ids written explicitly (SQLite's follow)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in _models().values():
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


def generate(
    total: int,
    *,
    templates: int = 20_000,
    seed: int = 2026,
    batch: int = 2_000,
    max_disk: float = 0.8,
    defer: bool = True,
    say: Callable[[str], None] = print,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Bring the database to ``total`` appeals (templates first); resumable; returns figures.
    The templates' year ends at ``end`` (default: now)."""
    from django.db import connection

    from minsheng.appeals.models import Appeal

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A lost commit is redone by the next run (it resumes from what is committed).
            cursor.execute("SET synchronous_commit TO off")
    meta = _meta_get()
    if meta is None:
        meta = seed_templates(min(templates, total), seed, say, end)
    plan = load_plan(meta)
    copier = Copier(plan)
    clash = [c for c in plan.tracking.values() if (_code_number(c) or total) < total]
    if clash:  # a template's random code equals a copy's (about 1 run in 3,000 at 21M)
        raise GenerateError(f"template tracking codes {clash} equal generated ones: reseed")
    have = Appeal.objects.count()
    template_count = plan.block["appeal"]
    done = have - template_count  # copies already written (each batch commits whole)
    if done < 0 or Appeal.objects.filter(id__gte=copier.appeal_id(max(done, 0))).exists():
        raise GenerateError("the database holds appeals this generator cannot account for")
    figures: dict[str, Any] = {"templates": template_count, "resumed_at": have, "rows": 0}
    began = time.perf_counter()
    wanted = max(total - template_count, 0)
    if defer and done < wanted:
        defer_indexes(say)
    while done < wanted:
        share, path = _disk_share()
        if share >= max_disk:
            say(f"stopping: the disk of {path} is {share:.0%} full (limit {max_disk:.0%})")
            figures["stopped_for_disk"] = True
            break
        numbers = range(done, min(done + batch, wanted))
        figures["rows"] += copy_batch(copier, numbers)
        done = numbers.stop
        elapsed = time.perf_counter() - began
        copied = done - max(have - template_count, 0)
        rate = copied / elapsed if elapsed else 0.0
        left = (wanted - done) / rate if rate else 0.0
        say(
            f"\r{template_count + done:,}/{total:,} appeals · {rate:,.0f} appeals/s · "
            f"{figures['rows'] / elapsed:,.0f} rows/s · disk {share:.0%} · "
            f"ETA {left / 60:,.1f} min"
        )
    figures["copy_s"] = round(time.perf_counter() - began, 1)
    say("")
    figures["indexes_s"] = round(restore_indexes(say), 1)
    reset_sequences()
    figures["appeals"] = Appeal.objects.count()
    return figures


def footprint() -> list[tuple[str, int, int]]:
    """(table, rows, bytes with indexes and TOAST) of the tables the generator fills."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    out = []
    with connection.cursor() as cursor:
        for model in _models().values():
            table = model._meta.db_table
            cursor.execute(
                "SELECT (SELECT reltuples::bigint FROM pg_class WHERE relname = %s), "
                "pg_total_relation_size(%s)",
                [table, table],
            )
            rows, size = cursor.fetchone()
            out.append((table, int(rows), int(size)))
    return out


# ------------------------------------------------------------------------------------- command


def configure(args: argparse.Namespace) -> str:
    for key in [k for k in os.environ if k.startswith("MINSHENG_")]:
        del os.environ[key]
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        MINSHENG_DATA_DIR=str(data_dir),
        MINSHENG_SECRET_KEY="bench-generate-" + "x" * 40,
        MINSHENG_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="minsheng.settings",
    )
    if args.sqlite:
        where = str(Path(args.sqlite).resolve())
        os.environ["MINSHENG_DATA_DIR"] = str(Path(where).parent)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import exports  # creates the PostgreSQL database when missing

        exports._ensure_database(args.database_url, fresh=False)
        os.environ["MINSHENG_DATABASE_URL"] = args.database_url
        where = args.database_url.rsplit("/", 1)[1]
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    return where


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appeals", type=int, required=True, help="appeals wanted in all")
    parser.add_argument("--database-url", default=PG_DEFAULT)
    parser.add_argument("--sqlite", metavar="PATH", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-generate"))
    parser.add_argument("--templates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=2_000, help="appeals per transaction")
    parser.add_argument("--max-disk", type=float, default=0.8, help="stop at this disk share")
    parser.add_argument("--no-rollups", action="store_true", help="skip refresh_rollups")
    parser.add_argument(
        "--keep-indexes",
        action="store_true",
        help="maintain every index while copying (default: drop them and build them at the end)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.appeals < 1 or args.templates < 1 or args.batch < 1:
        raise GenerateError("--appeals, --templates and --batch must be positive")
    if not 0 < args.max_disk <= 0.95:
        raise GenerateError("--max-disk must be above 0 and at most 0.95")
    where = configure(args)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    def say(text: str) -> None:
        end = "" if text.startswith("\r") else "\n"
        print(text, end=end, file=sys.stderr, flush=True)

    say(f"generating into {where}")
    figures = generate(
        args.appeals,
        templates=args.templates,
        seed=args.seed,
        batch=args.batch,
        max_disk=args.max_disk,
        defer=not args.keep_indexes,
        say=say,
    )
    say("")
    if not args.no_rollups:
        from minsheng.analytics.rollups import refresh_rollups

        began = time.perf_counter()
        say("refresh_rollups(full=True) …")
        refresh_rollups(full=True)
        figures["rollups_s"] = round(time.perf_counter() - began, 1)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    rows = footprint()
    print(json.dumps(figures))
    if rows:
        appeals = max(figures["appeals"], 1)
        total = sum(size for _, _, size in rows)
        print(f"{'table':<32} {'rows':>14} {'MB':>10} {'bytes/appeal':>13}")
        for table, count, size in rows:
            print(f"{table:<32} {count:>14,} {size / 2**20:>10,.0f} {size / appeals:>13,.0f}")
        print(f"{'all ten':<32} {'':>14} {total / 2**20:>10,.0f} {total / appeals:>13,.0f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GenerateError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        sys.exit(2)
