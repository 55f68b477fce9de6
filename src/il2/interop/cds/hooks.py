"""il2's two CDS services: what each hook's request asks, and the cards il2 answers.

Hooks read: order-sign (https://cds-hooks.hl7.org/hooks/order-sign/: context `userId`,
`patientId`, `draftOrders`, "A Bundle of FHIR request resources with a draft status") and
patient-view (https://cds-hooks.hl7.org/hooks/patient-view/: context `userId`, `patientId`).
Request fields: CDS Hooks 2.0 "Calling a CDS Service" (https://cds-hooks.hl7.org/2.0/#http-request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.interop.cds import cards, prefetch
from il2.interop.cds.prefetch import Reading
from il2.services.context import Services
from il2.services.doses import DoseSubmission, preview_dose
from il2.services.ehr import ehr_mrn_system
from il2.services.patients import read_patient, search_patients
from il2.services.worklist import worklist

EXTENSION = "urn:il2:bedside"
"""The request extension (CDS Hooks 2.0 "Extensions") that carries the before-dose findings no
FHIR code il2 trusts can carry: rhythm, mental status, urine output, findings, holds."""
_LEDGER = frozenset({"regimen", "cycle", "dose_number", "doses_given_this_cycle",
                     "doses_held_this_cycle", "hours_since_last_dose"})  # fmt: skip


class PreconditionFailedError(Exception):
    """The data a service needs was neither prefetched nor readable from the EHR (412)."""


@dataclass(frozen=True, slots=True)
class Call:
    """A checked CDS service request."""

    hook: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]
    fhir_server: str | None
    fhir_token: str | None
    extension: Mapping[str, Any]


def _need(mapping: Mapping[str, Any], name: str, where: str, kind: type, what: str) -> Any:
    value = mapping.get(name)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise InvalidInputError(field=f"{where}{name}", value=value, allowed=what)
    return value


def parse_call(body: object, hook: str) -> Call:
    """The request body checked field by field; InvalidInputError names the field."""
    if not isinstance(body, Mapping):
        raise InvalidInputError(field="body", value=None, allowed="a JSON object")
    named = _need(body, "hook", "", str, f"the hook {hook!r}")
    if named != hook:
        raise InvalidInputError(field="hook", value=named, allowed=f"{hook!r} for this service")
    _need(body, "hookInstance", "", str, "a UUID for this call")
    context = _need(body, "context", "", dict, "the hook's context object")
    _need(context, "userId", "context.", str, "the current user, e.g. Practitioner/123")
    _need(context, "patientId", "context.", str, "the FHIR id of the patient in context")
    if hook == "order-sign":
        orders = _need(context, "draftOrders", "context.", dict, "a Bundle of the draft orders")
        if orders.get("resourceType") != "Bundle":
            raise InvalidInputError(
                field="context.draftOrders.resourceType",
                value=orders.get("resourceType"),
                allowed="Bundle",
            )
    found = body.get("prefetch") or {}
    if not isinstance(found, Mapping):
        raise InvalidInputError(field="prefetch", value=None, allowed="an object of prefetch keys")
    server = body.get("fhirServer")
    authorization = body.get("fhirAuthorization")
    if server is not None and not (isinstance(server, str) and server.startswith("http")):
        raise InvalidInputError(field="fhirServer", value=server, allowed="a FHIR base URL")
    token = None
    if authorization is not None:
        if server is None:
            raise InvalidInputError(
                field="fhirServer",
                value=None,
                allowed="a FHIR base URL (fhirAuthorization is given)",
            )
        if not isinstance(authorization, Mapping):
            raise InvalidInputError(field="fhirAuthorization", value=None, allowed="an object")
        token = _need(authorization, "access_token", "fhirAuthorization.", str, "the access token")
    extension = body.get("extension") or {}
    if not isinstance(extension, Mapping):
        raise InvalidInputError(field="extension", value=None, allowed="an object")
    return Call(hook, context, found, server, token, extension)


Fetch = Callable[[str, str, str], object]


def fetch_fhir(server: str, token: str, query: str) -> object:
    """A FHIR read or search on the EHR's server with the access token it gave."""
    answer = httpx.get(
        f"{server.rstrip('/')}/{query}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        timeout=5.0,
    )
    if answer.status_code == httpx.codes.NOT_FOUND:
        return None
    answer.raise_for_status()
    return answer.json()


def _prefetched(call: Call, key: str, template: str, fetch: Fetch, *, required: bool) -> object:
    """A prefetch key's value, or the same query made on the EHR's FHIR server."""
    if key in call.prefetch:
        return call.prefetch[key]
    if call.fhir_server and call.fhir_token:
        query = template.replace("{{context.patientId}}", str(call.context["patientId"]))
        try:
            return fetch(call.fhir_server, call.fhir_token, query)
        except (httpx.HTTPError, ValueError) as error:
            if required:
                raise PreconditionFailedError(f"{query} could not be read ({error})") from error
            return None
    if required:
        raise PreconditionFailedError(
            f"prefetch.{key} ({template}) is needed: prefetch it, or give fhirServer and "
            "fhirAuthorization"
        )
    return None


def il2_patient(services: Services, actor: Actor, call: Call, fetch: Fetch) -> int | None:
    """il2's id of the EHR's patient, found by the MRN under the site's EHR MRN system."""
    found = _prefetched(call, prefetch.PATIENT_KEY, prefetch.PATIENT_TEMPLATE, fetch, required=True)
    if found is None:
        return None
    if not isinstance(found, Mapping) or found.get("resourceType") != "Patient":
        raise InvalidInputError(field="prefetch.patient", value=None, allowed="a Patient resource")
    if str(found.get("id")) != str(call.context["patientId"]):
        raise InvalidInputError(
            field="prefetch.patient.id", value=found.get("id"), allowed="context.patientId"
        )
    system = ehr_mrn_system(services)
    for identifier in found.get("identifier") or ():
        if not isinstance(identifier, Mapping) or identifier.get("system") != system:
            continue
        mrn = str(identifier.get("value", "")).strip()
        if not 2 <= len(mrn) <= 100:
            continue
        for row in search_patients(services, actor, mrn, limit=500):
            if row["mrn"] == mrn:
                return int(row["id"])
    return None


_WORD = re.compile(r"[A-Za-z0-9]+")


def _names(resource: Mapping[str, Any]) -> list[str]:
    concept = resource.get("medicationCodeableConcept") or {}
    texts = [concept.get("text")] + [c.get("display") for c in concept.get("coding") or ()]
    texts.append((resource.get("medicationReference") or {}).get("display"))
    return [t for t in texts if isinstance(t, str)]


def aldesleukin_orders(services: Services, call: Call) -> list[Mapping[str, Any]]:
    """The draft MedicationRequests whose medication text or display names the product (its
    names are data: product.toml [product.names]), matched as whole words, any case."""
    names = {n.lower() for n in services.rules.product.names}
    return [
        r
        for r in prefetch.resources(call.context["draftOrders"])
        if r.get("resourceType") == "MedicationRequest"
        and any(w.lower() in names for text in _names(r) for w in _WORD.findall(text))
    ]


def _next_slot(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], int, int] | None:
    """The latest course and its first planned dose with nothing recorded, if any."""
    if not record["courses"]:
        return None
    course = max(record["courses"], key=lambda c: c["number"])
    recorded = {
        (d["cycle"], d["dose_number"]) for d in record["doses"] if d["course_id"] == course["id"]
    }
    planned = sorted(
        (dose["due_at"], cycle["cycle"], dose["number"])
        for cycle in course.get("plan", {}).get("cycles", [])
        for dose in cycle["doses"]
        if (cycle["cycle"], dose["number"]) not in recorded
    )
    if not planned:
        return None
    _, cycle, number = planned[0]
    return course, cycle, number


def _last_given(record: Mapping[str, Any]) -> datetime | None:
    given = [datetime.fromisoformat(d["given_at"]) for d in record["doses"] if d.get("given_at")]
    return max(given, default=None)


def _extension_fields(services: Services, call: Call, coded: set[str]) -> dict[str, Any]:
    found = call.extension.get(EXTENSION) or {}
    if not isinstance(found, Mapping):
        raise InvalidInputError(field=f"extension.{EXTENSION}", value=None, allowed="an object")
    for name, value in found.items():
        inner = [f"{name}.{k}" for k in value] if isinstance(value, Mapping) else [name]
        taken = [p for p in inner if p in coded or p in _LEDGER or name in _LEDGER]
        if taken:
            raise InvalidInputError(
                field=f"extension.{EXTENSION}.{taken[0]}",
                value=None,
                allowed="no coded field and no ledger field: the first comes from the "
                "Observations prefetched, the second from il2's dose ledger",
            )
    return dict(found)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def order_sign(
    services: Services, actor: Actor, call: Call, *, server: str, fetch: Fetch
) -> list[cards.Card]:
    """Cards for draft orders: none without aldesleukin; else eligibility and the next dose."""
    if not aldesleukin_orders(services, call):
        return []
    patient_id = il2_patient(services, actor, call, fetch)
    if patient_id is None:
        return [cards.not_in_program(server)]
    chart = f"{server}/patients/{patient_id}"
    record = read_patient(services, actor, patient_id)
    found = [cards.eligibility(record["screenings"], server, chart)]
    slot = _next_slot(record)
    if slot is None:
        return found
    course, cycle, number = slot
    wanted = prefetch.wanted_fields(services.rules)
    last = _last_given(record)
    readings: list[Reading] = [
        prefetch.read(
            w,
            _prefetched(call, w.field, prefetch.template(w), fetch, required=False),
            not_before=last,
        )
        for w in wanted
    ]
    observed = prefetch.assessment(readings, services.clock())
    extra = _extension_fields(services, call, {w.field for w in wanted})
    assessment = _merge(observed, extra)
    try:
        document = preview_dose(
            services, actor, int(course["id"]), DoseSubmission(cycle, number, assessment)
        )
    except InvalidInputError as error:
        if error.field == "regimen":  # a route il2 has no before-dose checks for
            unchecked = cards.card(
                summary="il2 cannot check this aldesleukin dose before it is given",
                indicator="warning",
                detail=str(error),
                server=server,
                chart=chart,
            )
            return [*found, unchecked]
        coded = {w.field for w in wanted}
        where = (
            f"prefetch.{error.field}"
            if error.field in coded
            else f"extension.{EXTENSION}.{error.field}"
        )
        raise InvalidInputError(field=where, value=error.value, allowed=error.allowed) from error
    found.append(
        cards.decision(
            document, cycle=cycle, dose_number=number, readings=readings, server=server, chart=chart
        )
    )
    return found


def patient_view(
    services: Services, actor: Actor, call: Call, *, server: str, fetch: Fetch
) -> list[cards.Card]:
    """One card: the patient's place in the program and the doses due today; none for a
    patient il2 does not know (the hook fires on every chart opened, most outside the program)."""
    patient_id = il2_patient(services, actor, call, fetch)
    if patient_id is None:
        return []
    record = read_patient(services, actor, patient_id)
    mrn = str(record["patient"]["mrn"])
    page = worklist(services, actor, limit=50, matching=mrn)
    row = next((r for r in page.rows if r.patient_id == patient_id), None)
    if row is None:
        return []
    doses = [
        {
            "cycle": d.cycle,
            "dose_number": d.dose_number,
            "due_at": d.due_at.isoformat(),
            "status": d.status,
        }
        for d in page.doses_today
        if d.patient_id == patient_id
    ]
    return [
        cards.pathway(
            stage=row.stage.value,
            next_action=row.next_action,
            next_on=row.next_on.isoformat() if row.next_on else None,
            course_outlook=row.pathway,
            doses_today=doses,
            server=server,
            chart=f"{server}/patients/{patient_id}",
        )
    ]
