"""Errors under /cds-services: an HTTP status and one small JSON object.

CDS Hooks 2.0 names the statuses (https://cds-hooks.hl7.org/2.0/#http-status-codes_1):
`412 Precondition Failed` when the service "is unable to retrieve the necessary FHIR data",
and "other HTTP statuses, specifically 4xx and 5xx"; it defines no error body. il2 answers
`{"status": ..., "error": ..., "message": ..., "field": ...}` (`field` for unusable input,
naming it as the request writes it, e.g. `context.patientId`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from il2.domain.errors import Il2Error, InvalidInputError
from il2.interop.cds.hooks import PreconditionFailedError
from il2.interop.cds.trust import NotTrustedError

_WORDS = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
          422: "refused"}  # fmt: skip


def error_response(status: int, message: str, *, field: str | None = None) -> JSONResponse:
    """The error answered with `status`."""
    body: dict[str, Any] = {
        "status": status,
        "error": _WORDS.get(status, "error"),
        "message": message,
    }
    if field:
        body["field"] = field
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install(cds: FastAPI) -> None:
    """Answer every error under the CDS app in this one shape."""

    @cds.exception_handler(Il2Error)
    async def _il2(_: Request, error: Il2Error) -> JSONResponse:
        if isinstance(error, InvalidInputError):
            return error_response(400, str(error), field=error.field)
        return error_response(error.status, str(error))

    @cds.exception_handler(NotTrustedError)
    async def _untrusted(_: Request, error: NotTrustedError) -> JSONResponse:
        return error_response(401, str(error))

    @cds.exception_handler(PreconditionFailedError)
    async def _precondition(_: Request, error: PreconditionFailedError) -> JSONResponse:
        return error_response(412, str(error))

    @cds.exception_handler(RequestValidationError)
    async def _unparsed(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "body"
        return error_response(400, str(first.get("msg", "invalid request")), field=where)

    @cds.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail))
