"""The hash-chained audit log: append inside the caller's transaction, verify the chain, and
purge what is past the keep period while leaving a checkpoint the chain still verifies from."""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone

from .masking import mask_phone
from .models import AuditCheckpoint, AuditHead, AuditRecord

GENESIS = "0" * 64
# The actor of a citizen's own action (submitted or rated through the tracking code).
CITIZEN = "citizen"


def _canonical(record: AuditRecord) -> bytes:
    body = {
        "at": record.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "chain": record.chain,
        "actor": record.actor_id,
        "actor_label": record.actor_label,
        "action": record.action,
        "target": [record.target_type, record.target_id],
        "data": record.data,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(prev_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(record)).hexdigest()


def _label(actor: Any) -> str:
    if actor is None:
        return "system"
    if actor == CITIZEN:
        return CITIZEN
    return str(actor.username)


_HEAD = AuditHead._meta.db_table


def _chain() -> int:
    """This thread's chain: a transaction runs on one thread, so it extends one chain only."""
    # Native thread ids are small distinct integers (``get_ident`` is an aligned address whose
    # low bits are the same for every thread, which put a whole worker on one chain).
    return (os.getpid() * 7919 + threading.get_native_id()) % settings.MINSHENG_AUDIT_CHAINS + 1


def _lock_head(chain: int, add: int = 1) -> str:
    """Count ``add`` more records on the chain's head and return the hash it pointed to."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_HEAD} SET count = count + %s WHERE id = %s RETURNING last_hash",  # noqa: S608
            [add, chain],
        )
        row = cursor.fetchone()
    if row is not None:
        return str(row[0])
    AuditHead.objects.get_or_create(id=chain, defaults={"last_hash": GENESIS, "count": 0})
    return _lock_head(chain, add)


def _set_head(chain: int, last_hash: str, add: int = 0) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_HEAD} SET last_hash = %s, count = count + %s WHERE id = %s",  # noqa: S608
            [last_hash, add, chain],
        )


@dataclass
class _Buffer:
    chain: int
    prev_hash: str
    entries: list[AuditRecord] = field(default_factory=list)


_buffer: contextvars.ContextVar[_Buffer | None] = contextvars.ContextVar(
    "audit_buffer", default=None
)


@contextmanager
def buffered() -> Iterator[None]:
    """Chain records in memory and write them in one go when the block ends.

    For bulk runs inside one transaction (the demo year): the head stays locked for the whole
    block, so the chain is exactly what one-by-one appends would have produced.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.buffered() must run inside a transaction")
    chain = _chain()
    state = _Buffer(chain=chain, prev_hash=_lock_head(chain, 0))
    token = _buffer.set(state)
    try:
        yield
    finally:
        _buffer.reset(token)
    AuditRecord.objects.bulk_create(state.entries, batch_size=500)
    _set_head(chain, state.prev_hash, len(state.entries))


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record. Must run inside the transaction whose change it records."""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    entry = AuditRecord(
        at=timezone.now(),  # when it was written, even during a demo replay
        actor_id=getattr(actor, "pk", None),
        actor_label=_label(actor),
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=json.loads(json.dumps(data or {}, ensure_ascii=False, default=str)),
    )
    state = _buffer.get()
    if state is not None:
        entry.chain = state.chain
        entry.prev_hash = state.prev_hash
        entry.hash = state.prev_hash = compute_hash(entry.prev_hash, entry)
        state.entries.append(entry)
        return entry
    # No savepoint: the caller's transaction is the unit of work, and audit writes cannot fail
    # for business reasons. Bumping the head row first locks it (PostgreSQL row lock; SQLite's
    # writer lock), which orders concurrent appends; RETURNING gives the previous hash.
    with transaction.atomic(savepoint=False):
        entry.chain = _chain()
        entry.prev_hash = _lock_head(entry.chain)
        entry.hash = compute_hash(entry.prev_hash, entry)
        _insert_and_move_head(entry)
    return entry


def _insert_and_move_head(entry: AuditRecord) -> None:
    """Insert the record and point its chain's head at it: one statement on PostgreSQL.

    The intake path appends one record per submission; a data-modifying CTE saves a round
    trip there. Elsewhere (SQLite, in process) two statements cost next to nothing.
    """
    fields = [f for f in AuditRecord._meta.concrete_fields if f is not AuditRecord._meta.pk]
    query = InsertQuery(AuditRecord)
    query.insert_values(fields, [entry])
    if connection.vendor != "postgresql":
        compiler = query.get_compiler(connection=connection)
        rows = compiler.execute_sql(returning_fields=[AuditRecord._meta.pk])
        entry.pk = rows[0][0]
        _set_head(entry.chain, entry.hash)
        return
    ((insert_sql, insert_params),) = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH rec AS ({insert_sql} RETURNING id) "  # noqa: S608
            f"UPDATE {_HEAD} SET last_hash = %s WHERE id = %s RETURNING (SELECT id FROM rec)",
            [*insert_params, entry.hash, entry.chain],
        )
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False


@dataclass(frozen=True)
class ChainProblem:
    record_id: int | None
    problem: str


def verify_chain(batch_size: int = 5000) -> Iterator[ChainProblem]:
    """Yield every place where a chain does not hold (an edited, inserted or deleted row).

    A purged chain starts from its checkpoint (the last purged hash and count) instead of the
    genesis hash; the checkpoints themselves must match the latest ``audit.purge`` record,
    which lies in a chain and so cannot be changed without breaking it.
    """
    heads = {head.pk: head for head in AuditHead.objects.all()}
    checkpoints = {cp.pk: cp for cp in AuditCheckpoint.objects.all()}
    chains = (
        set(heads)
        | set(checkpoints)
        | set(AuditRecord.objects.values_list("chain", flat=True).distinct())
    )
    for chain in sorted(chains):
        yield from _verify_one(chain, heads.get(chain), checkpoints.get(chain), batch_size)
    yield from _verify_checkpoints(checkpoints)


def _verify_one(
    chain: int, head: AuditHead | None, checkpoint: AuditCheckpoint | None, batch_size: int
) -> Iterator[ChainProblem]:
    prev = checkpoint.last_hash if checkpoint else GENESIS
    count = checkpoint.count if checkpoint else 0
    cut = checkpoint.last_id if checkpoint else 0
    last_id = 0
    while True:
        rows = list(
            AuditRecord.objects.filter(chain=chain, id__gt=last_id).order_by("id")[:batch_size]
        )
        if not rows:
            break
        for row in rows:
            last_id = row.pk
            if row.pk <= cut:
                yield ChainProblem(row.pk, "record lies before the chain's purge checkpoint")
                continue
            count += 1
            if row.prev_hash != prev:
                yield ChainProblem(row.pk, "prev_hash does not match the previous record")
            if compute_hash(row.prev_hash, row) != row.hash:
                yield ChainProblem(row.pk, "content does not match its hash")
            prev = row.hash
    if head is None or head.last_hash != prev or head.count != count:
        yield ChainProblem(None, "records are missing: the chain head expects more")


def _checkpoint_data(checkpoints: dict[int, AuditCheckpoint]) -> dict[str, Any]:
    return {
        str(chain): {"last_id": cp.last_id, "last_hash": cp.last_hash, "count": cp.count}
        for chain, cp in sorted(checkpoints.items())
    }


def _verify_checkpoints(checkpoints: dict[int, AuditCheckpoint]) -> Iterator[ChainProblem]:
    purge = AuditRecord.objects.filter(action=PURGE_ACTION).order_by("-id").first()
    if purge is None:
        if checkpoints:
            yield ChainProblem(None, "purge checkpoints exist but no purge record confirms them")
        return
    if purge.data.get("checkpoints") != _checkpoint_data(checkpoints):
        yield ChainProblem(purge.pk, "purge checkpoints differ from the latest purge record")


# --- retention ---------------------------------------------------------------------------------

PURGE_ACTION = "audit.purge"
# The keep period is counted in the platform's time zone: a day is a day in Shanghai.
_LOCAL = ZoneInfo("Asia/Shanghai")
# GB/T 22239-2019 level 3 (and the Cybersecurity Law, art. 21): network logs kept ≥ 6 months.
MIN_KEEP_DAYS = 180


class PurgeRefused(ValueError):
    """A purge that would delete records still inside the keep period."""


@dataclass(frozen=True)
class PurgeResult:
    before: date
    deleted: int
    chains: dict[int, int]  # chain → records deleted from it


def latest_purge_date(today: date | None = None) -> date:
    """The latest ``--before`` a purge accepts: records of the keep period stay."""
    today = today or timezone.now().astimezone(_LOCAL).date()
    return today - timedelta(days=settings.MINSHENG_AUDIT_KEEP_DAYS)


def purge(*, before: date, actor: Any = None, batch_size: int = 5000) -> PurgeResult:
    """Delete each chain's records written before ``before`` (Shanghai midnight), leaving a
    checkpoint per chain so ``verify_chain`` still passes and still catches later tampering.

    Per chain only a prefix goes (records up to the first one written on or after the cut), so
    what stays is an unbroken run of the chain. Refused (``PurgeRefused``) for a date inside
    the keep period (``MINSHENG_AUDIT_KEEP_DAYS``, at least ``MIN_KEEP_DAYS``).
    """
    keep_days = settings.MINSHENG_AUDIT_KEEP_DAYS
    if keep_days < MIN_KEEP_DAYS:
        raise PurgeRefused(f"MINSHENG_AUDIT_KEEP_DAYS is {keep_days}, below {MIN_KEEP_DAYS}")
    latest = latest_purge_date()
    if before > latest:
        raise PurgeRefused(
            f"records since {latest + timedelta(days=1)} are inside the keep period of "
            f"{keep_days} days; the latest date to purge before is {latest}"
        )
    cut = datetime.combine(before, time.min, tzinfo=_LOCAL)
    deleted: dict[int, int] = {}
    with transaction.atomic():
        chains = sorted(set(AuditRecord.objects.values_list("chain", flat=True).distinct()))
        checkpoints = {cp.pk: cp for cp in AuditCheckpoint.objects.select_for_update()}
        for chain in chains:
            _lock_head(chain, 0)  # appends to this chain wait until the cut is recorded
            first_kept = (
                AuditRecord.objects.filter(chain=chain, at__gte=cut)
                .order_by("id")
                .values_list("id", flat=True)
                .first()
            )
            doomed = AuditRecord.objects.filter(chain=chain)
            if first_kept is not None:
                doomed = doomed.filter(id__lt=first_kept)
            last = doomed.order_by("-id").values_list("id", "hash").first()
            if last is None:
                continue
            count = 0
            while True:
                ids = list(doomed.order_by("id").values_list("id", flat=True)[:batch_size])
                if not ids:
                    break
                count += AuditRecord.objects.filter(id__in=ids).delete()[0]
            checkpoint = checkpoints.get(chain) or AuditCheckpoint(id=chain, count=0)
            checkpoint.last_id, checkpoint.last_hash = last
            checkpoint.count += count
            checkpoint.before = before
            checkpoint.purged_at = timezone.now()
            checkpoint.save()
            checkpoints[chain] = checkpoint
            deleted[chain] = count
        # The checkpoints go into the chain itself: a forged one no longer matches this record.
        record(
            actor=actor,
            action=PURGE_ACTION,
            target_type=AuditRecord._meta.label_lower,
            data={
                "before": before.isoformat(),
                "deleted": sum(deleted.values()),
                "checkpoints": _checkpoint_data(checkpoints),
            },
        )
    return PurgeResult(before=before, deleted=sum(deleted.values()), chains=deleted)


# --- display -------------------------------------------------------------------------------------

_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9Xx])\d{17}[0-9Xx](?![0-9Xx])")


def _mask_text(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: f"{m.group()[:4]}{'*' * 10}{m.group()[-4:]}", text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


def masked(value: Any) -> Any:
    """A record's data for display with phone and ID numbers masked, wherever they were typed
    (a reason, a search query): reading the log reveals no personal data (DESIGN.md inv. 4)."""
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value
