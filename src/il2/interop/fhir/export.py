"""FHIR Bulk Data `$export` of the whole program: kick-off, status, files and cancelling.

As the Bulk Data Access IG describes it (https://hl7.org/fhir/uv/bulkdata/export.html, the
asynchronous pattern of https://hl7.org/fhir/R4/async.html):

- kick-off `GET [base]/$export` or `GET [base]/Patient/$export` (in il2 both mean every patient
  of the program) with `Prefer: respond-async` (required: without it the answer is 400) and
  `Accept: application/fhir+json`; parameters `_type` (a comma list of the facade's types, an
  unknown one refused by name) and `_outputFormat` (`application/fhir+ndjson`,
  `application/ndjson` or `ndjson`, the three forms the IG says a server SHALL accept).
  `_since` is refused (400, "not supported"): il2's resources are each built from several
  records, and a researcher's dates move with the first dose, so when a resource's state last
  changed is not known per resource; any other parameter is refused too, as the IG asks of a
  server that does not support one. Answer: 202 Accepted, `Content-Location` the polling URL;
- status `GET` of that URL: 202 with `X-Progress` and `Retry-After` while running; 200 with the
  manifest (`transactionTime`, `request`, `requiresAccessToken` true, `output` [{type, url,
  count}], `error`) and an `Expires` header once complete; an OperationOutcome with 500 when
  the export failed;
- `DELETE` of that URL cancels the export and deletes its files: 202, then the status is 404;
- each output file `GET`: `application/fhir+ndjson`, one resource a line, streamed from disk,
  answered only to the user who asked for the export (their bearer token: requiresAccessToken).

The work and the rules on who may are the service's (il2.services.exports); here is the
protocol and the FHIR mapping of each record (the same `TYPES` builders as a read).
"""

# No `from __future__ import annotations` here: the routes' annotations name the facade's
# sign-in dependency, a local of export_router, which FastAPI could not resolve from text.
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from email.utils import format_datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from il2.domain.errors import InvalidInputError
from il2.domain.exports import ExportJob, ExportStatus
from il2.domain.records import Actor
from il2.interop.fhir import records
from il2.interop.fhir.outcome import operation_outcome, outcome_response
from il2.interop.fhir.resources import TYPES
from il2.interop.fhir.wire import FhirResponse
from il2.services.context import Services
from il2.services.exports import (
    Mapper,
    cancel_export,
    export_file,
    export_status,
    start_export,
)
from il2.services.permissions import ReadMode

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
"""The `_outputFormat` values the IG says a server SHALL accept for NDJSON."""
RETRY_AFTER_S = 2
"""Seconds a client is asked to wait between status requests (`Retry-After`)."""
POLL = "$export-poll"
"""The path of a job's status (and, below it, its files)."""
_ACCEPTED_MEDIA = ("application/fhir+json", "application/json", "*/*")
_ERROR_TYPE = "OperationOutcome"


def exportable() -> tuple[str, ...]:
    """The types an export writes: those built from patients' records (Patient and every
    compartment type). A program-level type (AuditEvent: the trail, administrators only) is
    read through its own search, not exported."""
    return tuple(name for name, kind in TYPES.items() if kind.program_search is None)


def _requested_types(query: list[tuple[str, str]]) -> tuple[str, ...]:
    """The types asked for (every exportable type when `_type` is absent)."""
    allowed = exportable()
    asked = [part.strip() for k, v in query if k == "_type" for part in v.split(",")]
    for name in asked:
        if name not in allowed:
            raise InvalidInputError(
                field="_type", value=name[:64], allowed=f"one of {', '.join(allowed)}"
            )
    return tuple(dict.fromkeys(asked)) or allowed


def _check_kick_off(request: Request) -> tuple[str, ...]:
    """The kick-off's headers and parameters, refused as the IG says; the types asked for."""
    prefer = request.headers.get("prefer", "")
    if "respond-async" not in [part.strip() for part in prefer.split(",")]:
        raise InvalidInputError(
            field="Prefer", value=prefer or None, allowed="respond-async (an asynchronous export)"
        )
    accept = request.headers.get("accept", "")
    if accept and not any(media in accept for media in _ACCEPTED_MEDIA):
        raise InvalidInputError(field="Accept", value=accept, allowed="application/fhir+json")
    query = list(request.query_params.multi_items())
    for name, value in query:
        if name == "_outputFormat" and value not in OUTPUT_FORMATS:
            raise InvalidInputError(
                field=name, value=value, allowed=f"one of {', '.join(sorted(OUTPUT_FORMATS))}"
            )
        if name == "_since":
            raise InvalidInputError(
                field=name,
                value=value,
                allowed="nothing: _since is not supported (il2 cannot tell when each resource "
                "last changed); export the whole program",
            )
        if name not in ("_type", "_outputFormat"):
            raise InvalidInputError(
                field=name, value=value, allowed="_type or _outputFormat (no other parameter)"
            )
    return _requested_types(query)


def mapper(services: Services, types: tuple[str, ...], base: str) -> Mapper:
    """One patient's record as NDJSON lines of the types asked for, by resource type; a
    record that cannot be mapped is an OperationOutcome line (the manifest's `error`)."""
    kinds = [TYPES[name] for name in types]

    def build(record: Mapping[str, Any], key: str, mode: ReadMode) -> Iterable[tuple[str, bytes]]:
        identified = mode == "identified"
        context = records.context(services, identified=identified, patient_id=key, base=base)
        try:
            built = [r for kind in kinds for r in kind.build(record, context)]
        except Exception as error:  # one record's failure must not end the export
            problem = operation_outcome(
                "exception", f"Patient/{key} could not be mapped ({type(error).__name__})"
            )
            return [(_ERROR_TYPE, orjson.dumps(problem) + b"\n")]
        return [(str(r["resourceType"]), orjson.dumps(r) + b"\n") for r in built]

    return build


def decision_keys(types: Iterable[str]) -> frozenset[str]:
    """The keys of each dose's decision that mapping `types` reads (the export reads no more)."""
    return frozenset().union(*(TYPES[name].decision_keys for name in types))


def _poll_url(base: str, job: ExportJob) -> str:
    return f"{base}/{POLL}/{job.id}"


def manifest(base: str, job: ExportJob) -> dict[str, Any]:
    """The completed export's manifest (IG: Response - Complete Status)."""

    def entry(kind: str, name: str, count: int) -> dict[str, Any]:
        return {"type": kind, "url": f"{_poll_url(base, job)}/{name}", "count": count}

    return {
        "transactionTime": job.transaction_time.isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [entry(f.type, f.name, f.count) for f in job.outputs if f.type != _ERROR_TYPE],
        "error": [entry(f.type, f.name, f.count) for f in job.outputs if f.type == _ERROR_TYPE],
    }


def _status_response(base: str, job: ExportJob) -> Response:
    if job.status is ExportStatus.RUNNING:
        progress = f"{job.patients_done} of {job.patients_total} patients"
        return Response(
            status_code=202,
            headers={"X-Progress": progress, "Retry-After": str(RETRY_AFTER_S)},
        )
    if job.status is ExportStatus.FAILED:
        return outcome_response(500, "exception", f"the export failed: {job.error}")
    return FhirResponse(
        manifest(base, job),
        media_type="application/json",
        headers={"Expires": format_datetime(job.expires_at, usegmt=True)},
    )


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Il2Services = Annotated[Services, Depends(_services)]


def export_router(
    signed_in: Callable[..., Actor],
    base_url: Callable[[Request], str],
    scopes: Callable[[Request, Actor, Sequence[str]], None],
) -> APIRouter:
    """The `$export` routes, signing requests in with the facade's `signed_in` dependency
    (and refusing a token whose SMART `scopes` do not cover the types); included before the
    facade's `/{type}/{id}` read."""
    router = APIRouter()
    SignedIn = Annotated[Actor, Depends(signed_in)]  # noqa: N806 - a type, as the facade's

    def kick_off(request: Request, found: Services, actor: Actor) -> Response:
        types = _check_kick_off(request)
        scopes(request, actor, types)
        base = base_url(request)
        job = start_export(
            found,
            actor,
            request_url=str(request.url),
            types=types,
            build=mapper(found, types, base),
            decisions=decision_keys(types),
        )
        accepted = operation_outcome(
            "informational",
            f"export accepted: {job.patients_total} patients; poll Content-Location",
            severity="information",
        )
        return FhirResponse(
            accepted, status_code=202, headers={"Content-Location": _poll_url(base, job)}
        )

    @router.get("/$export")
    def system_export(request: Request, found: Il2Services, actor: SignedIn) -> Response:
        """Kick off an export of the whole program."""
        return kick_off(request, found, actor)

    @router.get("/Patient/$export")
    def patient_export(request: Request, found: Il2Services, actor: SignedIn) -> Response:
        """Kick off an export of every patient (in il2, the whole program)."""
        return kick_off(request, found, actor)

    @router.get(f"/{POLL}/{{job_id}}")
    def status(job_id: str, request: Request, found: Il2Services, actor: SignedIn) -> Response:
        """The export's status: in progress, failed, or its manifest."""
        return _status_response(base_url(request), export_status(found, actor, job_id))

    @router.delete(f"/{POLL}/{{job_id}}")
    def cancel(job_id: str, found: Il2Services, actor: SignedIn) -> Response:
        """Cancel the export and delete its files."""
        cancel_export(found, actor, job_id)
        done = operation_outcome(
            "informational", "export cancelled; its files are deleted", severity="information"
        )
        return FhirResponse(done, status_code=202)

    @router.get(f"/{POLL}/{{job_id}}/{{name}}")
    def output(job_id: str, name: str, found: Il2Services, actor: SignedIn) -> Response:
        """One output file, streamed from disk."""
        chunks: Iterator[bytes] = export_file(found, actor, job_id, name)
        return StreamingResponse(chunks, media_type=NDJSON)

    return router
