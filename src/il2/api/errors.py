"""The one place where errors become HTTP answers; every error body has the same shape.

An error il2 raises on purpose is answered with its own `status` (il2.domain.errors), the
status the web pages answer it with too:

    NotAuthenticatedError    401  no token, an unknown or expired one, or a failed sign-in;
                                  answered with `WWW-Authenticate: Bearer`
    Il2Error                      what the services raise on purpose:
     ├── InvalidInputError   422  {"field", "value", "allowed"}
     ├── NotFoundError       404  {"kind", "key", "known"}
     ├── ConflictError       409  {"existing"}: the record that was there first
     ├── RefusedError        409  {"reasons": [{"code", "message", "overridable"}]}
     ├── PermissionDeniedError 403
     └── RuleTableError      500  {"file", "field", "problem"}
    BodyGuard (il2.api.guard) 413  a body over the size limit; 422 too deep, a lone surrogate,
                                  not UTF-8 or an integer of over 4,300 digits
    RequestValidationError   422  a body, path, query or header FastAPI could not parse,
                                  in the same {"field", "value", "allowed"} shape
    HTTPException            its own status (an unknown path, a method not allowed)

Every body has "error" (a stable code) and "message" (a sentence for people).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from il2.domain.errors import (
    ConflictError,
    Il2Error,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RefusedError,
    RuleTableError,
    TooManyAttemptsError,
)
from il2.domain.limits import has_surrogate
from il2.services.audit import audit_denial
from il2.services.parsing import plain

_LOCATIONS = frozenset({"body", "path", "query", "header", "cookie"})
_SECRET = frozenset({"password", "Authorization"})  # never echoed back, even when refused


class NotAuthenticatedError(Exception):
    """The request does not carry a live session token (or the sign-in failed)."""


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity, which Python's JSON reader accepts: echo them as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str) and has_surrogate(value):  # not encodable: shown escaped
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _json(value: object) -> Any:
    """A value as JSON, whatever it is (a refused input can be anything)."""
    try:
        return _finite(jsonable_encoder(plain(value)))
    except (TypeError, ValueError):
        return repr(value)


def _answer(
    status: int, error: str, message: str, headers: Mapping[str, str] | None = None, **fields: Any
) -> JSONResponse:
    body = {"error": error, "message": message, **fields}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _invalid(field: str, value: object, allowed: str, **extra: Any) -> JSONResponse:
    message = f"{field}: {value!r} is not allowed; expected {allowed}"
    return _answer(
        InvalidInputError.status,
        "invalid_input",
        message,
        field=field,
        value=_json(value),
        allowed=allowed,
        **extra,
    )


answer = _answer
"""An error answer in the one shape: {"error", "message", ...fields}."""

invalid = _invalid
"""A 422 naming the field, the value and what is allowed."""


def il2_error(error: Il2Error) -> JSONResponse:  # noqa: PLR0911 - one answer per kind
    """The answer to an error a service raised on purpose, with the error's own status."""
    status = error.status
    if isinstance(error, InvalidInputError):
        return _invalid(error.field, error.value, error.allowed)
    if isinstance(error, NotFoundError):
        return _answer(
            status, "not_found", str(error), kind=error.kind, key=error.key, known=list(error.known)
        )
    if isinstance(error, ConflictError):
        return _answer(status, "conflict", str(error), existing=_json(error.existing))
    if isinstance(error, RefusedError):
        reasons = [plain(reason) for reason in error.reasons]
        return _answer(status, "refused", str(error), reasons=reasons)
    if isinstance(error, TooManyAttemptsError):
        headers = {"Retry-After": str(error.retry_after)}
        return _answer(status, "too_many_attempts", str(error), headers)
    if isinstance(error, PermissionDeniedError):
        return _answer(status, "permission_denied", str(error))
    if isinstance(error, RuleTableError):
        return _answer(
            status,
            "rule_table",
            str(error),
            file=error.file,
            field=error.field,
            problem=error.problem,
        )
    return _answer(status, "refused", str(error))


def _field(location: Sequence[object]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:] or parts
    return ".".join(parts)


_ALLOWED = {
    "missing": "a value: this field is required",
    "extra_forbidden": "no such field: leave it out",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "string_type": "a text",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "date_type": "an ISO 8601 date (YYYY-MM-DD)",
    "date_parsing": "an ISO 8601 date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "an ISO 8601 date (YYYY-MM-DD)",
    "datetime_type": "an ISO 8601 date-time with an offset, e.g. 2026-12-07T08:00:00-08:00",
    "datetime_parsing": "an ISO 8601 date-time with an offset, e.g. 2026-12-07T08:00:00-08:00",
    "datetime_from_date_parsing": "an ISO 8601 date-time with an offset",
    "timezone_aware": "a date-time with its offset, e.g. 2026-12-07T08:00:00-08:00",
    "string_too_short": "a non-empty text",
}


def _problem(detail: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(detail.get("type", ""))
    context = detail.get("ctx") or {}
    value = None if kind in {"missing", "json_invalid"} else detail.get("input")
    if kind == "json_invalid":
        allowed = f"valid JSON ({context.get('error', 'unreadable')})"
    elif kind == "string_too_long":
        allowed = f"a text of at most {context.get('max_length')} characters"
        value = f"({len(value)} characters)" if isinstance(value, str) else value
    elif kind == "too_long":
        allowed = f"at most {context.get('max_length')} items"
        value = None
    elif kind == "enum":
        allowed = f"one of {context.get('expected', '')}"
    else:
        allowed = _ALLOWED.get(kind) or str(detail.get("msg", "a valid value"))
    # A body that is not JSON is refused as a whole: its location is a character offset.
    field = "body" if kind == "json_invalid" else _field(detail.get("loc", ()))
    if field.rsplit(".", 1)[-1] in _SECRET:
        value = "(hidden)"
    return {"field": field, "value": _json(value), "allowed": allowed}


def request_invalid(error: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not parse, named like an InvalidInputError (first problem first)."""
    problems = [_problem(detail) for detail in error.errors()] or [
        {"field": "body", "value": None, "allowed": "a valid request"}
    ]
    first = problems[0]
    return _invalid(first["field"], first["value"], first["allowed"], problems=problems)


def not_authenticated(error: NotAuthenticatedError) -> JSONResponse:
    """401 with the challenge a client needs to know how to sign in."""
    return _answer(401, "not_authenticated", str(error), {"WWW-Authenticate": "Bearer"})


def http_error(error: HTTPException) -> JSONResponse:
    """Starlette's own refusals (unknown path, method not allowed) in the same shape."""
    code = {404: "not_found", 405: "method_not_allowed", 429: "too_many_attempts"}.get(
        error.status_code, "http_error"
    )
    return _answer(error.status_code, code, str(error.detail), error.headers)


def install(api: FastAPI) -> None:
    """Register the handlers on `api`; routes raise, and only this module answers errors."""

    @api.exception_handler(Il2Error)
    async def on_il2(request: Request, error: Il2Error) -> JSONResponse:
        # A throttled sign-in is audited as a failed sign-in by the service, not as a denial.
        if isinstance(error, PermissionDeniedError) and not isinstance(error, TooManyAttemptsError):
            await run_in_threadpool(audit_denial, request.app.state.services, error)
        return il2_error(error)

    @api.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return request_invalid(error)

    @api.exception_handler(NotAuthenticatedError)
    async def on_unauthenticated(_: Request, error: NotAuthenticatedError) -> JSONResponse:
        return not_authenticated(error)

    @api.exception_handler(HTTPException)
    async def on_http(_: Request, error: HTTPException) -> JSONResponse:
        return http_error(error)
