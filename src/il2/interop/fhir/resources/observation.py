"""Observation: bedside vital signs and labs, ECOG performance status, cancer disease status.

- Each dose record's before-dose assessment gives one Observation per coded measurement: the
  field's LOINC code and its unit's UCUM code from codes.toml (`[fields]`, `[units]`); a field
  il2 has no verified code for is left out. Restated baselines (`baseline.*`) and durations
  (unit `h`) are not observations made at the bedside and are not mapped.
- Each screening's ECOG grade is an mCODE ECOG Performance Status.
- Each RECIST response entry (its latest version, when corrected) is an mCODE Cancer Disease
  Status: the overall response at its latest time point, as mCODE's ConditionStatusTrendVS.

A researcher's record has shifted dates and no free text; nothing here adds text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from il2.domain.coding import Coding, Section
from il2.domain.findings import FieldType
from il2.interop.fhir.model import Context, Record, Resource, ResourceType, SearchParam
from il2.interop.fhir.resources.chains import latest_versions

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
"""FHIR R4 observation-category (http://hl7.org/fhir/R4/codesystem-observation-category.html)."""

# The FHIR R4 vital signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html): the
# base profile, and the specific profiles whose fixed LOINC code il2's coding carries. il2's
# systolic pressure (8480-6) is only a component of the R4 blood pressure profile, which needs
# the 85354-9 panel with both systolic and diastolic components (il2 records no diastolic),
# and il2's SpO2 is coded 59408-5 (pulse oximetry) while the R4 oxygensat profile fixes 2708-6:
# those two carry the vital-signs category but declare no profile.
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
_VITAL_PROFILES = {
    "8867-4": "http://hl7.org/fhir/StructureDefinition/heartrate",
    "8310-5": "http://hl7.org/fhir/StructureDefinition/bodytemp",
    "29463-7": "http://hl7.org/fhir/StructureDefinition/bodyweight",
}

ECOG_PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-ecog-performance-status"
"""mCODE ECOGPerformanceStatus (HL7/fhir-mCODE-ig input/fsh/SD_PerformanceStatus.fsh at
543477b5, 4.0.0): code LOINC 89247-1, value[x] only integer; its examples (EX_Basic.fsh) put
it in the `survey` observation category."""

DISEASE_STATUS_PROFILE = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"
)
# mCODE CancerDiseaseStatus (HL7/fhir-mCODE-ig input/fsh/SD_DiseaseStatus.fsh at 543477b5,
# 4.0.0) fixes its code: `code = LNC#97509-4 // "Cancer Disease Progression"`. The profile's
# own fixed value, not a mapping of an il2 term, so it is cited here rather than in codes.toml.
_DISEASE_STATUS_CODE = {"system": "http://loinc.org", "code": "97509-4"}

_LABS_DRAWN = "labs.hours_since_drawn"


def _category(path: str) -> str | None:
    """The observation category of a bedside field: vitals and weight are vital signs, labs
    are laboratory; oxygen flow (a setting of the therapy, not a body measurement) has none."""
    if path.startswith("vitals.") or path == "weight_kg":
        return "vital-signs"
    if path.startswith("labs."):
        return "laboratory"
    return None


def _at(document: Mapping[str, Any], path: str) -> Any:
    found: Any = document
    for part in path.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def _coding(coding: Coding) -> dict[str, str]:
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def _fhir_id(text: str) -> str:
    """An il2 name as FHIR id characters (letters, digits, '-' and '.')."""
    return text.replace("_", "-")


def bedside_paths(context: Context) -> list[str]:
    """The bedside number fields that are measurements made at the assessment."""
    return [
        path
        for path, spec in context.rules.bedside_fields.items()
        if spec.type in (FieldType.NUMBER, FieldType.INTEGER)
        and spec.unit != "h"
        and not path.startswith("baseline.")
    ]


def _quantity(value: float, unit: str, context: Context) -> dict[str, Any] | None:
    coded = context.codes.coding(Section.UNITS, unit)
    if coded is None:
        return None
    return {"value": value, "unit": unit, "system": coded.system, "code": coded.code}


def _effective(dose: Mapping[str, Any], path: str) -> str:
    """When the value was observed: the dose record's time (il2 keeps no separate assessment
    time), less `labs.hours_since_drawn` for a lab value."""
    recorded = datetime.fromisoformat(str(dose["recorded_at"]))
    drawn = _at(dose["assessment"], _LABS_DRAWN)
    if path.startswith("labs.") and isinstance(drawn, int | float) and not isinstance(drawn, bool):
        recorded -= timedelta(hours=float(drawn))
    return recorded.isoformat()


def _bedside(record: Record, context: Context) -> Iterator[Resource]:
    paths = bedside_paths(context)
    for dose in record["doses"]:
        assessment = dose.get("assessment") or {}
        slot = (dose["course_id"], dose["cycle"], dose["dose_number"])
        for path in paths:
            value = _at(assessment, path)
            code = context.codes.coding(Section.FIELDS, path)
            if code is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            quantity = _quantity(value, context.rules.bedside_fields[path].unit, context)
            if quantity is None:
                continue
            category = _category(path)
            resource: Resource = {
                "resourceType": "Observation",
                "id": context.resource_id("dose", *slot, _fhir_id(path)),
                "status": "final",
                "code": {"coding": [_coding(code)]},
                "subject": context.patient_reference,
                "effectiveDateTime": _effective(dose, path),
                "valueQuantity": quantity,
            }
            if category is not None:
                resource["category"] = [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}]
            if category == "vital-signs" and code.code in _VITAL_PROFILES:
                resource["meta"] = {"profile": [VITAL_SIGNS, _VITAL_PROFILES[code.code]]}
            yield resource


def _ecog(record: Record, context: Context) -> Iterator[Resource]:
    code = context.codes.coding(Section.FIELDS, "ecog")
    if code is None:
        return
    for place, screening in enumerate(record["screenings"], start=1):
        grade = _at(screening.get("findings") or {}, "ecog")
        if isinstance(grade, bool) or not isinstance(grade, int):
            continue
        yield {
            "resourceType": "Observation",
            "id": context.resource_id("screening", place, "ecog"),
            "meta": {"profile": [ECOG_PROFILE]},
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey"}]}],
            "code": {"coding": [_coding(code)]},
            "subject": context.patient_reference,
            "effectiveDateTime": str(screening["recorded_at"]),
            "valueInteger": grade,
        }


def _latest_timepoint(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    recist = _at(entry.get("content") or {}, "recist")
    points = recist.get("timepoints") if isinstance(recist, Mapping) else None
    scored = [p for p in points or [] if isinstance(p, Mapping) and p.get("overall")]
    return scored[-1] if scored else None


def _disease_status(record: Record, context: Context) -> Iterator[Resource]:
    for root, entry in latest_versions(record["entries"], "response"):
        point = _latest_timepoint(entry)
        if point is None:
            continue
        status = context.codes.coding(Section.RESPONSES, str(point["overall"]))
        if status is None:  # non-CR/non-PD: no verified status (codes.toml [unmapped.responses])
            continue
        yield {
            "resourceType": "Observation",
            "id": context.resource_id("response", root),
            "meta": {"profile": [DISEASE_STATUS_PROFILE]},
            "status": "final" if entry["id"] == root else "amended",
            "code": {"coding": [_DISEASE_STATUS_CODE]},
            "subject": context.patient_reference,
            # The diagnosis as the Condition resource maps it (one per patient record).
            "focus": [{"reference": f"Condition/{context.resource_id('condition')}"}],
            "effectiveDateTime": str(point.get("date") or entry["observed_on"]),
            "valueCodeableConcept": {"coding": [_coding(status)]},
        }


def build(record: Record, context: Context) -> Iterator[Resource]:
    """The record's Observations: bedside measurements, ECOG grades, disease status."""
    yield from _bedside(record, context)
    yield from _ecog(record, context)
    yield from _disease_status(record, context)


def _codes(resource: Resource) -> list[Any]:
    return [resource["code"]]


def _categories(resource: Resource) -> list[Any]:
    return list(resource.get("category", []))


def _dates(resource: Resource) -> list[Any]:
    return [resource.get("effectiveDateTime")]


TYPE = ResourceType(
    name="Observation",
    profiles=(VITAL_SIGNS, *_VITAL_PROFILES.values(), ECOG_PROFILE, DISEASE_STATUS_PROFILE),
    build=build,
    parts=frozenset({"screenings", "doses", "entries"}),
    search={
        "code": SearchParam("code", "token", _codes, "the LOINC code (http://loinc.org|code)"),
        "category": SearchParam(
            "category", "token", _categories, "vital-signs, laboratory or survey"
        ),
        "date": SearchParam("date", "date", _dates, "when it was observed"),
    },
    description=(
        "bedside vital signs and labs (LOINC, UCUM), ECOG performance status and cancer "
        "disease status (mCODE)"
    ),
)
