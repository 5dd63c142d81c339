"""The hash-chained audit log: append inside the caller's transaction, verify the chain."""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone

from .models import AuditHead, AuditRecord

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
    """Yield every place where a chain does not hold (an edited, inserted or deleted row)."""
    heads = {head.pk: head for head in AuditHead.objects.all()}
    chains = set(heads) | set(AuditRecord.objects.values_list("chain", flat=True).distinct())
    for chain in sorted(chains):
        yield from _verify_one(chain, heads.get(chain), batch_size)


def _verify_one(chain: int, head: AuditHead | None, batch_size: int) -> Iterator[ChainProblem]:
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = list(
            AuditRecord.objects.filter(chain=chain, id__gt=last_id).order_by("id")[:batch_size]
        )
        if not rows:
            break
        for row in rows:
            count += 1
            if row.prev_hash != prev:
                yield ChainProblem(row.pk, "prev_hash does not match the previous record")
            if compute_hash(row.prev_hash, row) != row.hash:
                yield ChainProblem(row.pk, "content does not match its hash")
            prev = row.hash
            last_id = row.pk
    if head is None or head.last_hash != prev or head.count != count:
        yield ChainProblem(None, "records are missing: the chain head expects more")
