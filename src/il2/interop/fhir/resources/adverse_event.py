"""AdverseEvent: each CTCAE-graded toxicity, as the HL7 Adverse Event Clinical Research R4
backport IG describes an adverse event in oncology research.

Followed from the IG (HL7/fhir-ae-research-backport-ig input/fsh/adverseEventResearchProfile.fsh
at da34ab95, 1.0.1): the event coded in MedDRA (as its examples code CTCAE terms), the
`ae-grade` extension with the NCI Thesaurus grade (bound to THO
adverse-event-clinical-research-grades), `actuality` actual. The profile itself
(AdverseEvent-clinical-research) is not declared: it requires what il2 does not record -
`seriousness` 1..1 (a regulatory judgement, not the CTCAE grade), `outcome` 1..1, `study` 1..1
(a ResearchStudy), and the `status` modifier extension 1..1 (il2 does not track whether an
event is in progress or resolved) - and it forbids the core `suspectEntity` (0..0) in favour of
its `suspect-entity` extension, whose `causality` (1..1) il2 does not record either.

So the suspect is R4's own `suspectEntity`: aldesleukin, as a contained Medication, where the
toxicity names a course (R4 allows no MedicationRequest there). il2 has no verified RxNorm code
for aldesleukin (codes.toml [unmapped.agents]), so the Medication names it without a coding.

Each graded term of an entry is one AdverseEvent. A corrected toxicity is one resource under
the id of the chain's first entry, holding the correction's content (see chains.py): the
original's content is superseded, not an event of its own, so it is not emitted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from il2.domain.coding import Coding, Section
from il2.interop.fhir.model import Context, Record, Resource, ResourceType, SearchParam
from il2.interop.fhir.resources.chains import latest_versions

GRADE_EXTENSION = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
"""The IG's AdverseEventGrade extension: valueCodeableConcept from
http://terminology.hl7.org/ValueSet/adverse-event-clinical-research-grades (preferred)."""

ACTUALITY = "actual"
"""R4 AdverseEventActuality (required binding); the IG fixes it to `actual`."""

SUSPECT = "aldesleukin"
"""The agent of every il2 course (codes.toml [agents], unmapped: no coding)."""


def _coding(coding: Coding) -> dict[str, str]:
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def _grades(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = entry.get("content")
    graded = content.get("grades") if isinstance(content, Mapping) else None
    rows = graded.get("grades") if isinstance(graded, Mapping) else None
    return [g for g in rows or [] if isinstance(g, Mapping) and "term" in g]


def _event(term: str, context: Context) -> dict[str, Any]:
    coded = context.codes.coding(Section.CTCAE_TERMS, term)
    if coded is None:  # il2's CTCAE term name; no MedDRA code verified for it
        return {"text": term}
    return {"coding": [_coding(coded)]}


def _one(
    root: Any, place: int, entry: Mapping[str, Any], graded: Mapping[str, Any], context: Context
) -> Resource:
    resource: Resource = {
        "resourceType": "AdverseEvent",
        "id": context.resource_id("toxicity", root, place),
        "actuality": ACTUALITY,
        "event": _event(str(graded["term"]), context),
        "subject": context.patient_reference,
        "date": str(entry["observed_on"]),
        "recordedDate": str(entry["recorded_at"]),
    }
    grade = context.codes.coding(Section.CTCAE_GRADES, str(graded.get("grade")))
    if grade is not None:
        resource["extension"] = [
            {"url": GRADE_EXTENSION, "valueCodeableConcept": {"coding": [_coding(grade)]}}
        ]
    if entry.get("course_id") is not None:
        resource["contained"] = [
            {"resourceType": "Medication", "id": SUSPECT, "code": {"text": SUSPECT}}
        ]
        resource["suspectEntity"] = [{"instance": {"reference": f"#{SUSPECT}"}}]
    return resource


def build(record: Record, context: Context) -> Iterator[Resource]:
    """One AdverseEvent per graded term of each toxicity's current version."""
    for root, entry in latest_versions(record["entries"], "toxicity"):
        for place, graded in enumerate(_grades(entry), start=1):
            yield _one(root, place, entry, graded, context)


TYPE = ResourceType(
    name="AdverseEvent",
    profiles=(),
    build=build,
    parts=frozenset({"entries"}),
    search={
        "event": SearchParam(
            "event", "token", lambda r: [r["event"]], "the event (https://www.meddra.org|code)"
        ),
        "date": SearchParam("date", "date", lambda r: [r.get("date")], "when it was observed"),
    },
    description=(
        "CTCAE-graded toxicities: MedDRA event, NCI Thesaurus grade (ae-grade extension of the "
        "HL7 AE Clinical Research IG), aldesleukin as the suspect"
    ),
)
