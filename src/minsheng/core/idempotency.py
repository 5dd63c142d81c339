"""Idempotent intake (DESIGN.md invariant 7): the first response to a key is the only one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

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
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    scope=scope, key=key, request_hash=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(scope=scope, key=key)
            if existing.request_hash != fingerprint:
                raise DomainError(CoreError.IDEMPOTENCY_KEY_REUSED) from None
            return existing.status_code, existing.response
        status, body = run()
        record.status_code, record.response = status, body
        record.save(update_fields=["status_code", "response"])
        return status, body
