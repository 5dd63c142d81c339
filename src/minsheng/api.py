"""The platform's JSON API: ``/api/v1/…``, OpenAPI at ``/api/openapi.json``, docs at ``/api/docs``.

Errors always have the shape ``{"code", "message", "details"}`` (DESIGN.md §6); messages follow
the request's language (Chinese by default, English with ``Accept-Language: en``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from minsheng import __version__
from minsheng.appeals.api import public_router, staff_router
from minsheng.core.errors import CoreError, DomainError
from minsheng.org.services import authenticate_token


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ms_<prefix>_<secret>``: an integration's service account."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(token)
        if user is not None:
            request.user = user
        return user


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictParser(Parser):
    """JSON and query parsing that refuses NUL characters: no database stores them in text
    (PostgreSQL rejects them), so they are bad input, answered with a 422."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if _has_nul(data):
            raise DomainError(CoreError.VALIDATION, {"reason": "NUL character in text"})
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        if _has_nul(result):
            raise DomainError(CoreError.VALIDATION, {"reason": "NUL character in text"})
        return result


class SessionAuth(NinjaSessionAuth):
    """Django's session, as django-ninja's; but a request with no session at all is "not
    logged in" (401 ``not_authenticated``), not a failed CSRF check (403 in English): the CSRF
    check guards requests that carry a session. (Same name as ninja's: the OpenAPI document's
    security scheme is named after the class.)"""

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


api = NinjaAPI(
    parser=StrictParser(),
    title="Minsheng API",
    version=__version__,
    description="民生 citizen service platform: appeals (接诉即办). Errors: "
    '`{"code": "...", "message": "...", "details": {...}}`.',
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.status, exc.code, str(exc.error.message), exc.details)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(part) for part in e.get("loc", [])],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    err = CoreError.VALIDATION
    return _error(request, err.status, err.code, str(err.message), {"errors": errors})


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    err = CoreError.NOT_AUTHENTICATED
    return _error(request, err.status, err.code, str(err.message))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    err = CoreError.NOT_FOUND
    return _error(request, err.status, err.code, str(err.message))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # hostile input: ninja wraps the parser's refusals (NUL in the body) in a 400 "cannot parse";
    # answer with the parser's own error (a 422 saying why), as for NUL in the query string.
    if isinstance(exc.__cause__, DomainError):
        return on_domain_error(request, exc.__cause__)
    if exc.status_code == 400:  # ninja's "cannot parse request body"
        err = CoreError.BAD_REQUEST
        return _error(request, err.status, err.code, str(err.message))
    code = {403: "permission_denied", 405: "method_not_allowed"}
    return _error(request, exc.status_code, code.get(exc.status_code, "http_error"), str(exc))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    err = CoreError.TOO_LARGE
    return _error(request, err.status, err.code, str(err.message))


api.add_router("/v1/public", public_router)
api.add_router("/v1", staff_router, auth=[TokenAuth(), SessionAuth()])
