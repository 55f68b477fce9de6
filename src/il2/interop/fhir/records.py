"""One patient's record, read through the services as the caller may read it, and its context.

Staff name a patient by record number and read the identified record; a researcher names one
by study number and reads it de-identified (`il2.services.patients`). Both reads are audited
by the service, once per patient a request reads.
"""

from __future__ import annotations

from il2.domain.errors import NotFoundError
from il2.domain.records import Actor
from il2.interop.fhir.model import Context, Record
from il2.services.context import Services
from il2.services.patients import read_patient, read_study_record
from il2.services.permissions import read_mode


def read(
    services: Services, actor: Actor, patient_id: str, *, base: str, parts: frozenset[str]
) -> tuple[Record, Context]:
    """The record of the patient whose FHIR id is `patient_id`, holding the `parts` the types
    to build read (the others empty), and the context to map it."""
    identified = read_mode(services, actor) == "identified"
    if identified:
        if not patient_id.isdigit() or len(patient_id) > 18:
            raise NotFoundError(kind="Patient", key=patient_id[:64])
        record = read_patient(services, actor, int(patient_id), parts=parts)
    else:
        record = read_study_record(services, actor, patient_id, parts=parts)
    return record, context(services, identified=identified, patient_id=patient_id, base=base)


def context(services: Services, *, identified: bool, patient_id: str, base: str) -> Context:
    """The context to map the record of the patient whose FHIR id is `patient_id`."""
    return Context(
        rules=services.rules,
        codes=services.rules.codes,
        zone=services.rules.site.time_zone,
        identified=identified,
        patient_id=patient_id,
        base=base,
    )
