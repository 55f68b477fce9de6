"""Studies and arms: define a study, assign a patient to an arm, correct or withdraw, read.

A patient is in at most one arm of a study at a time. Assignments are never overwritten: each
is the next record of the patient's chain in the study (domain/studies.py), and every write and
every refusal is audited. A researcher reads the assignments by study number, without dates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from il2.domain import limits
from il2.domain.deidentify import study_number
from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError
from il2.domain.records import Actor
from il2.domain.studies import (
    ARM_CODE,
    ARM_CODE_WORDS,
    MAX_ARMS,
    MIN_ARMS,
    REGISTRY_FORMATS,
    Assignment,
    AssignmentKind,
    Study,
    current,
    current_arms,
    intention_to_treat_arms,
    intention_to_treat_assigned_on,
    registry_format,
)
from il2.services.auditing import audit, refusals_audited
from il2.services.clinical import today
from il2.services.context import Services, patient_or_404
from il2.services.parsing import iso_date, json_object, plain, text
from il2.services.permissions import reads_identified, require
from il2.services.ports import UnitOfWork

STUDY_KEYS = ("name", "registry_id", "description", "arms")
ARM_KEYS = ("id", "name", "description")


def _registry_id(raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = str(text(raw, "registry_id", limit=limits.MAX_IDENTIFIER)).upper()
    if registry_format(value) is None:
        raise InvalidInputError(
            field="registry_id",
            value=raw,
            allowed="a trial registry id: " + "; ".join(REGISTRY_FORMATS),
        )
    return value


def _words(raw: object, field: str) -> str | None:
    """Optional free text: None when absent or empty."""
    if raw is None or raw == "":
        return None
    return text(raw, field, limit=limits.MAX_FREE_TEXT, multiline=True)


def _arms(raw: object) -> list[tuple[str, str, str]]:
    if not isinstance(raw, list) or not MIN_ARMS <= len(raw) <= MAX_ARMS:
        shown = f"{len(raw)} arms" if isinstance(raw, list) else raw
        raise InvalidInputError(
            field="arms",
            value=shown,
            allowed=f"a list of {MIN_ARMS} to {MAX_ARMS} arms, each with an id, a name and a "
            "description",
        )
    arms: list[tuple[str, str, str]] = []
    for place, item in enumerate(raw):
        where = f"arms[{place}]"
        arm = json_object(item, where, ARM_KEYS)
        code = arm.get("id")
        if not isinstance(code, str) or not ARM_CODE.fullmatch(code):
            raise InvalidInputError(field=f"{where}.id", value=code, allowed=ARM_CODE_WORDS)
        if any(code == known for known, _, _ in arms):
            raise InvalidInputError(
                field=f"{where}.id", value=code, allowed="an id no other arm of the study has"
            )
        name = str(text(arm.get("name"), f"{where}.name"))
        if any(name.casefold() == known.casefold() for _, known, _ in arms):
            raise InvalidInputError(
                field=f"{where}.name", value=name, allowed="a name no other arm of the study has"
            )
        arms.append((code, name, _words(arm.get("description"), f"{where}.description") or ""))
    return arms


def study_fields(document: object) -> dict[str, Any]:
    """What defining the study in `document` keeps (checked; nothing read or written)."""
    raw = json_object(document, "document", STUDY_KEYS)
    return {
        "name": str(text(raw.get("name"), "name")),
        "registry_id": _registry_id(raw.get("registry_id")),
        "description": _words(raw.get("description"), "description") or "",
        "arms": _arms(raw.get("arms")),
    }


def study_document(study: Study) -> dict[str, Any]:
    """A study as the edges answer it: arms by their short ids."""
    return {
        "id": study.id,
        "name": study.name,
        "registry_id": study.registry_id,
        "description": study.description,
        "arms": [{"id": a.code, "name": a.name, "description": a.description} for a in study.arms],
    }


def create_study(services: Services, actor: Actor, document: object) -> Study:
    """Define a study and its arms (a name or registry id already kept is a conflict)."""
    require(services, actor, "study.define")
    with refusals_audited(
        services, actor, action="create", entity="study", entity_id="new", patient_id=None
    ):
        fields = study_fields(document)
        with services.uow() as uow:
            study = uow.studies.add(**fields, recorded_by=actor.username, at=services.clock())
            audit(
                uow,
                services,
                actor,
                action="create",
                entity="study",
                entity_id=study.id,
                patient_id=None,
                after=study_document(study),
            )
            uow.commit()
    return study


def _study(uow: UnitOfWork, study_id: int) -> Study:
    study = uow.studies.get(study_id)
    if study is None:
        raise NotFoundError(kind="study", key=str(study_id))
    return study


def _enrolment(study: Study, records: Sequence[Assignment]) -> list[dict[str, Any]]:
    now = Counter(current_arms(records).values())
    itt = Counter(intention_to_treat_arms(records).values())
    return [
        {
            "id": arm.code,
            "name": arm.name,
            "description": arm.description,
            "assigned": itt[arm.id],
            "in_arm_now": now[arm.id],
        }
        for arm in study.arms
    ]


def list_studies(services: Services, actor: Actor) -> list[dict[str, Any]]:
    """Every study with its arms and how many patients each arm has: `assigned` (intention to
    treat: the last arm each patient was assigned to) and `in_arm_now` (not withdrawn)."""
    require(services, actor, "study.read")
    with services.uow() as uow:
        studies = uow.studies.all()
        answer = []
        for study in studies:
            document = study_document(study)
            document["arms"] = _enrolment(study, uow.studies.assignments(study_id=study.id))
            answer.append(document)
        return answer


def _arm_id(study: Study, code: object) -> int:
    arm = study.arm_by_code(code) if isinstance(code, str) else None
    if arm is None:
        raise InvalidInputError(
            field="arm",
            value=code,
            allowed="an arm of the study: " + ", ".join(a.code for a in study.arms),
        )
    return arm.id


_NEEDS = {
    AssignmentKind.ASSIGNED: "a patient not in an arm of the study now (never assigned, or "
    "withdrawn): to move an assigned patient, correct the assignment",
    AssignmentKind.CORRECTED: "a patient in an arm of the study now (assign one first)",
    AssignmentKind.WITHDRAWN: "a patient in an arm of the study now",
}


def _check_chain(
    kind: AssignmentKind, last: Assignment | None, arm_id: int | None, on: date, now: date
) -> None:
    in_arm = last is not None and last.arm_id is not None
    if in_arm == (kind is AssignmentKind.ASSIGNED):
        where = "in an arm of the study" if in_arm else "in no arm of the study"
        raise ConflictError(f"the patient is {where} now; {kind.value} needs {_NEEDS[kind]}")
    if last is not None and kind is AssignmentKind.CORRECTED and last.arm_id == arm_id:
        raise InvalidInputError(
            field="arm", value="the arm the patient is in", allowed="another arm of the study"
        )
    if on > now:
        raise InvalidInputError(field="on", value=on.isoformat(), allowed="today or earlier")
    if last is not None and on < last.on:
        raise InvalidInputError(
            field="on",
            value=on.isoformat(),
            allowed=f"on or after the patient's last record in the study ({last.on.isoformat()})",
        )


def record_assignment(
    services: Services,
    actor: Actor,
    study_id: int,
    patient_id: int,
    *,
    kind: object,
    arm: object = None,
    on: object = None,
    reason: object = None,
) -> Assignment:
    """Assign the patient to an arm, correct the arm (with a reason), or withdraw the patient
    (with a reason), as the next record of their chain in the study; `on` defaults to today."""
    require(services, actor, "study.assign")
    with refusals_audited(
        services,
        actor,
        action="record",
        entity="arm_assignment",
        entity_id=f"{study_id}/{patient_id}",
        patient_id=patient_id,
    ):
        if kind not in tuple(AssignmentKind):
            raise InvalidInputError(
                field="kind", value=kind, allowed=", ".join(k.value for k in AssignmentKind)
            )
        chosen = AssignmentKind(str(kind))
        day = today(services) if on is None or on == "" else iso_date(on, "on")
        why = (
            _words(reason, "reason")
            if chosen is AssignmentKind.ASSIGNED
            else text(reason, "reason", limit=limits.MAX_FREE_TEXT, multiline=True)
        )
        with services.uow() as uow:
            study = _study(uow, study_id)
            referred = patient_or_404(uow, patient_id).referred_on
            if day < referred:
                raise InvalidInputError(
                    field="on",
                    value=day.isoformat(),
                    allowed=f"on or after the patient's referral ({referred.isoformat()})",
                )
            uow.patients.lock(patient_id)
            arm_id = None if chosen is AssignmentKind.WITHDRAWN else _arm_id(study, arm)
            chain = uow.studies.assignments(study_id=study_id, patient_id=patient_id)
            last = current(chain)
            _check_chain(chosen, last, arm_id, day, today(services))
            record = uow.studies.assign(
                study_id=study_id,
                patient_id=patient_id,
                sequence=(last.sequence if last else 0) + 1,
                kind=chosen,
                arm_id=arm_id,
                on=day,
                reason=why,
                recorded_by=actor.username,
                at=services.clock(),
            )
            audit(
                uow,
                services,
                actor,
                action=chosen.value,
                entity="arm_assignment",
                entity_id=record.id,
                patient_id=patient_id,
                before=None if last is None else assignment_document(study, last),
                after=assignment_document(study, record),
            )
            uow.commit()
    return record


def recorded_assignment(
    services: Services, actor: Actor, study_id: int, patient_id: int, **change: object
) -> dict[str, Any]:
    """`record_assignment`, answered as the record's document (the edges' answer)."""
    record = record_assignment(services, actor, study_id, patient_id, **change)
    with services.uow() as uow:
        return assignment_document(_study(uow, study_id), record)


def assignment_document(study: Study, record: Assignment) -> dict[str, Any]:
    """One record of a patient's chain, identified (staff): the arm by its short id."""
    arm = study.arm(record.arm_id) if record.arm_id is not None else None
    return {
        "id": record.id,
        "study_id": study.id,
        "patient_id": record.patient_id,
        "sequence": record.sequence,
        "kind": record.kind.value,
        "arm": arm.code if arm else None,
        "arm_name": arm.name if arm else None,
        "on": record.on.isoformat(),
        "reason": record.reason,
        "recorded_by": record.recorded_by,
        "recorded_at": plain(record.recorded_at),
    }


def _deidentified(services: Services, study: Study, record: Assignment) -> dict[str, Any]:
    """A researcher's view of one record: the study number, no database ids, dates or words."""
    arm = study.arm(record.arm_id) if record.arm_id is not None else None
    return {
        "study_number": study_number(record.patient_id, key=services.study_key),
        "sequence": record.sequence,
        "kind": record.kind.value,
        "arm": arm.code if arm else None,
        "arm_name": arm.name if arm else None,
    }


def study_assignments(services: Services, actor: Actor, study_id: int) -> dict[str, Any]:
    """A study, its enrolment by arm and every record of its patients' chains, oldest first;
    de-identified for a researcher (study numbers; no patient ids, dates or reasons). Audited
    as a read of the patients' records."""
    require(services, actor, "study.read")
    identified = reads_identified(services, actor)
    with services.uow() as uow:
        study = _study(uow, study_id)
        records = uow.studies.assignments(study_id=study_id)
        document = study_document(study)
        document["arms"] = _enrolment(study, records)
        document["identified"] = identified
        document["assignments"] = [
            assignment_document(study, r) if identified else _deidentified(services, study, r)
            for r in records
        ]
        audit(
            uow,
            services,
            actor,
            action="read_assignments",
            entity="study",
            entity_id=study_id,
            patient_id=None,
            after={"records": len(records), "identified": identified},
        )
        uow.commit()
        return document


def patient_studies(services: Services, actor: Actor, patient_id: int) -> list[dict[str, Any]]:
    """For the patient's chart: every study, the patient's arm in it now (None: in no arm),
    and the patient's chain of records in it, oldest first (staff who read the record)."""
    require(services, actor, "study.read")
    require(services, actor, "patient.read")
    with services.uow() as uow:
        patient_or_404(uow, patient_id)
        studies = uow.studies.all()
        mine = uow.studies.assignments(patient_id=patient_id)
    answer = []
    for study in studies:
        chain = [r for r in mine if r.study_id == study.id]
        last = current(chain)
        arm = study.arm(last.arm_id) if last and last.arm_id is not None else None
        answer.append(
            {
                **study_document(study),
                "arm": None if arm is None else {"id": arm.code, "name": arm.name},
                "records": [assignment_document(study, r) for r in chain],
            }
        )
    return answer


def arms_by_patient(
    services: Services, study_id: int
) -> tuple[Study, Mapping[int, str], Mapping[int, date]]:
    """The study, each patient's arm for an intention-to-treat analysis (by arm short id) and
    the date they were assigned to it (the time zero of the arm's survival): for outcome
    analysis, which checks its own permission and audit."""
    with services.uow() as uow:
        study = _study(uow, study_id)
        records = uow.studies.assignments(study_id=study_id)
    codes = {a.id: a.code for a in study.arms}
    arms = {p: codes[a] for p, a in intention_to_treat_arms(records).items()}
    return study, arms, intention_to_treat_assigned_on(records)
