"""The FHIR R4 facade: `metadata`, read and search, mounted at /fhir as its own application.

A sub-application so that every error under /fhir is an OperationOutcome (`outcome.py`)
while the JSON API keeps its own error shape. It signs requests in with the same bearer
tokens as the API (POST /api/token), and reads records through the services, which check
the role and audit every read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from il2 import __version__
from il2.bootstrap import App
from il2.domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from il2.domain.records import Actor
from il2.domain.scopes import CREATE, READ, SEARCH, Scopes, needed
from il2.interop.fhir import outcome, records
from il2.interop.fhir.bundle import DEFAULT_COUNT, MAX_COUNT, searchset
from il2.interop.fhir.capability import capability_statement
from il2.interop.fhir.discovery import smart_configuration
from il2.interop.fhir.export import export_router
from il2.interop.fhir.model import PATIENT_PARAMS, Resource, ResourceType, patient_of
from il2.interop.fhir.resources import TYPES
from il2.interop.fhir.search import check_dates, matches
from il2.interop.fhir.wire import FhirResponse
from il2.services.accounts import session_for_token
from il2.services.context import Services
from il2.services.ehr import BundleReferral, referral_from_bundle
from il2.services.patients import patient_keys, search_patients

_bearer = HTTPBearer(auto_error=False)
_CONTROL = frozenset({"_count", "_offset", "_include", "_format", "_summary", "_total"})
_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Il2Services = Annotated[Services, Depends(_services)]


def _signed_in(
    request: Request,
    found: Il2Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The token's actor; its SMART scopes (None: unscoped) are kept for `require_scope`."""
    if credentials is None:
        raise outcome.NotAuthenticatedError(
            "sign in first: POST /api/token, then send Authorization: Bearer <token>"
        )
    session = session_for_token(found, credentials.credentials)
    if session is None:
        raise outcome.NotAuthenticatedError("the token is unknown or has expired; sign in again")
    actor, request.state.scopes = session
    return actor


SignedIn = Annotated[Actor, Depends(_signed_in)]


def require_scope(request: Request, actor: Actor, type_name: str, interaction: str) -> None:
    """Refuse (403 forbidden, naming the scope needed) an interaction (`c` create, `r` read,
    `s` search)
    on a type that the token's SMART scopes do not grant; an unscoped token passes. A scope
    only narrows: the services still check the role (scopes-and-launch-context.html, "SMART's
    scopes are used to delegate access")."""
    scopes: Scopes | None = getattr(request.state, "scopes", None)
    if scopes is not None and not scopes.grants(type_name, interaction):
        wanted = needed(type_name, interaction)
        raise PermissionDeniedError(
            f"the token's scope ({scopes.text}) does not grant this; it needs {wanted} "
            f"(or user/*.{interaction})",
            username=actor.username,
            action=f"scope:{wanted}",
        )


def _require_include_scopes(
    request: Request, actor: Actor, kind: ResourceType, includes: list[str]
) -> None:
    """Included resources come back in the same searchset: their types need search too."""
    for value in includes:
        param = value.split(":", 1)[1]
        target = (kind.search.get(param) or PATIENT_PARAMS[param]).target
        require_scope(request, actor, target or kind.name, SEARCH)


def _base(request: Request) -> str:
    """The facade's base URL as the client reached it (behind a proxy: its forwarded URL):
    the server's URL and the path the facade is mounted at."""
    root = str(request.base_url).rstrip("/")
    mounted = str(request.scope.get("root_path", "")).rstrip("/")
    return root if root.endswith(mounted) else root + mounted


def _type(name: str) -> ResourceType:
    kind = TYPES.get(name)
    if kind is None:
        raise NotFoundError(kind="resource type", key=name[:64], known=tuple(TYPES))
    return kind


def _number(query: Sequence[tuple[str, str]], name: str, default: int, top: int) -> int:
    raw = next((v for k, v in query if k == name), None)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > top:
        raise InvalidInputError(field=name, value=raw, allowed=f"a whole number 0 to {top}")
    return int(raw)


def _criteria(kind: ResourceType, query: Sequence[tuple[str, str]]) -> list[tuple[Any, str]]:
    """The query's search parameters with their values; an unknown one is refused by name."""
    known = {**PATIENT_PARAMS, **kind.search} if kind.in_compartment else dict(kind.search)
    found = []
    for name, value in query:
        if name == "_format" and value not in _FORMATS:
            raise InvalidInputError(field=name, value=value, allowed="json (FHIR JSON only)")
        if name in _CONTROL:
            continue
        param = known.get(name)
        if param is None:
            allowed = ", ".join(sorted([*known, *_CONTROL]))
            raise InvalidInputError(field=name, value=value, allowed=f"one of {allowed}")
        check_dates(param, value)
        found.append((param, value))
    return found


def _includes(kind: ResourceType, query: Sequence[tuple[str, str]]) -> list[str]:
    wanted = [v for k, v in query if k == "_include"]
    compartment = tuple(f"{kind.name}:{p}" for p in PATIENT_PARAMS) if kind.in_compartment else ()
    allowed = (*kind.includes(), *compartment)
    for value in wanted:
        if value not in allowed:
            raise InvalidInputError(
                field="_include", value=value, allowed=f"one of {', '.join(allowed) or 'none'}"
            )
    return wanted


def _patient_ids(criteria: list[tuple[Any, str]]) -> list[str]:
    ids = [
        value.rstrip("/").split("/")[-1]
        for param, value in criteria
        if param.name in PATIENT_PARAMS
    ]
    return [part for value in ids for part in value.split(",")]


def _export_scopes(request: Request, actor: Actor, types: Sequence[str]) -> None:
    """A bulk export searches every type it exports: a scoped token needs search on each."""
    for name in types:
        require_scope(request, actor, name, SEARCH)


def create_fhir(app: App) -> FastAPI:
    """The facade over `app`'s services, to mount at /fhir."""
    fhir = FastAPI(
        title="il2 FHIR R4", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    fhir.state.services = app.services
    outcome.install(fhir)
    # before `/{type_name}/{resource_id}`, which `Patient/$export` would otherwise match
    fhir.include_router(export_router(_signed_in, _base, _export_scopes))

    @fhir.get("/metadata")
    def metadata(request: Request, found: Il2Services) -> FhirResponse:
        """The CapabilityStatement (no sign-in, as FHIR requires)."""
        return FhirResponse(capability_statement(_base(request), found.clock(), TYPES))

    @fhir.get("/.well-known/smart-configuration")
    def smart_configuration_document(request: Request) -> JSONResponse:
        """What il2 supports of SMART (no sign-in; JSON whatever the Accept header, as
        https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known requires)."""
        server = _base(request).removesuffix(str(request.scope.get("root_path", "")))
        return JSONResponse(smart_configuration(server=server.rstrip("/"), types=TYPES))

    _transactions(fhir)

    @fhir.get("/{type_name}/{resource_id}")
    def read(
        type_name: str, resource_id: str, request: Request, found: Il2Services, actor: SignedIn
    ) -> FhirResponse:
        """One resource by id."""
        kind = _type(type_name)
        require_scope(request, actor, kind.name, READ)
        if kind.program_read is not None:
            return FhirResponse(kind.program_read(found, actor, resource_id))
        record, context = records.read(
            found, actor, patient_of(resource_id), base=_base(request), parts=kind.parts
        )
        for resource in kind.build(record, context):
            if resource["id"] == resource_id:
                return FhirResponse(resource)
        raise NotFoundError(kind=type_name, key=resource_id[:64])

    @fhir.get("/{type_name}")
    def search(
        type_name: str, request: Request, found: Il2Services, actor: SignedIn
    ) -> FhirResponse:
        """Search: a page of matches as a searchset Bundle."""
        kind = _type(type_name)
        require_scope(request, actor, kind.name, SEARCH)
        query = list(request.query_params.multi_items())
        criteria = _criteria(kind, query)
        includes = _includes(kind, query)
        _require_include_scopes(request, actor, kind, includes)
        count = _number(query, "_count", DEFAULT_COUNT, MAX_COUNT)
        offset = _number(query, "_offset", 0, 10**9)
        base = _base(request)
        if kind.program_search is not None:
            page, total = kind.program_search(found, actor, criteria, count, offset)
            return FhirResponse(
                searchset(base=base, path=kind.name, query=query, matched=page, included=[],
                          total=total, offset=offset, count=count)
            )  # fmt: skip
        targets = _include_targets(kind, includes)
        page, total, everything = _record_search(
            found, actor, kind, criteria=criteria, count=count, offset=offset, base=base,
            targets=targets,
        )  # fmt: skip
        included = _included(kind, includes, page, everything)
        return FhirResponse(
            searchset(
                base=base,
                path=kind.name,
                query=query,
                matched=page,
                included=included,
                total=total,
                offset=offset,
                count=count,
            )
        )

    return fhir


def _record_search(
    found: Services,
    actor: Actor,
    kind: ResourceType,
    *,
    criteria: list[tuple[Any, str]],
    count: int,
    offset: int,
    base: str,
    targets: tuple[ResourceType, ...],
) -> tuple[list[Resource], int, dict[str, list[Resource]]]:
    """A page of a type's resources built from the patients' records the search reads, the
    total matched, and the resources of the `_include` targets those records hold. Each
    record is read with only the parts the type and the targets build from."""
    kinds = {kind.name: kind} | {target.name: target for target in targets}
    parts = frozenset().union(*(k.parts for k in kinds.values()))
    if kind.name == "Patient":
        ids, total_known = _patient_search(found, actor, criteria, count, offset)
    else:
        ids = _patient_ids(criteria)
        if not ids:
            raise InvalidInputError(
                field="patient",
                value=None,
                allowed=f"a patient: {kind.name}?patient=Patient/<id> "
                "(the whole program is read with $export)",
            )
        total_known = None
    matched: list[Resource] = []
    everything: dict[str, list[Resource]] = {}
    for patient_id in ids:
        try:
            record, context = records.read(found, actor, patient_id, base=base, parts=parts)
        except NotFoundError:
            continue
        built = {name: list(t.build(record, context)) for name, t in kinds.items()}
        for name, rows in built.items():
            everything.setdefault(name, []).extend(rows)
        matched.extend(r for r in built[kind.name] if all(matches(p, v, r) for p, v in criteria))
    if total_known is None:
        total = len(matched)
        page = matched[offset : offset + count]
    else:
        total, page = total_known, matched
    return page, total, everything


def _include_targets(kind: ResourceType, includes: list[str]) -> tuple[ResourceType, ...]:
    """The types the `_include` values point at (already checked by `_includes`)."""
    names = []
    for value in includes:
        param = value.split(":", 1)[1]
        names.append((kind.search.get(param) or PATIENT_PARAMS[param]).target or kind.name)
    return tuple(TYPES[name] for name in dict.fromkeys(names) if name in TYPES)


def _transactions(fhir: FastAPI) -> None:
    """POST to the base: a referral Bundle."""

    @fhir.post("/")
    async def transaction(request: Request, found: Il2Services, actor: SignedIn) -> FhirResponse:
        """A transaction or batch Bundle of one referred Patient and its Condition, registered
        as one referral (il2.services.ehr.referral_from_bundle); see `_referral_response`.
        A scoped token needs create on both types."""
        for type_name in ("Patient", "Condition"):
            require_scope(request, actor, type_name, CREATE)
        try:
            bundle = await request.json()
        except ValueError:
            raise InvalidInputError(field="Bundle", value=None, allowed="FHIR JSON") from None
        kind = bundle.get("type") if isinstance(bundle, dict) else None
        if kind not in {"transaction", "batch"}:
            raise InvalidInputError(field="Bundle.type", value=kind, allowed="transaction or batch")
        done = await run_in_threadpool(referral_from_bundle, found, actor, bundle)
        return FhirResponse(_referral_response(str(kind), bundle, done, _base(request)))


def _referral_response(
    kind: str, bundle: dict[str, Any], done: BundleReferral, base: str
) -> dict[str, Any]:
    """The `transaction-response` or `batch-response` Bundle: one entry per entry sent, in
    order, each `201 Created` with the location of what il2 now holds (the Patient, and the
    Condition that is its diagnosis), as R4's example answers a create
    (https://hl7.org/fhir/R4/bundle-response.json.html; https://hl7.org/fhir/R4/http.html#transaction).
    A refused Bundle is one OperationOutcome naming the FHIR path, and nothing is written:
    il2 takes a batch as one referral too, its Condition being the Patient's diagnosis."""
    patient = str(done.patient.id)
    locations = {done.patient_entry: f"Patient/{patient}"}
    if done.condition_entry is not None:
        locations[done.condition_entry] = f"Condition/{patient}.condition"
    entries = []
    for index, _ in enumerate(bundle["entry"]):
        location = locations[index]
        entries.append(
            {"fullUrl": f"{base}/{location}",
             "response": {"status": "201 Created", "location": location}}
        )  # fmt: skip
    return {"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries}


def _patient_search(
    found: Services, actor: Actor, criteria: list[tuple[Any, str]], count: int, offset: int
) -> tuple[list[str], int | None]:
    """The patients a Patient search reads: by id, MRN or name, or a page of the program.

    With criteria, every candidate is read and matched (the total counts the matches); with
    none, only the page is read and the total is the program's.
    """
    by_name = {p.name: v for p, v in criteria}
    if "_id" in by_name:
        return by_name["_id"].split(","), None
    for name in ("identifier", "name"):
        if name in by_name:
            text = by_name[name].split("|")[-1]
            return [str(p["id"]) for p in search_patients(found, actor, text)], None
    if criteria:
        return _patient_keys_all(found, actor), None
    return patient_keys(found, actor, limit=count, offset=offset)


def _patient_keys_all(found: Services, actor: Actor) -> list[str]:
    keys, total = patient_keys(found, actor, limit=MAX_COUNT, offset=0)
    if total > MAX_COUNT:
        raise InvalidInputError(
            field="gender",
            value=None,
            allowed=f"with _id, identifier or name (the program has over {MAX_COUNT} patients)",
        )
    return keys


def _included(
    kind: ResourceType,
    includes: list[str],
    page: list[Resource],
    everything: dict[str, list[Resource]],
) -> list[Resource]:
    """The resources `_include` names that the page refers to, each once."""
    wanted: dict[str, Resource] = {}
    for value in includes:
        name = value.split(":", 1)[1]
        param = kind.search.get(name) or PATIENT_PARAMS[name]
        references = {str(ref) for r in page for ref in param.values(r)}
        for candidate in everything.get(param.target or "", []):
            key = f"{candidate['resourceType']}/{candidate['id']}"
            if key in references:
                wanted[key] = candidate
    return list(wanted.values())
