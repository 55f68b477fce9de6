"""MedicationRequest: each planned course of aldesleukin, as mCODE's Cancer-Related Medication
Request describes an order.

Profile (mCODE STU4, 4.0.0): http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-related-medication-request
(https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-cancer-related-medication-request.html),
on US Core 6.1.0's MedicationRequest: status, intent, medication[x] and subject are required;
mCODE's invariant mcode-reason-required asks for reasonCode or reasonReference, which points at
the patient's primary cancer Condition. What is not met: medication[x] is text only (RxNorm
binding, extensible) until codes.toml `[agents]` has a verified RxNorm code for aldesleukin;
the treatment-intent extension (must-support, 0..1) is left out because il2 does not record
why a course is given.

The status follows the record (R4 value set medicationrequest-status,
http://hl7.org/fhir/R4/valueset-medicationrequest-status.html): `stopped` once a dose's
before-dose decision discontinued the drug; `completed` when every planned dose is accounted
for (recorded in the ledger or the diary, or in a cycle a decision stopped); `active` while
planned doses remain; `unknown` for a continuous infusion with doses left, whose stops are
infusion events this record does not carry.

Search parameters are R4's (http://hl7.org/fhir/R4/medicationrequest.html#search): status,
intent and authoredon.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from il2.domain.coding import Section
from il2.interop.fhir.model import Context, Record, Resource, ResourceType, SearchParam
from il2.interop.fhir.resources.condition import condition_reference

PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-related-medication-request"
AGENT = "aldesleukin"
DOSE_UNIT = "IU"
"""The unit of every aldesleukin dose: IU is il2's source of truth (mg are for display)."""

_DISCONTINUE = "discontinue"
_STOP_CYCLE = "stop_cycle"


def request_id(context: Context, course_id: object) -> str:
    """The id of the MedicationRequest of the course `course_id` (a number in a researcher's
    record, a database id in staff's)."""
    return context.resource_id("course", course_id)


def request_reference(context: Context, course_id: object) -> dict[str, str]:
    """A reference to the course's MedicationRequest."""
    return {"reference": f"MedicationRequest/{request_id(context, course_id)}"}


def medication(context: Context) -> dict[str, object]:
    """Aldesleukin as a CodeableConcept: its RxNorm coding when codes.toml has one, else text."""
    concept: dict[str, object] = {"text": AGENT}
    coded = context.codes.coding(Section.AGENTS, AGENT)
    if coded is not None:
        concept["coding"] = [{"system": coded.system, "code": coded.code, "display": coded.display}]
    return concept


def quantity(context: Context, value: object, unit: str) -> dict[str, object]:
    """A Quantity in `unit`, with its UCUM code when codes.toml `[units]` has one."""
    found: dict[str, object] = {"value": value, "unit": unit}
    coded = context.codes.coding(Section.UNITS, unit)
    if coded is not None:
        found |= {"system": coded.system, "code": coded.code}
    return found


def planned_slots(course: Mapping[str, Any]) -> dict[tuple[int, int], Mapping[str, Any]]:
    """The course plan's dose slots by (cycle, dose number)."""
    return {
        (int(cycle["cycle"]), int(dose["number"])): dose
        for cycle in course["plan"].get("cycles", [])
        for dose in cycle.get("doses", [])
    }


def current_diary(record: Record, course_id: object) -> list[Mapping[str, Any]]:
    """The course's diary entries that are current (a corrected entry is not)."""
    return [e for e in record["diary"] if e["course_id"] == course_id and e.get("current")]


def course_status(record: Record, course: Mapping[str, Any]) -> str:
    """The course's R4 MedicationRequest status, read from the ledger and the diary."""
    doses = [d for d in record["doses"] if d["course_id"] == course["id"]]
    if any(d["decision_action"] == _DISCONTINUE for d in doses):
        return "stopped"
    stopped_cycles = {d["cycle"] for d in doses if d["decision_action"] == _STOP_CYCLE}
    accounted = {(d["cycle"], d["dose_number"]) for d in doses}
    accounted |= {(e["cycle"], e["dose_number"]) for e in current_diary(record, course["id"])}
    remaining = [
        slot
        for slot in planned_slots(course)
        if slot not in accounted and slot[0] not in stopped_cycles
    ]
    if not remaining:
        return "completed"
    if course["plan"].get("route") == "continuous_infusion":
        return "unknown"
    return "active"


def _dosage(plan: Mapping[str, Any], step: Mapping[str, Any], context: Context) -> Resource:
    """One dosage instruction: a step of the plan's aldesleukin doses, with its schedule."""
    slots = [
        dose
        for cycle in plan.get("cycles", [])
        for dose in cycle.get("doses", [])
        if dose.get("step", 1) == step.get("step", 1)
    ]
    route = str(step.get("route") or plan.get("route", ""))
    every_h = plan.get("min_interval_h")
    words = f"{step.get('words', '')} {route.replace('_', ' ')}".strip()
    if every_h:
        words += f", at least {every_h} h apart"
    words += f"; {len(slots)} doses planned"
    repeat: dict[str, object] = {"count": len(slots)}
    if every_h:
        repeat |= {"frequency": 1, "period": every_h, "periodUnit": "h"}
    dosage: Resource = {
        "sequence": int(step.get("step", 1)),
        "text": words,
        "timing": {"event": [d["due_at"] for d in slots], "repeat": repeat},
        "route": {"text": route},
    }
    if step.get("dose_iu") is not None:
        dosage["doseAndRate"] = [{"doseQuantity": quantity(context, step["dose_iu"], DOSE_UNIT)}]
    return dosage


def _dosages(plan: Mapping[str, Any], context: Context) -> list[Resource]:
    steps: Sequence[Mapping[str, Any]] = plan.get("aldesleukin_doses") or []
    return [_dosage(plan, step, context) for step in steps]


def _stop_reason(record: Record, course: Mapping[str, Any]) -> dict[str, str]:
    """Text naming the rules that discontinued the course (no coding: mCODE's
    termination-reason invariants allow only TreatmentTerminationReasonVS codes on a stopped
    request, and il2 maps none of its rules to them)."""
    rules = [
        f"{reason.get('rule')}: {reason.get('finding')}"
        for d in record["doses"]
        if d["course_id"] == course["id"] and d["decision_action"] == _DISCONTINUE
        for reason in d["decision"].get("reasons", [])
        if reason.get("action") == _DISCONTINUE
    ]
    return {"text": "discontinued by the before-dose decision: " + "; ".join(rules)}


def build(record: Record, context: Context) -> Iterator[Resource]:
    """One MedicationRequest per course."""
    for course in record["courses"]:
        plan = course["plan"]
        status = course_status(record, course)
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "id": request_id(context, course["id"]),
            "meta": {"profile": [PROFILE]},
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": medication(context),
            "subject": context.patient_reference,
            "authoredOn": course["recorded_at"],
            "reasonReference": [condition_reference(context)],
            "note": [{"text": f"course {course['number']}: {plan.get('regimen_name', '')}"}],
            "dosageInstruction": _dosages(plan, context),
        }
        if status == "stopped":
            resource["statusReason"] = _stop_reason(record, course)
        if context.identified:
            resource["requester"] = {"display": course["recorded_by"]}
        yield resource


TYPE = ResourceType(
    name="MedicationRequest",
    profiles=(PROFILE,),
    build=build,
    parts=frozenset({"doses", "diary"}),
    decision_keys=frozenset({"reasons"}),
    search={
        "status": SearchParam("status", "token", lambda r: [r["status"]], "the course's status"),
        "intent": SearchParam("intent", "token", lambda r: [r["intent"]], "always order"),
        "authoredon": SearchParam(
            "authoredon", "date", lambda r: [r.get("authoredOn")], "when the course was planned"
        ),
    },
    description="each planned course of aldesleukin, with its dosage schedule and status",
)
