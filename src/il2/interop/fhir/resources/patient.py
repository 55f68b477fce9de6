"""Patient: who the record is about, as mCODE's Cancer Patient profile describes a patient.

Staff read the identified record (MRN, name, birth date, sex). A researcher reads a study
number as the only identifier and no name; the birth date is left out (Safe Harbor keeps the
age, which is in the de-identified record, not the date).
"""

from __future__ import annotations

from collections.abc import Iterator

from il2.interop.fhir.model import (
    MRN_SYSTEM,
    STUDY_SYSTEM,
    Context,
    Record,
    Resource,
    ResourceType,
    SearchParam,
)

PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-patient"

# FHIR AdministrativeGender: il2 records sex as "female", "male", "other" or "unknown"
# (il2.services.patients.SEXES), which are AdministrativeGender's own codes.
_GENDERS = frozenset({"female", "male", "other", "unknown"})


def _name(text: str) -> dict[str, object]:
    parts = text.split()
    name: dict[str, object] = {"use": "official", "text": text}
    if parts:
        name["family"] = parts[-1]
    if len(parts) > 1:
        name["given"] = parts[:-1]
    return name


def build(record: Record, context: Context) -> Iterator[Resource]:
    """The record's one Patient."""
    found = record["patient"]
    sex = str(found.get("sex", "")).lower()
    resource: Resource = {
        "resourceType": "Patient",
        "id": context.patient_id,
        "meta": {"profile": [PROFILE]},
    }
    if context.identified:
        resource["identifier"] = [{"system": MRN_SYSTEM, "value": found["mrn"]}]
        resource["name"] = [_name(found["name"])]
        resource["birthDate"] = found["birth_date"]
    else:
        resource["identifier"] = [{"system": STUDY_SYSTEM, "value": found["study_id"]}]
    if sex in _GENDERS:
        resource["gender"] = sex
    yield resource


def _identifiers(resource: Resource) -> list[dict[str, str]]:
    return list(resource.get("identifier", []))


def _names(resource: Resource) -> list[str]:
    return [str(name.get("text", "")) for name in resource.get("name", [])]


TYPE = ResourceType(
    name="Patient",
    profiles=(PROFILE,),
    build=build,
    parts=frozenset(),
    search={
        "_id": SearchParam("_id", "token", lambda r: [r["id"]], "the patient's id"),
        "identifier": SearchParam(
            "identifier", "token", _identifiers, f"the MRN ({MRN_SYSTEM}|value)"
        ),
        "name": SearchParam("name", "string", _names, "part of the patient's name"),
        "gender": SearchParam("gender", "token", lambda r: [r.get("gender")], "sex"),
    },
    description="the patients of the program, identified for staff, by study number for research",
)
