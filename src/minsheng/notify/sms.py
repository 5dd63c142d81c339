"""Text messages (短信) through a pluggable backend, chosen by ``MINSHENG_SMS_BACKEND``.

A city contracts its own SMS gateway, so the platform only defines the small interface a
gateway adapter implements: a class with ``send(phone, text)``. The default writes the message
to the log (a demo or a closed network has no gateway); tests use ``LocmemBackend`` and read
``outbox``, as Django's mail outbox.

Callers send after commit (``transaction.on_commit``): a rolled-back action never texts anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from minsheng.core.masking import mask_phone

logger = logging.getLogger("minsheng.sms")

DEFAULT_BACKEND = "minsheng.notify.sms.LogBackend"


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


class LogBackend:
    """Writes each message to the ``minsheng.sms`` log at INFO (standard error by default).

    The phone is masked as everywhere else in the logs; the text is written whole, because
    reading a login code from the console is what this backend is for.
    """

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


# Messages "sent" by ``LocmemBackend``, oldest first; tests clear it.
outbox: list[SmsMessage] = []


class LocmemBackend:
    """Keeps messages in this process's ``outbox`` list instead of sending them (tests)."""

    def send(self, phone: str, text: str) -> None:
        outbox.append(SmsMessage(phone=phone, text=text))


def get_backend() -> SmsBackend:
    """A new instance of the configured backend (read per call, so tests can override it)."""
    path = getattr(settings, "MINSHENG_SMS_BACKEND", "") or DEFAULT_BACKEND
    backend: SmsBackend = import_string(path)()
    return backend


def send_sms(phone: str, text: str) -> None:
    """Send one text message now. Call it from ``transaction.on_commit``, not mid-transaction."""
    get_backend().send(phone, text)
