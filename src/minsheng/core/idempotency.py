"""Idempotent intake (DESIGN.md invariant 7): the first response to a key is the only one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .errors import CoreError, DomainError
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 128


class Outcome(NamedTuple):
    status: int
    body: dict[str, Any]
    replayed: bool  # True: an earlier request with this key answered, nothing ran now


class _Taken(Exception):
    """Another request stored an answer for the key first: undo this run's work."""


def request_fingerprint(payload: Any) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def run_once(
    *, scope: str, key: str, payload: Any, run: Callable[[], tuple[int, dict[str, Any]]]
) -> Outcome:
    """Run ``run`` once per (scope, key); a retry gets the stored status and body.

    The work runs first and its answer is stored last, in the same transaction, with one
    ``INSERT … ON CONFLICT DO NOTHING``: a concurrent twin waits on the unique index until the
    first commits, finds the key taken, rolls its own work back and replays the first answer.
    Retries are rare, so the common case pays one statement instead of a claim before the
    work and an update after it. If the work fails, nothing is stored and a later retry runs
    again — unless an earlier request already answered, whose answer is then replayed.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            CoreError.VALIDATION, {"header": "Idempotency-Key", "max_length": MAX_KEY_LENGTH}
        )
    fingerprint = request_fingerprint(payload)
    try:
        with transaction.atomic():
            status, body = run()
            if _store(scope, key, fingerprint, status, body):
                return Outcome(status, body, replayed=False)
            raise _Taken
    except _Taken:
        pass
    except (DomainError, IntegrityError):
        # A retry of work that already happened may be refused by the work itself (the
        # appeal is rated already, the upload is attached, a unique row exists): the stored
        # answer wins.
        if not IdempotencyRecord.objects.filter(scope=scope, key=key).exists():
            raise
    existing = IdempotencyRecord.objects.get(scope=scope, key=key)
    if existing.request_hash != fingerprint:
        raise DomainError(CoreError.IDEMPOTENCY_KEY_REUSED)
    return Outcome(existing.status_code, existing.response, replayed=True)


def _store(scope: str, key: str, fingerprint: str, status: int, body: dict[str, Any]) -> bool:
    """Insert the key's answer; False when the key is taken (after its writer committed)."""
    table = IdempotencyRecord._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({quote('scope')}, {quote('key')}, "  # noqa: S608
            f"{quote('request_hash')}, {quote('status_code')}, {quote('response')}, "
            f"{quote('created_at')}) VALUES (%s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT ({quote('scope')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}",
            [
                scope,
                key,
                fingerprint,
                status,
                connection.ops.adapt_json_value(body, None),
                timezone.now(),
            ],
        )
        return cursor.fetchone() is not None
