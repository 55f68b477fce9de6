"""Condition: the cancer il2 treats, as mCODE's Primary Cancer Condition describes it.

Profile (mCODE STU4, 4.0.0): http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition
(https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-primary-cancer-condition.html), whose
parent is US Core 6.1.0's Condition Problems and Health Concerns profile
(https://hl7.org/fhir/us/core/STU6.1/StructureDefinition-us-core-condition-problems-health-concerns.html):
category (1..*, one of problem-list-item or health-concern), code (1..1) and subject (1..1).

The required code binding is NOT met: mCODE binds Condition.code to PrimaryCancerDisorderVS
(SNOMED CT disorders), and il2 has no verified SNOMED CT code for its diagnoses yet
(codes.toml `[unmapped.diagnoses]` says why). Until one is added there, `code` carries the
diagnosis as text only; the coding appears by itself once codes.toml has it. Nor does il2
record the clinical or verification status, the body site, the histology or the stage, so
they are left out rather than guessed.

`recordedDate` is when il2 registered the patient with this diagnosis (FHIR R4: "when this
particular Condition record was created in the system",
http://hl7.org/fhir/R4/condition-definitions.html#Condition.recordedDate); a researcher's
record has no such date (only the year of referral, unshifted), so it is left out.

Search parameters are R4's (http://hl7.org/fhir/R4/condition.html#search): code and
recorded-date; clinical-status is not answered because il2 does not record it.
"""

from __future__ import annotations

from collections.abc import Iterator

from il2.domain.coding import Section
from il2.interop.fhir.model import Context, Record, Resource, ResourceType, SearchParam

PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"

# FHIR R4 condition-category (http://hl7.org/fhir/R4/codesystem-condition-category.html), the
# code US Core 6.1.0's category slice asks of a problem
# (https://hl7.org/fhir/us/core/STU6.1/ValueSet-us-core-problem-or-health-concern.html).
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
PROBLEM = {"system": CATEGORY_SYSTEM, "code": "problem-list-item", "display": "Problem List Item"}


def condition_id(context: Context) -> str:
    """The id of the patient's one primary cancer Condition."""
    return context.resource_id("condition")


def condition_reference(context: Context) -> dict[str, str]:
    """A reference to the patient's primary cancer Condition (the reason for every course)."""
    return {"reference": f"Condition/{condition_id(context)}"}


def diagnosis_words(term: str) -> str:
    """il2's diagnosis term in words: `renal_cell_carcinoma` is "Renal cell carcinoma"."""
    return term.replace("_", " ").capitalize()


def build(record: Record, context: Context) -> Iterator[Resource]:
    """The record's one primary cancer Condition."""
    patient = record["patient"]
    term = str(patient["diagnosis"])
    code: dict[str, object] = {"text": diagnosis_words(term)}
    coded = context.codes.coding(Section.DIAGNOSES, term)
    if coded is not None:
        code["coding"] = [{"system": coded.system, "code": coded.code, "display": coded.display}]
    resource: Resource = {
        "resourceType": "Condition",
        "id": condition_id(context),
        "meta": {"profile": [PROFILE]},
        "category": [{"coding": [PROBLEM]}],
        "code": code,
        "subject": context.patient_reference,
    }
    if context.identified and patient.get("created_at"):
        resource["recordedDate"] = patient["created_at"]
    yield resource


TYPE = ResourceType(
    name="Condition",
    profiles=(PROFILE,),
    build=build,
    parts=frozenset(),
    search={
        "code": SearchParam(
            "code",
            "token",
            lambda r: [r["code"]],
            "the diagnosis code (none until codes.toml has a verified one)",
        ),
        "recorded-date": SearchParam(
            "recorded-date",
            "date",
            lambda r: [r.get("recordedDate")],
            "when il2 recorded the diagnosis",
        ),
    },
    description="the primary cancer each patient is treated for (text; no verified code yet)",
)
