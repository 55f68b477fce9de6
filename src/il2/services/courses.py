"""Courses and the dose ledger: plan a course; record each dose given, held or stopped.

The ledger keeps one record per (course, cycle, dose number), enforced by the database. A second
submission of a recorded dose is a conflict that carries the first record; a retried submission
with the same idempotency key returns the first result. Giving a dose the engine did not advise
(held, early, after a stop or discontinue) needs a physician's override with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from il2.domain.bedside import Action
from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from il2.domain.records import Actor, CourseRecord, DoseOutcome, DoseRecord, LedgerLine, User
from il2.services.admission import admit
from il2.services.bedside import assess_before_dose
from il2.services.context import (
    Services,
    audit,
    aware,
    patient_or_404,
    refusals_audited,
    require,
    text,
)
from il2.services.documents import bedside_document, plan_document
from il2.services.planning import plan as plan_one
from il2.services.ports import UnitOfWork

_OUTCOME_FOR = {
    Action.GIVE: DoseOutcome.GIVEN,
    Action.HOLD: DoseOutcome.HELD,
    Action.INCOMPLETE: DoseOutcome.HELD,
    Action.STOP_CYCLE: DoseOutcome.STOPPED,
    Action.DISCONTINUE: DoseOutcome.STOPPED,
}
_STOPPING = {Action.STOP_CYCLE.value, Action.DISCONTINUE.value}


def plan_course(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    regimen: str,
    weight_kg: object,
    first_dose: object,
    cycle_end_rule: object = None,
    override_reason: str | None = None,
) -> CourseRecord:
    """Plan the patient's next course and keep the plan, every dose slot included.

    A course that must not start is refused with every reason (services/admission.py); a
    physician may plan against relative reasons only, with `override_reason`, which the plan
    keeps. `cycle_end_rule` is the plan's own choice, needed when the first-dose time leaves
    fewer slots in a cycle's days than doses and the site policy asks.
    """
    require(services, actor, "course.plan")
    with refusals_audited(
        services,
        actor,
        action="plan_course",
        entity="patient",
        entity_id=patient_id,
        patient_id=patient_id,
    ):
        fields = course_fields(
            services,
            regimen=regimen,
            weight_kg=weight_kg,
            first_dose=first_dose,
            cycle_end_rule=cycle_end_rule,
        )
        with services.uow() as uow:
            patient_or_404(uow, patient_id)
            uow.patients.lock(patient_id)
            override = admit(
                services,
                uow,
                actor,
                patient_id,
                first_dose=fields["first_dose_at"],
                override_reason=override_reason,
            )
            if override is not None:
                fields["plan"] = {**fields["plan"], "admission_override": override}
            number = len(uow.courses.for_patient(patient_id)) + 1
            course = uow.courses.add(
                patient_id=patient_id,
                number=number,
                **fields,
                recorded_by=actor.username,
                at=services.clock(),
            )
            audit(
                uow,
                services,
                actor,
                action="create",
                entity="course",
                entity_id=course.id,
                patient_id=patient_id,
                after=course,
            )
            uow.commit()
    return course


def _first_dose(raw: object, services: Services) -> datetime:
    """The first dose's date and time, refused in words a physician reads (not a format name)."""
    try:
        return aware(raw, "first_dose", services)
    except InvalidInputError:
        raise InvalidInputError(
            field="first_dose",
            value=raw,
            allowed="the date and time of the first dose, such as 2026-12-14 08:00 "
            f"({services.rules.site.time_zone.key} time unless another offset is given)",
        ) from None


def course_fields(
    services: Services,
    *,
    regimen: str,
    weight_kg: object,
    first_dose: object,
    cycle_end_rule: object = None,
) -> dict[str, Any]:
    """What planning a course keeps: regimen, weight, first dose and the plan document."""
    planned = plan_one(
        services.rules,
        regimen_id=regimen,
        weight_kg=weight_kg,
        first_dose=_first_dose(first_dose, services),
        cycle_end_rule=cycle_end_rule,
    )
    return {
        "regimen_id": regimen,
        "weight_kg": str(planned.weight_kg),
        "first_dose_at": planned.cycles[0].doses[0].due_at,
        "plan": plan_document(planned, services.rules),
    }


@dataclass(frozen=True, slots=True)
class DoseResult:
    """The ledger entry, and whether this submission created it (False: a retry)."""

    record: DoseRecord
    created: bool


@dataclass(frozen=True, slots=True)
class DoseSubmission:
    """What a nurse submits for one scheduled dose."""

    cycle: int
    dose_number: int
    assessment: Mapping[str, Any]
    outcome: DoseOutcome | None = None
    given_at: datetime | None = None
    verified_by: str | None = None
    override_reason: str | None = None
    idempotency_key: str | None = None


def _slot_count(course: CourseRecord, cycle: int) -> int:
    for planned in course.plan.get("cycles", []):
        if planned["cycle"] == cycle:
            return len(planned["doses"])
    raise InvalidInputError(
        field="cycle",
        value=cycle,
        allowed=f"a cycle of course {course.number}: "
        + ", ".join(str(c["cycle"]) for c in course.plan.get("cycles", [])),
    )


def _ledger_facts(ledger: Sequence[LedgerLine], cycle: int, at: datetime) -> dict[str, Any]:
    """The slot's counts from the ledger, and the hours since the course's last given dose."""
    this_cycle = [r for r in ledger if r.cycle == cycle]
    given = [r.given_at for r in ledger if r.outcome is DoseOutcome.GIVEN and r.given_at]
    facts: dict[str, Any] = {
        "doses_given_this_cycle": sum(
            1 for r in this_cycle if r.outcome is DoseOutcome.GIVEN and r.given_at
        ),
        "doses_held_this_cycle": sum(1 for r in this_cycle if r.outcome is DoseOutcome.HELD),
    }
    if given:
        facts["hours_since_last_dose"] = round((at - max(given)).total_seconds() / 3600, 2)
    return facts


def _needs_override(decision: Action, ledger: Sequence[LedgerLine], cycle: int) -> list[str]:
    why = []
    if decision is not Action.GIVE:
        why.append(f"the before-dose decision is {decision.value}")
    stopped = [
        r
        for r in ledger
        if r.decision_action in _STOPPING
        and (r.cycle == cycle or r.decision_action == "discontinue")
    ]
    if stopped:
        first = stopped[0]
        why.append(
            f"dose {first.cycle}.{first.dose_number} was recorded with {first.decision_action}"
        )
    return why


def _check_given(
    services: Services,
    actor: Actor,
    submission: DoseSubmission,
    why: list[str],
    user: Callable[[str], User | None],
) -> None:
    verifier = text(submission.verified_by, "verified_by")
    if verifier == actor.username:
        raise InvalidInputError(
            field="verified_by", value=verifier, allowed="a second user, not the one recording"
        )
    account = user(str(verifier))
    if account is None or not account.active:
        raise InvalidInputError(
            field="verified_by", value=verifier, allowed="the username of an active user"
        )
    if submission.given_at is None:
        raise InvalidInputError(
            field="given_at", value=None, allowed="the date-time the dose was given"
        )
    if why:
        if not services.rules.permissions.allows(actor.role, "dose.override"):
            raise PermissionDeniedError(
                f"giving this dose needs a physician's override with a reason: {'; '.join(why)}"
            )
        text(submission.override_reason, "override_reason")


def _course_or_404(uow: UnitOfWork, course_id: int) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None:
        raise NotFoundError(kind="course", key=str(course_id))
    return course


def _dose_document(
    course: CourseRecord, ledger: Sequence[LedgerLine], submission: DoseSubmission, at: datetime
) -> dict[str, Any]:
    """The before-dose document: what the nurse entered, with the slot and the ledger's counts.

    The pre-treatment weight defaults to the course's planned weight when none is entered.
    """
    entered = submission.assessment.get("baseline")
    planned = {"weight_kg": float(course.weight_kg)}
    baseline: object = {**planned, **entered} if isinstance(entered, Mapping) else entered
    return {
        **submission.assessment,
        **_ledger_facts(ledger, submission.cycle, at),
        "baseline": planned if baseline is None else baseline,
        "regimen": course.regimen_id,
        "cycle": submission.cycle,
        "dose_number": submission.dose_number,
    }


def _read_course(
    services: Services, actor: Actor, course_id: int, *, action: str
) -> tuple[CourseRecord, Sequence[DoseRecord]]:
    """A course and its full ledger, the read audited as `action`."""
    with services.uow() as uow:
        course = _course_or_404(uow, course_id)
        doses = uow.doses.for_course(course_id)
        audit(
            uow,
            services,
            actor,
            action=action,
            entity="course",
            entity_id=course_id,
            patient_id=course.patient_id,
        )
        uow.commit()
    return course, doses


def preview_dose(
    services: Services, actor: Actor, course_id: int, submission: DoseSubmission
) -> dict[str, Any]:
    """The decision a submission would get, with nothing saved (the ledger is read, and audited)."""
    require(services, actor, "dose.record")
    course, doses = _read_course(services, actor, course_id, action="preview_dose")
    lines = [
        LedgerLine(d.cycle, d.dose_number, d.outcome, d.decision_action, d.given_at) for d in doses
    ]
    document = _dose_document(course, lines, submission, submission.given_at or services.clock())
    regimen, decision = assess_before_dose(services.rules, document)
    return bedside_document(regimen, decision)


def ledger_line(record: DoseRecord) -> dict[str, object]:
    """What the audit keeps of a dose: the ledger line (the assessment stays in the record)."""
    keep = (
        "id",
        "course_id",
        "cycle",
        "dose_number",
        "outcome",
        "decision_action",
        "rules_version",
        "given_at",
        "verified_by",
        "override_reason",
        "override_by",
        "idempotency_key",
    )
    return {key: getattr(record, key) for key in keep}


def dose_fields(
    services: Services,
    actor: Actor,
    course: CourseRecord,
    ledger: Sequence[LedgerLine],
    submission: DoseSubmission,
    *,
    user: Callable[[str], User | None],
) -> dict[str, Any]:
    """The ledger entry `record_dose` keeps for a submission, all but the course id.

    Assesses the dose with the bedside engine and checks a given dose (verifier, override);
    `user` looks up the verifier's account. Writes nothing.
    """
    document = _dose_document(course, ledger, submission, submission.given_at or services.clock())
    regimen, decision = assess_before_dose(services.rules, document)
    outcome = submission.outcome or _OUTCOME_FOR[decision.action]
    why = _needs_override(decision.action, ledger, submission.cycle)
    given = outcome is DoseOutcome.GIVEN
    if given:
        _check_given(services, actor, submission, why, user)
    return {
        "cycle": submission.cycle,
        "dose_number": submission.dose_number,
        "outcome": outcome,
        "assessment": document,
        "decision": bedside_document(regimen, decision),
        "decision_action": decision.action.value,
        "rules_version": decision.rules_version,
        "given_at": submission.given_at if given else None,
        "verified_by": submission.verified_by if given else None,
        "override_reason": submission.override_reason if given and why else None,
        "override_by": actor.username if given and why else None,
        "idempotency_key": submission.idempotency_key,
        "recorded_by": actor.username,
        "at": services.clock(),
    }


def record_dose(
    services: Services, actor: Actor, course_id: int, submission: DoseSubmission
) -> DoseResult:
    """Assess a scheduled dose with the bedside engine and record what was done."""
    require(services, actor, "dose.record")
    with services.uow() as uow:
        if submission.idempotency_key:
            first = uow.doses.by_idempotency_key(submission.idempotency_key)
            if first is not None:
                return DoseResult(first, created=False)
        course, verifier = uow.courses.get_with_user(course_id, submission.verified_by)
        if course is None:
            raise NotFoundError(kind="course", key=str(course_id))
        slots = _slot_count(course, submission.cycle)
        if not 1 <= submission.dose_number <= slots:
            raise InvalidInputError(
                field="dose_number",
                value=submission.dose_number,
                allowed=f"a dose from 1 to {slots} of cycle {submission.cycle}",
            )
        ledger = uow.doses.lines_for_course(course_id)
        slot = (submission.cycle, submission.dose_number)
        if any((line.cycle, line.dose_number) == slot for line in ledger):
            raise ConflictError(
                f"dose {submission.cycle}.{submission.dose_number} of course {course_id} "
                "is already recorded",
                existing=uow.doses.by_slot(course_id, *slot),
            )

        def account(username: str) -> User | None:
            found = verifier if verifier and verifier.username == username else None
            return found or uow.users.by_username(username)

        fields = dose_fields(services, actor, course, ledger, submission, user=account)
        record = uow.doses.add(course_id=course_id, **fields)
        audit(
            uow,
            services,
            actor,
            action="create",
            entity="dose",
            entity_id=record.id,
            patient_id=course.patient_id,
            after=ledger_line(record),
        )
        uow.commit()
    return DoseResult(record, created=True)


def submit_dose(
    services: Services, actor: Actor, course_id: int, submission: DoseSubmission
) -> DoseResult:
    """Record a dose; when a concurrent submission won the race, answer with its record.

    A retry with the same idempotency key gets the first result back; any other second
    submission of the same slot is a ConflictError carrying the record that was there first.
    """
    try:
        return record_dose(services, actor, course_id, submission)
    except ConflictError as clash:
        with services.uow() as uow:
            if submission.idempotency_key:
                first = uow.doses.by_idempotency_key(submission.idempotency_key)
                if first is not None:
                    return DoseResult(first, created=False)
            existing = uow.doses.by_slot(course_id, submission.cycle, submission.dose_number)
        raise ConflictError(str(clash), existing=existing or clash.existing) from None


def ledger(
    services: Services, actor: Actor, course_id: int
) -> tuple[CourseRecord, Sequence[DoseRecord]]:
    """A course and its dose ledger."""
    require(services, actor, "patient.read")
    return _read_course(services, actor, course_id, action="read")
