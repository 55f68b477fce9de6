"""MedicationAdministration: every dose of the ledger, given or not, and every injection the
self-injection diary reports, as mCODE's Cancer-Related Medication Administration describes one.

Profile (mCODE STU4, 4.0.0): http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-related-medication-administration
(https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-cancer-related-medication-administration.html):
status, medication[x], subject and effective[x] (R4 requires them); mcode-reason-required is met
by reasonReference to the primary cancer Condition. Not met: medication[x] is text only (the
binding to Medication Clinical Drug is extensible) until codes.toml has aldesleukin's RxNorm
code; the treatment-intent extension is left out (il2 does not record the intent).

Status (R4 value set medication-admin-status,
http://hl7.org/fhir/R4/valueset-medication-admin-status.html): a given dose is `completed`; a
held dose, or one stopped before it was given, is `not-done` with a statusReason per reason of
the before-dose decision (the rule's id as an il2 code, its finding, threshold and source as
text), dated when it was recorded; a dose stopped after it was given is `stopped`. A diary's
injection reported taken is `completed` (a note says the diary reports it); one reported missed
is `not-done`, with the reason the patient gave, dated at its planned time.

Search parameters are R4's (http://hl7.org/fhir/R4/medicationadministration.html#search):
status, effective-time and request (which `_include=MedicationAdministration:request` follows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from il2.interop.fhir.model import (
    Context,
    Record,
    Resource,
    ResourceType,
    SearchParam,
)
from il2.interop.fhir.resources.condition import condition_reference
from il2.interop.fhir.resources.medication_request import (
    DOSE_UNIT,
    current_diary,
    medication,
    planned_slots,
    quantity,
    request_reference,
)

PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-related-medication-administration"
RULE_SYSTEM = "urn:il2:before-dose-rule"
"""il2's own code system for its before-dose rules: a code is a rule id of bedside.toml.
No standard code names them; the rule id is what the decision, the audit and the rule tables
use."""


def _reason(reason: Mapping[str, Any], *, coded: bool) -> dict[str, object]:
    """One reason of the before-dose decision as a CodeableConcept."""
    rule = str(reason.get("rule", ""))
    text = (
        f"{reason.get('action', '')} by rule {rule}: {reason.get('finding', '')} "
        f"(threshold: {reason.get('threshold', '')}); source: {reason.get('source', '')}"
    )
    concept: dict[str, object] = {"text": text}
    if coded and rule:
        concept["coding"] = [
            {"system": RULE_SYSTEM, "code": rule, "display": str(reason.get("finding", rule))}
        ]
    return concept


def _status_reasons(dose: Mapping[str, Any], *, coded: bool) -> list[dict[str, object]]:
    decision = dose.get("decision") or {}
    reasons = [_reason(r, coded=coded) for r in decision.get("reasons", [])]
    if reasons:
        return reasons
    return [
        {
            "text": f"recorded {dose['outcome']}; the before-dose decision was "
            f"{dose['decision_action']}"
        }
    ]


def _dosage(context: Context, slot: Mapping[str, Any] | None) -> dict[str, object] | None:
    if slot is None:
        return None
    dosage: dict[str, object] = {"route": {"text": str(slot.get("route", ""))}}
    if slot.get("dose_iu") is not None:
        dosage["dose"] = quantity(context, slot["dose_iu"], DOSE_UNIT)
    return dosage


def _base(context: Context, course_id: object, kind: str, cycle: int, number: int) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": context.resource_id(kind, course_id, cycle, number),
        "meta": {"profile": [PROFILE]},
        "medicationCodeableConcept": medication(context),
        "subject": context.patient_reference,
        "request": request_reference(context, course_id),
        "reasonReference": [condition_reference(context)],
    }


def _from_ledger(
    context: Context, dose: Mapping[str, Any], slot: Mapping[str, Any] | None
) -> Resource:
    cycle, number = int(dose["cycle"]), int(dose["dose_number"])
    resource = _base(context, dose["course_id"], "dose", cycle, number)
    given_at = dose.get("given_at")
    if dose["outcome"] == "given":
        resource |= {"status": "completed", "effectiveDateTime": given_at}
    elif given_at:  # stopped once under way
        resource |= {
            "status": "stopped",
            "effectiveDateTime": given_at,
            # text only: mCODE's termination-reason-code-invariant allows a stopped
            # administration only TreatmentTerminationReasonVS codings
            "statusReason": _status_reasons(dose, coded=False),
        }
    else:
        resource |= {
            "status": "not-done",
            "effectiveDateTime": dose["recorded_at"],
            "statusReason": _status_reasons(dose, coded=True),
        }
    dosage = _dosage(context, slot)
    if dosage is not None:
        resource["dosage"] = dosage
    notes = [f"dose {cycle}.{number}; before-dose rules version {dose.get('rules_version')}"]
    if dose.get("override_by"):
        notes.append("given on a physician's override of the before-dose hold")
    resource["note"] = [{"text": n} for n in notes]
    return resource


def _from_diary(
    context: Context, entry: Mapping[str, Any], slot: Mapping[str, Any] | None
) -> Resource:
    cycle, number = int(entry["cycle"]), int(entry["dose_number"])
    resource = _base(context, entry["course_id"], "diary", cycle, number)
    reported = f"reported in the patient's self-injection diary by the {entry['reported_by']}"
    if entry["status"] == "taken" and entry.get("taken_at"):
        resource |= {"status": "completed", "effectiveDateTime": entry["taken_at"]}
    else:
        why = entry.get("missed_reason")
        resource |= {
            "status": "not-done",
            "effectiveDateTime": (slot or {}).get("due_at") or entry["recorded_at"],
            "statusReason": [{"text": f"missed: {why}" if why else "missed"}],
        }
    dosage = _dosage(context, slot)
    if dosage is not None:
        resource["dosage"] = dosage
    resource["note"] = [{"text": f"injection {cycle}.{number} {reported}"}]
    return resource


def build(record: Record, context: Context) -> Iterator[Resource]:
    """Every dose of the ledger, then every current diary entry, course by course."""
    for course in record["courses"]:
        slots = planned_slots(course)
        for dose in record["doses"]:
            if dose["course_id"] == course["id"]:
                yield _from_ledger(context, dose, slots.get((dose["cycle"], dose["dose_number"])))
        for entry in current_diary(record, course["id"]):
            yield _from_diary(context, entry, slots.get((entry["cycle"], entry["dose_number"])))


def _request(resource: Resource) -> list[str]:
    return [str(resource["request"]["reference"])]


TYPE = ResourceType(
    name="MedicationAdministration",
    profiles=(PROFILE,),
    build=build,
    parts=frozenset({"doses", "diary"}),
    decision_keys=frozenset({"reasons"}),
    search={
        "status": SearchParam("status", "token", lambda r: [r["status"]], "the dose's status"),
        "effective-time": SearchParam(
            "effective-time",
            "date",
            lambda r: [r.get("effectiveDateTime")],
            "when the dose was given (or recorded as not given)",
        ),
        "request": SearchParam(
            "request",
            "reference",
            _request,
            "the course's MedicationRequest",
            target="MedicationRequest",
        ),
    },
    description="every dose of the ledger, given or not, and the diary's reported injections",
)
