"""Text messages (短信) through a pluggable backend, chosen by ``MINSHENG_SMS_BACKEND``.

A city contracts its own SMS gateway, so the platform only defines the small interface a
gateway adapter implements: a class with ``send(phone, text, key="")``. The default writes the
message to the log (a demo or a closed network has no gateway); tests use ``LocmemBackend`` and read
``outbox``, as Django's mail outbox.

Callers send after commit (``transaction.on_commit``): a rolled-back action never texts anyone.
``key`` names one message for good (a notification's delivery); a gateway that keeps the keys
it has accepted can drop a resend, which turns "at least once" into "exactly once".
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from minsheng.core.masking import mask_phone

logger = logging.getLogger("minsheng.sms")

DEFAULT_BACKEND = "minsheng.notify.sms.LogBackend"


class SmsBackend(Protocol):
    def send(self, phone: str, text: str, key: str = "") -> None: ...


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    key: str = ""


class LogBackend:
    """Writes each message to the ``minsheng.sms`` log at INFO (standard error by default).

    The phone is masked as everywhere else in the logs; the text is written whole, because
    reading a login code from the console is what this backend is for.
    """

    def send(self, phone: str, text: str, key: str = "") -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


# Messages "sent" by ``LocmemBackend``, oldest first; tests clear it.
outbox: list[SmsMessage] = []


class LocmemBackend:
    """Keeps messages in this process's ``outbox`` list instead of sending them (tests)."""

    def send(self, phone: str, text: str, key: str = "") -> None:
        outbox.append(SmsMessage(phone=phone, text=text, key=key))


class SmsError(Exception):
    """The gateway did not take the message (refused, unreachable, timed out)."""


class WebhookBackend:
    """Posts ``{"phone": …, "text": …}`` as JSON to ``MINSHENG_SMS_WEBHOOK_URL``.

    A message with a key also carries it, as ``"key"`` in the body and as an
    ``Idempotency-Key`` header: the same delivery sent again has the same key.

    The small adapter most SMS gateways (or a city's message bus) can receive. A 2xx answer
    means accepted; anything else, or no answer within ``MINSHENG_SMS_WEBHOOK_TIMEOUT``
    seconds, raises ``SmsError`` so the caller can retry. ``MINSHENG_SMS_WEBHOOK_TOKEN``, when
    set, is sent as a bearer token.
    """

    def __init__(self) -> None:
        self.url = getattr(settings, "MINSHENG_SMS_WEBHOOK_URL", "")
        if not self.url.startswith(("http://", "https://")):
            raise SmsError("MINSHENG_SMS_WEBHOOK_URL must be an http:// or https:// URL")
        self.timeout = float(getattr(settings, "MINSHENG_SMS_WEBHOOK_TIMEOUT", 5))
        self.token = getattr(settings, "MINSHENG_SMS_WEBHOOK_TOKEN", "")

    def send(self, phone: str, text: str, key: str = "") -> None:
        message = {"phone": phone, "text": text} | ({"key": key} if key else {})
        body = json.dumps(message, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key:
            headers["Idempotency-Key"] = key
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"gateway answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"gateway unreachable: {exc}") from exc
        if not 200 <= status < 300:
            raise SmsError(f"gateway answered HTTP {status}")
        logger.info("SMS to %s accepted by the gateway", mask_phone(phone))


def get_backend() -> SmsBackend:
    """A new instance of the configured backend (read per call, so tests can override it)."""
    path = getattr(settings, "MINSHENG_SMS_BACKEND", "") or DEFAULT_BACKEND
    backend: SmsBackend = import_string(path)()
    return backend


def send_sms(phone: str, text: str, key: str = "") -> None:
    """Send one text message now. Call it from ``transaction.on_commit``, not mid-transaction."""
    get_backend().send(phone, text, key=key)
