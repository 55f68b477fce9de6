"""Errors as FHIR answers: every failure under /fhir is an OperationOutcome.

The same errors the API answers (`Il2Error` and its `status`), worded for a FHIR client: the
issue's `code` from the FHIR IssueType value set, its `diagnostics` the error's sentence, and
for unusable input the parameter in `expression`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from il2.domain.errors import (
    ConflictError,
    Il2Error,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RefusedError,
)
from il2.interop.fhir.wire import FhirResponse
from il2.services.audit import audit_denial

# Il2Error kinds to FHIR IssueType codes (http://hl7.org/fhir/R4/valueset-issue-type.html).
_ISSUE_TYPES: tuple[tuple[type[Il2Error], str], ...] = (
    (InvalidInputError, "invalid"),
    (NotFoundError, "not-found"),
    (ConflictError, "conflict"),
    (PermissionDeniedError, "forbidden"),
    (RefusedError, "business-rule"),
)
_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
}


class NotAuthenticatedError(Exception):
    """No live bearer token on a request that needs one."""


def operation_outcome(
    code: str, diagnostics: str, *, severity: str = "error", expression: str | None = None
) -> dict[str, Any]:
    """One issue as an OperationOutcome resource."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_response(
    status: int, code: str, diagnostics: str, *, expression: str | None = None
) -> FhirResponse:
    """An OperationOutcome answered with `status`."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return FhirResponse(
        operation_outcome(code, diagnostics, expression=expression),
        status_code=status,
        headers=headers,
    )


def _issue_type(error: Il2Error) -> str:
    for kind, code in _ISSUE_TYPES:
        if isinstance(error, kind):
            return code
    return "processing"


def install(fhir: FastAPI) -> None:
    """Answer every error under the FHIR app as an OperationOutcome."""

    @fhir.exception_handler(Il2Error)
    async def _il2(request: Request, error: Il2Error) -> FhirResponse:
        if isinstance(error, PermissionDeniedError):  # a refusal is audited, as the API's are
            await run_in_threadpool(audit_denial, request.app.state.services, error)
        expression = error.field if isinstance(error, InvalidInputError) else None
        status = 400 if isinstance(error, InvalidInputError) else error.status
        return outcome_response(status, _issue_type(error), str(error), expression=expression)

    @fhir.exception_handler(NotAuthenticatedError)
    async def _login(_: Request, error: NotAuthenticatedError) -> FhirResponse:
        return outcome_response(401, "login", str(error))

    @fhir.exception_handler(RequestValidationError)
    async def _unparsed(_: Request, error: RequestValidationError) -> FhirResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:])
        return outcome_response(400, "invalid", str(first.get("msg", "invalid")), expression=where)

    @fhir.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> FhirResponse:
        code = _BY_STATUS.get(error.status_code, "processing")
        return outcome_response(error.status_code, code, str(error.detail))
