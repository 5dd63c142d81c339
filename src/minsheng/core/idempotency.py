"""Idempotent intake (DESIGN.md invariant 7): the first response to a key is the only one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .errors import CoreError, DomainError
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 128


def request_fingerprint(payload: Any) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def run_once(
    *, scope: str, key: str, payload: Any, run: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any]]:
    """Run ``run`` once per (scope, key); a retry gets the stored status and body.

    The record is inserted before the work, inside the same transaction: a concurrent retry
    waits on the unique index until the first commits, then replays its answer. If the work
    fails, the record goes with it and a later retry runs again.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            CoreError.VALIDATION, {"header": "Idempotency-Key", "max_length": MAX_KEY_LENGTH}
        )
    fingerprint = request_fingerprint(payload)
    with transaction.atomic():
        record_id = _claim(scope, key, fingerprint)
        if record_id is None:
            existing = IdempotencyRecord.objects.get(scope=scope, key=key)
            if existing.request_hash != fingerprint:
                raise DomainError(CoreError.IDEMPOTENCY_KEY_REUSED)
            return existing.status_code, existing.response
        status, body = run()
        IdempotencyRecord.objects.filter(pk=record_id).update(status_code=status, response=body)
        return status, body


def _claim(scope: str, key: str, fingerprint: str) -> int | None:
    """Insert the key's record, or return None when it exists (after its writer committed).

    ``ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same key to commit or roll
    back, and needs no savepoint (one statement instead of three on the hot intake path).
    """
    table = IdempotencyRecord._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({quote('scope')}, {quote('key')}, "  # noqa: S608
            f"{quote('request_hash')}, {quote('status_code')}, {quote('response')}, "
            f"{quote('created_at')}) VALUES (%s, %s, %s, 0, '{{}}', %s) "
            f"ON CONFLICT ({quote('scope')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}",
            [scope, key, fingerprint, timezone.now()],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])
