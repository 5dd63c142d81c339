"""The hash-chained audit log: append inside the caller's transaction, verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from .models import AuditHead, AuditRecord

GENESIS = "0" * 64
# The actor of a citizen's own action (submitted or rated through the tracking code).
CITIZEN = "citizen"


def _canonical(record: AuditRecord) -> bytes:
    body = {
        "at": record.at.astimezone(UTC).isoformat(timespec="microseconds"),
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


def record(
    *, actor: Any, action: str, target: models.Model | None = None,
    target_type: str = "", target_id: str = "", data: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record. Must run inside the transaction whose change it records."""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_hash": GENESIS}
        )
        entry = AuditRecord(
            at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_label=_label(actor),
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=json.loads(json.dumps(data or {}, ensure_ascii=False, default=str)),
            prev_hash=head.last_hash,
        )
        entry.hash = compute_hash(head.last_hash, entry)
        entry.save()
        head.last_hash = entry.hash
        head.count += 1
        head.save(update_fields=["last_hash", "count"])
    return entry


@dataclass(frozen=True)
class ChainProblem:
    record_id: int | None
    problem: str


def verify_chain(batch_size: int = 5000) -> Iterator[ChainProblem]:
    """Yield every place where the chain does not hold (an edited, inserted or deleted row)."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = list(AuditRecord.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
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
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and (head.last_hash != prev or head.count != count):
        yield ChainProblem(None, "records are missing: the chain head expects more")
