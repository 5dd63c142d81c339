"""Domain errors: a stable code, a translated message, an HTTP status and details.

Every app lists its codes in its own ``errors.py`` as an ``ErrorCode`` enum; services raise
``DomainError``; the API and the pages turn it into ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from django.http import JsonResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(Enum):
    """Base for per-app error enums: value is ``(code, lazy message, http status)``."""

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def message(self) -> Promise:
        return self.value[1]

    @property
    def status(self) -> int:
        return self.value[2]


class CoreError(ErrorCode):
    VALIDATION = ("validation_error", _("The request is not valid."), 422)
    BAD_REQUEST = (
        "bad_request",
        _("The request body cannot be read (malformed JSON or text)."),
        400,
    )
    NOT_FOUND = ("not_found", _("Not found."), 404)
    NOT_AUTHENTICATED = ("not_authenticated", _("Please log in."), 401)
    PERMISSION_DENIED = ("permission_denied", _("You may not do this."), 403)
    RATE_LIMITED = ("rate_limited", _("Too many requests; please wait a minute."), 429)
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        _("This Idempotency-Key was already used for a different request."),
        422,
    )
    TOO_LARGE = ("request_too_large", _("The request is too large."), 413)
    SERVER_ERROR = (
        "server_error",
        _("Something went wrong on our side; it has been recorded. Please try again later."),
        500,
    )
    UNAVAILABLE = (
        "service_unavailable",
        _("The service is briefly unavailable. Please try again in a few seconds."),
        503,
    )


class DomainError(Exception):
    """A refused action. Raised inside a transaction, so nothing it touched is kept."""

    def __init__(self, error: ErrorCode, details: dict[str, Any] | None = None) -> None:
        self.error = error
        self.details = details or {}
        super().__init__(f"{error.code}: {error.message}")

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def status(self) -> int:
        return self.error.status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.error.message), "details": self.details}


def error_json(error: ErrorCode, details: dict[str, Any] | None = None) -> JsonResponse:
    """The API's error body, for answers given outside django-ninja (middleware, URL misses)."""
    body = {"code": error.code, "message": str(error.message), "details": details or {}}
    return JsonResponse(body, status=error.status, json_dumps_params={"ensure_ascii": False})
