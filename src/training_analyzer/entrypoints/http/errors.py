"""Map errors to RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from training_analyzer.core.errors import DomainError, RateLimited

PROBLEM_JSON: Final = "application/problem+json"
BEARER_CHALLENGE: Final = 'Bearer realm="training-analyzer"'
log = structlog.get_logger(__name__)

# One table from the domain's stable codes to HTTP statuses.
STATUS_BY_CODE: Final[dict[str, int]] = {
    "invalid_input": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "quota_exceeded": 402,
    "rate_limited": 429,
    "external_service_error": 502,
    "configuration_error": 500,
}


def problem(
    status: int, *, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    """Build a problem-details response."""
    body: dict[str, Any] = {
        "type": f"https://training-analyzer.dev/problems/{code.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if k not in body})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    """DomainError -> problem details with the error's code and details."""
    status = STATUS_BY_CODE.get(exc.code, 400)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, exc.retry_after_s))}
    elif status == 401:
        # RFC 9110 §15.5.2: a 401 names the scheme that would be accepted.
        headers = {"WWW-Authenticate": BEARER_CHALLENGE}
    if status >= 500:
        log.error("http.domain_error", code=exc.code, path=request.url.path)
    details = {k: v for k, v in exc.details.items() if _is_jsonable(v)}
    return problem(status, code=exc.code, detail=exc.message, headers=headers, **details)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (404 route, 405, 413, validation) -> problem details."""
    status = exc.status_code
    code = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }.get(status, "http_error")
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException):
        code = "invalid_input"
        if isinstance(exc.extra, list):
            extra["errors"] = exc.extra
    headers = dict(exc.headers) if exc.headers else None
    return problem(status, code=code, detail=str(exc.detail), headers=headers, **extra)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unexpected: log it with the request id, answer 500 without internals."""
    log.exception("http.unhandled_error", path=request.url.path)
    return problem(500, code="internal_error", detail="An unexpected error occurred.")


def _is_jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)
