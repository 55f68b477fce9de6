"""The dose ledger: assess a scheduled dose and record it given, held or stopped.

Every check reads the patient's whole timeline (domain/timeline.py): the minimum interval runs
from the patient's last given dose in any course or cycle, a dose is given only inside the window
around its due time, never in the future or before its assessment, never after a discontinue or
in a stopped cycle. A dose that is not due yet, or an incomplete assessment, is refused and
consumes nothing; a stop or discontinue can be recorded at any time.

A physician may give a dose the before-dose decision holds, naming the hold reasons overridden
and why; nothing else is ever overridden. The second person verifying a given dose signs with
their own password, is never the recorder, and holds a role that may verify doses.

The ledger keeps one record per (course, cycle, dose number), enforced by the database. A second
submission of a recorded dose is a conflict that carries the first record; a retried submission
with the same idempotency key returns the first result. Every refusal records nothing but its
audit entry `refuse_record_dose`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypedDict, Unpack

from il2.domain import limits
from il2.domain.bedside import Action, DoseDecision, holds_still_open
from il2.domain.diary import Taken, current_entries
from il2.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Refusal,
    RefusedError,
)
from il2.domain.infusion import EventKind, InfusionEvent, in_force
from il2.domain.records import (
    Actor,
    ClinicalEntry,
    CourseRecord,
    DoseOutcome,
    DoseRecord,
    InfusionEventRecord,
    PatientLedgerLine,
    User,
)
from il2.domain.timeline import (
    DISCONTINUE,
    STOP_CYCLE,
    Slot,
    SlotState,
    SlotStatus,
    TimelineLine,
    given_refusals,
    hours_since_last_given,
    slot_state,
)
from il2.services.accounts import password_matches
from il2.services.auditing import audit, refusals_audited
from il2.services.bedside import assess_before_dose
from il2.services.clinical import Correction, add_entry, correct_entry
from il2.services.context import Services
from il2.services.diary import self_injected
from il2.services.documents import bedside_document
from il2.services.parsing import text
from il2.services.permissions import may, require, require_verifier
from il2.services.ports import UnitOfWork

_OUTCOME_FOR = {
    Action.GIVE: DoseOutcome.GIVEN,
    Action.HOLD: DoseOutcome.HELD,
    Action.INCOMPLETE: DoseOutcome.HELD,
    Action.STOP_CYCLE: DoseOutcome.STOPPED,
    Action.DISCONTINUE: DoseOutcome.STOPPED,
}
NEVER_OVERRIDDEN = frozenset({"regimen-interval"})
"""Hold rules of the bedside engine no override may waive (the minimum interval)."""

Verifier = Callable[[str, object], User | None]
"""Who a (username, password) pair authenticates: the active account, or None."""

PasswordCheck = Callable[[User | None, object], bool]
"""Whether a password is the (active) account's own."""


class DoseOptions(TypedDict, total=False):
    """How submit_dose records a dose, as record_dose takes it: the check of the second
    person's password, and the patient a page's path names."""

    password_check: PasswordCheck
    patient_id: int | None


@dataclass(frozen=True, slots=True)
class DoseResult:
    """The ledger entry, and whether this submission created it (False: a retry)."""

    record: DoseRecord
    created: bool


@dataclass(frozen=True, slots=True)
class DoseSubmission:
    """What a nurse submits for one scheduled dose.

    `overrides` names the hold reasons (rule ids) a physician gives the dose against; with an
    `override_reason` and no `overrides`, every overridable reason is overridden. `assessed_at`
    is when the before-dose assessment was made (default: now). `verifier_password` is the second
    person's own password; it is checked and never kept.
    """

    cycle: int
    dose_number: int
    assessment: Mapping[str, Any]
    outcome: DoseOutcome | None = None
    given_at: datetime | None = None
    verified_by: str | None = None
    override_reason: str | None = None
    idempotency_key: str | None = None
    verifier_password: str | None = field(default=None, repr=False)
    assessed_at: datetime | None = None
    overrides: tuple[str, ...] = ()


def _course_or_404(uow: UnitOfWork, course_id: int) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None:
        raise NotFoundError(kind="course", key=str(course_id))
    return course


def dose_slot(services: Services, course: CourseRecord, cycle: int, number: int) -> Slot:
    """The planned slot of a course, or InvalidInputError naming what the plan has."""
    cycles = course.plan.get("cycles", [])
    planned = next((c for c in cycles if c["cycle"] == cycle), None)
    if planned is None:
        raise InvalidInputError(
            field="cycle",
            value=cycle,
            allowed=f"a cycle of course {course.number}: "
            + ", ".join(str(c["cycle"]) for c in cycles),
        )
    doses = planned["doses"]
    if not 1 <= number <= len(doses):
        raise InvalidInputError(
            field="dose_number",
            value=number,
            allowed=f"a dose from 1 to {len(doses)} of cycle {cycle}",
        )
    due = {d["number"]: datetime.fromisoformat(d["due_at"]) for d in doses}
    return Slot(
        course_id=course.id,
        cycle=cycle,
        dose_number=number,
        due_at=due[number],
        cycle_first_due_at=min(due.values()),
        interval_h=services.rules.regimens[course.regimen_id].interval_h,
    )


def timeline_lines(
    services: Services,
    courses: Mapping[int, CourseRecord],
    lines: Sequence[PatientLedgerLine],
) -> list[TimelineLine]:
    """The patient's ledger lines, each with its course's minimum interval."""
    regimens = services.rules.regimens
    return [
        TimelineLine(
            course_id=line.course_id,
            cycle=line.cycle,
            dose_number=line.dose_number,
            outcome=line.outcome,
            decision_action=line.decision_action,
            given_at=line.given_at,
            interval_h=regimens[courses[line.course_id].regimen_id].interval_h,
        )
        for line in lines
    ]


def _cycle_counts(lines: Sequence[tuple[DoseOutcome, object]]) -> dict[str, int]:
    """A cycle's given and held doses, from its ledger lines' (outcome, given at) pairs.

    A dose counts as given only with the time it was given, as `record_dose` writes it.
    """
    return {
        "doses_given_this_cycle": sum(
            1 for outcome, at in lines if outcome is DoseOutcome.GIVEN and at
        ),
        "doses_held_this_cycle": sum(1 for outcome, _ in lines if outcome is DoseOutcome.HELD),
    }


def _ledger_facts(
    course: CourseRecord, lines: Sequence[TimelineLine], cycle: int, at: datetime
) -> dict[str, Any]:
    """The cycle's counts from its course's ledger, and hours since the patient's last dose."""
    facts: dict[str, Any] = _cycle_counts(
        [(r.outcome, r.given_at) for r in lines if (r.course_id, r.cycle) == (course.id, cycle)]
    )
    hours = hours_since_last_given(lines, at)
    if hours is not None:
        facts["hours_since_last_dose"] = hours
    return facts


def ledger_facts(doses: Sequence[Mapping[str, Any]], course_id: int, cycle: int) -> dict[str, Any]:
    """What the dose screen shows of a cycle's ledger, from the doses of `read_patient`.

    The counts are the ones the before-dose decision is given (counted as for `record_dose`),
    with when the cycle's last dose was given ("" when none was).
    """
    lines = [
        (DoseOutcome(d["outcome"]), d["given_at"])
        for d in doses
        if (d["course_id"], d["cycle"]) == (course_id, cycle)
    ]
    given = [at for outcome, at in lines if outcome is DoseOutcome.GIVEN and at]
    return {**_cycle_counts(lines), "last_given_at": max(given, default="")}


def _dose_document(
    course: CourseRecord,
    lines: Sequence[TimelineLine],
    submission: DoseSubmission,
    at: datetime,
    open_holds: Sequence[str] = (),
) -> dict[str, Any]:
    """The before-dose document: what the nurse entered, with the slot and the ledger's counts.

    The pre-treatment weight defaults to the course's planned weight when none is entered. The
    holds still open are the ledger's (`open_holds`), joined to any the document names.
    """
    entered = submission.assessment.get("baseline")
    planned = {"weight_kg": float(course.weight_kg)}
    baseline: object = {**planned, **entered} if isinstance(entered, Mapping) else entered
    named = submission.assessment.get("held_for")
    held: dict[str, Any] = {}
    if named is None:
        held = {"held_for": list(open_holds)}
    elif isinstance(named, list) and open_holds:
        held = {"held_for": sorted({*named, *open_holds}, key=str)}
    return {
        **submission.assessment,
        **held,
        **_ledger_facts(course, lines, submission.cycle, at),
        "baseline": planned if baseline is None else baseline,
        "regimen": course.regimen_id,
        "cycle": submission.cycle,
        "dose_number": submission.dose_number,
    }


def slot_document(
    course: CourseRecord,
    lines: Sequence[TimelineLine],
    submission: DoseSubmission,
    at: datetime,
    open_holds: Sequence[str] = (),
) -> dict[str, Any]:
    """The before-dose document of a slot as `record_dose` builds it, the ledger's facts at
    `at` (services/infusions.py assesses a running infusion with it)."""
    return _dose_document(course, lines, submission, at, open_holds)


def _words(action: Action) -> str:
    return {
        Action.HOLD: "hold",
        Action.STOP_CYCLE: "stop the cycle",
        Action.DISCONTINUE: "discontinue",
    }.get(action, action.value)


def engine_reasons(decision: DoseDecision) -> tuple[list[Refusal], list[Refusal]]:
    """The decision's reasons against giving: (overridable holds, reasons never overridden)."""
    holds: list[Refusal] = []
    never: list[Refusal] = []
    if decision.action is Action.GIVE:
        return holds, never
    for reason in decision.reasons:
        words = (
            f"{reason.finding} (threshold: {reason.threshold}): "
            f"the before-dose decision is {_words(reason.action)}"
        )
        if reason.action is Action.HOLD and reason.rule not in NEVER_OVERRIDDEN:
            holds.append(Refusal(reason.rule, words, overridable=True))
        else:
            never.append(Refusal(reason.rule, words))
    return holds, never


def _overridden(
    services: Services, actor: Actor, submission: DoseSubmission, holds: Sequence[Refusal]
) -> tuple[str, ...]:
    """The hold reasons this submission overrides; refused unless a physician covers them all."""
    requested = tuple(submission.overrides)
    if not holds:
        if requested:
            raise InvalidInputError(
                field="overrides",
                value=list(requested),
                allowed="no override: the before-dose decision holds nothing",
            )
        return ()
    codes = [hold.code for hold in holds]
    if not may(services, actor, "dose.override"):
        raise RefusedError(
            [
                Refusal(
                    h.code,
                    f"{h.message}; only a physician may give it, with a reason",
                    overridable=True,
                )
                for h in holds
            ]
        )
    if not requested:
        text(
            submission.override_reason,
            "override_reason",
            limit=limits.MAX_FREE_TEXT,
            multiline=True,
        )
        requested = tuple(codes)
    unknown = [code for code in requested if code not in codes]
    if unknown:
        raise InvalidInputError(
            field="overrides",
            value=unknown,
            allowed="reasons the decision holds this dose for: " + ", ".join(codes),
        )
    uncovered = [hold for hold in holds if hold.code not in requested]
    if uncovered:
        raise RefusedError(uncovered)
    text(
        submission.override_reason,
        "override_reason",
        limit=limits.MAX_FREE_TEXT,
        multiline=True,
    )
    return requested


def _check_verifier(
    services: Services, actor: Actor, submission: DoseSubmission, verify: Verifier
) -> str:
    """The second person's username, once they signed with their password and may verify."""
    name = str(text(submission.verified_by, "verified_by", limit=limits.MAX_USERNAME))
    if name == actor.username:
        raise InvalidInputError(
            field="verified_by", value=name, allowed="a second user, not the one recording"
        )
    account = verify(name, submission.verifier_password)
    if account is None:
        raise InvalidInputError(
            field="verified_by",
            value=name,
            allowed="another active user signing with their own password",
        )
    require_verifier(services, account, name)
    return name


_CLOSED = {SlotStatus.DISCONTINUED: "discontinued", SlotStatus.CYCLE_STOPPED: "cycle-stopped"}
"""Slot statuses after which nothing but a stop may be recorded, with their refusal codes."""


def _state_document(state: SlotState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "message": state.message,
        "due_from": state.due_from.isoformat() if state.due_from else None,
    }


def dose_fields(
    services: Services,
    actor: Actor,
    course: CourseRecord,
    submission: DoseSubmission,
    *,
    courses: Mapping[int, CourseRecord],
    ledger: Sequence[PatientLedgerLine],
    verify: Verifier,
    open_holds: Sequence[str] = (),
) -> dict[str, Any]:
    """The ledger entry `record_dose` keeps for a submission, all but the course id.

    `courses` and `ledger` are the patient's courses and whole ledger; `verify` authenticates
    the second person. Raises RefusedError (each reason) for a dose that must not be recorded
    so; writes nothing.
    """
    now = services.clock()
    slot = dose_slot(services, course, submission.cycle, submission.dose_number)
    lines = timeline_lines(services, courses, ledger)
    at = submission.given_at or now
    document = _dose_document(course, lines, submission, at, open_holds)
    regimen, decision = assess_before_dose(services.rules, document)
    outcome = submission.outcome or _OUTCOME_FOR[decision.action]
    state = slot_state(slot, lines, policy=services.rules.timeline, now=now)
    if outcome is not DoseOutcome.STOPPED:
        if state.status in _CLOSED:  # decisive: said before anything the assessment lacks
            code = _CLOSED[state.status]
            raise RefusedError([Refusal(code, f"{state.message}; nothing was recorded")])
        if decision.action is Action.INCOMPLETE:
            raise RefusedError([Refusal(
                "assessment-incomplete",
                "the assessment is incomplete: enter what the decision asks to obtain, then "
                "record the dose (nothing was recorded; the dose is still open)",
            )])  # fmt: skip
        if state.status is SlotStatus.NOT_DUE:
            raise RefusedError([Refusal("not-due", f"{state.message}; nothing was recorded")])
    given = outcome is DoseOutcome.GIVEN
    overridden: tuple[str, ...] = ()
    verifier: str | None = None
    assessed_at = submission.assessed_at or now
    if given:
        if submission.given_at is None:
            raise InvalidInputError(
                field="given_at", value=None, allowed="the date-time the dose was given"
            )
        holds, never = engine_reasons(decision)
        refused = [
            *given_refusals(
                slot,
                lines,
                given_at=submission.given_at,
                assessed_at=assessed_at,
                now=now,
                policy=services.rules.timeline,
            ),
            *never,
        ]
        if refused:
            raise RefusedError([*refused, *holds])
        overridden = _overridden(services, actor, submission, holds)
        verifier = _check_verifier(services, actor, submission, verify)
    kept = {
        **bedside_document(regimen, decision),
        "assessed_at": assessed_at.isoformat(),
        "timeline": _state_document(state),
        **({"overridden": list(overridden)} if overridden else {}),
    }
    return {
        "cycle": submission.cycle,
        "dose_number": submission.dose_number,
        "outcome": outcome,
        "assessment": document,
        "decision": kept,
        "decision_action": decision.action.value,
        "rules_version": decision.rules_version,
        "given_at": submission.given_at if given else None,
        "verified_by": verifier,
        "override_reason": submission.override_reason if overridden else None,
        "override_by": actor.username if overridden else None,
        "idempotency_key": submission.idempotency_key,
        "recorded_by": actor.username,
        "at": now,
    }


VERIFIED_PLAN_POLICY = "first_dose_needs_verified_plan"


def needs_verified_plan(services: Services) -> bool:
    """Whether the site records no dose as given before the plan is verified (default off)."""
    setting = next((p for p in services.rules.policies if p.name == VERIFIED_PLAN_POLICY), None)
    return setting is not None and setting.value == "on"


def _verified_before_first_dose(
    services: Services,
    uow: UnitOfWork,
    course: CourseRecord,
    ledger: Sequence[PatientLedgerLine],
) -> None:
    """Refuse the course's first dose given while the site's policy asks for a pharmacist's
    verification of the plan and there is none yet."""
    refuse_unverified_first_dose(
        services, course, ledger, verified=lambda: bool(uow.courses.verifications([course.id]))
    )


def refuse_unverified_first_dose(
    services: Services,
    course: CourseRecord,
    ledger: Sequence[PatientLedgerLine],
    *,
    verified: Callable[[], bool],
) -> None:
    """RefusedError for a course's first given dose while the site's policy asks for a
    pharmacist's verification of the plan and `verified` says there is none (asked last: it
    may read the database). Every write path of doses applies this rule."""
    if not needs_verified_plan(services):
        return
    if any(line.course_id == course.id and line.outcome is DoseOutcome.GIVEN for line in ledger):
        return
    if verified():
        return
    raise RefusedError([Refusal(
        "plan-not-verified",
        f"course {course.number}'s plan is not verified by a pharmacist yet, and this site's "
        f"policy ({VERIFIED_PLAN_POLICY} = on) records no first dose before it; nothing was "
        "recorded: ask the pharmacy to verify the plan, or record the dose as held",
    )])  # fmt: skip


def _patient_timeline(
    uow: UnitOfWork, patient_id: int
) -> tuple[dict[int, CourseRecord], Sequence[PatientLedgerLine]]:
    """The patient's courses, and every dose the patient was given, held or stopped: the
    ledger's; the injections the patient's diary reports taken at home (so the interval, the
    counts and every check that reads the timeline see them too); and the infusion stops that
    close a cycle or the drug (read as a stopped line with their decision). The diary and the
    infusion events are read only for patients with such a course."""
    courses = {c.id: c for c in uow.courses.for_patient(patient_id)}
    lines = [*uow.doses.lines_for_patient(patient_id)]
    if any(self_injected(c) for c in courses.values()):
        lines += _diary_lines(uow, courses)
    if any(infused(c) for c in courses.values()):
        lines += infusion_stops(uow, patient_id)
    return courses, lines


def _diary_lines(uow: UnitOfWork, courses: Mapping[int, CourseRecord]) -> list[PatientLedgerLine]:
    """Injections reported taken in each course's diary (its current entries), as given doses."""
    lines = []
    for course_id, course in courses.items():
        if not self_injected(course):
            continue
        for (cycle, number), entry in current_entries(uow.diary.for_course(course_id)).items():
            taken_at = entry.report.taken_at
            if entry.report.status is Taken.TAKEN and taken_at is not None:
                lines.append(PatientLedgerLine(
                    course_id, cycle, number, DoseOutcome.GIVEN, Action.GIVE.value, taken_at,
                    recorded_at=entry.recorded_at,
                ))  # fmt: skip
    return lines


def _reported_in_diary(
    services: Services, uow: UnitOfWork, course: CourseRecord, cycle: int, number: int
) -> None:
    """Refuse a ledger record for an injection the diary already reports, taken or missed."""
    if not self_injected(course):
        return
    entry = current_entries(uow.diary.for_course(course.id)).get((cycle, number))
    if entry is None:
        return
    when = entry.report.taken_at
    zone = services.rules.site.time_zone
    said = (
        f"taken {when.astimezone(zone):%a %d %b %Y %H:%M %Z}".strip()
        if when is not None
        else entry.report.status.value
    )
    raise ConflictError(
        f"injection {cycle}.{number} of course {course.id} is already reported in the patient's "
        f"diary ({said}, entered by {entry.recorded_by}): nothing was recorded; correct the "
        "diary entry if it is wrong"
    )


def infused(course: CourseRecord) -> bool:
    """Whether the course's plan gives aldesleukin by continuous infusion (its days can be
    paused, resumed and stopped while they run)."""
    return course.plan.get("route") == "continuous_infusion"


def infusion_stops(uow: UnitOfWork, patient_id: int) -> list[PatientLedgerLine]:
    """The patient's infusion stops whose decision stops the cycle or discontinues, as lines
    of the ledger (services/infusions.py records them)."""
    return [
        PatientLedgerLine(
            e.course_id,
            e.cycle,
            e.dose_number,
            DoseOutcome.STOPPED,
            e.decision_action,
            None,
            e.recorded_at,
        )
        for e in uow.infusions.stops_for_patient(patient_id)
        if e.decision_action in (DISCONTINUE, STOP_CYCLE)
    ]


def closed_by_infusion_stops(
    uow: UnitOfWork, courses: Iterable[CourseRecord]
) -> tuple[set[int], set[tuple[int, int]]]:
    """For lists of doses due: the patients an infusion stop discontinued, and the (course,
    cycle) pairs one stopped, read only for patients with an infusion course."""
    patients = {c.patient_id for c in courses if infused(c)}
    discontinued: set[int] = set()
    stopped: set[tuple[int, int]] = set()
    for patient_id in patients:
        for line in infusion_stops(uow, patient_id):
            if line.decision_action == DISCONTINUE:
                discontinued.add(patient_id)
            stopped.add((line.course_id, line.cycle))
    return discontinued, stopped


def _open_holds(
    uow: UnitOfWork, course: CourseRecord, submission: DoseSubmission
) -> tuple[str, ...]:
    """The holds the ledger says are still open before the submission's slot: a held last
    dose's, or those of the pause a day's infusion (the last dose, given) was left in."""
    records = uow.doses.for_course(course.id)
    earlier = [
        (
            r.cycle,
            r.dose_number,
            r.outcome.value,
            r.decision if isinstance(r.decision, Mapping) else {},
        )
        for r in records
    ]
    held = holds_still_open(earlier, submission.cycle, submission.dose_number)
    slot = (submission.cycle, submission.dose_number)
    before = [r for r in records if (r.cycle, r.dose_number) < slot]
    last = max(before, key=lambda r: (r.cycle, r.dose_number), default=None)
    if last is None or last.outcome is not DoseOutcome.GIVEN or not infused(course):
        return held
    paused = pause_holds(uow.infusions.for_dose(course.id, last.cycle, last.dose_number))
    return tuple(sorted({*held, *paused}))


def pause_holds(kept: Sequence[InfusionEventRecord]) -> list[str]:
    """The resume keys of the pause a day's infusion stands in (none unless its last event in
    force is a pause decided on an assessment): the holds a resume, or the next day's
    infusion, must see end."""
    events = in_force(
        tuple(
            InfusionEvent(
                e.seq, EventKind(e.kind), e.event_at, e.decision_action, e.reason, e.corrects
            )
            for e in kept
        )
    )
    if not events or events[-1].kind is not EventKind.PAUSE:
        return []
    pause = next(e for e in kept if e.seq == events[-1].seq)
    reasons = (pause.decision or {}).get("reasons")
    keys = {r.get("resume_key") for r in reasons or () if isinstance(r, Mapping)}
    return sorted(k for k in keys if isinstance(k, str) and k)


def preview_dose(
    services: Services, actor: Actor, course_id: int, submission: DoseSubmission
) -> dict[str, Any]:
    """The decision a submission would get, with nothing saved (the ledger is read, and audited).

    Besides the bedside decision, `timeline` says where the slot stands now (due, not due until
    when, window passed, cycle stopped, discontinued), as recording it would find.
    """
    require(services, actor, "dose.record")
    with services.uow() as uow:
        course = _course_or_404(uow, course_id)
        courses, ledger = _patient_timeline(uow, course.patient_id)
        open_holds = _open_holds(uow, course, submission)
        audit(
            uow,
            services,
            actor,
            action="preview_dose",
            entity="course",
            entity_id=course_id,
            patient_id=course.patient_id,
        )
        uow.commit()
    now = services.clock()
    slot = dose_slot(services, course, submission.cycle, submission.dose_number)
    lines = timeline_lines(services, courses, ledger)
    document = _dose_document(course, lines, submission, submission.given_at or now, open_holds)
    regimen, decision = assess_before_dose(services.rules, document)
    state = slot_state(slot, lines, policy=services.rules.timeline, now=now)
    holds, never = engine_reasons(decision)
    refused = list(never)
    if state.status is not SlotStatus.DUE:
        refused.insert(0, Refusal(state.status.value.replace("_", "-"), state.message))
    return {
        **bedside_document(regimen, decision),
        "timeline": {
            **_state_document(state),
            "due_at": slot.due_at.isoformat(),
            "never_overridden": [plain_refusal(r) for r in refused],
            "overridable": [plain_refusal(r) for r in holds],
        },
    }


def plain_refusal(refusal: Refusal) -> dict[str, Any]:
    """A refusal reason as JSON-ready data."""
    return {"code": refusal.code, "message": refusal.message, "overridable": refusal.overridable}


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


def _verifier(uow: UnitOfWork, check: PasswordCheck) -> Verifier:
    """Authenticate a second person against the accounts in `uow`."""

    def verify(username: str, password: object) -> User | None:
        account = uow.users.by_username(username)
        return account if check(account, password) else None

    return verify


def _first_submitted(
    uow: UnitOfWork, actor: Actor, course_id: int, submission: DoseSubmission
) -> DoseRecord | None:
    """The dose this actor already recorded with the submission's idempotency key (a retry)."""
    if not submission.idempotency_key:
        return None
    return uow.doses.by_idempotency_key(
        submission.idempotency_key, course_id=course_id, recorded_by=actor.username
    )


def record_dose(
    services: Services,
    actor: Actor,
    course_id: int,
    submission: DoseSubmission,
    *,
    password_check: PasswordCheck = password_matches,
    patient_id: int | None = None,
) -> DoseResult:
    """Assess a scheduled dose on the patient's timeline and record what was done.

    `password_check` checks the second person's password (default: argon2, every time).
    `patient_id`, when the caller names the patient (a page's path), must be the course's:
    otherwise NotFoundError, and nothing is recorded.
    """
    require(services, actor, "dose.record")
    with services.uow() as uow:
        course = _course_or_404(uow, course_id)
        if patient_id is not None and course.patient_id != patient_id:
            raise NotFoundError(kind="course of this patient", key=str(course_id))
        first = _first_submitted(uow, actor, course_id, submission)
        if first is not None:
            return DoseResult(first, created=False)
    with (
        refusals_audited(
            services,
            actor,
            action="record_dose",
            entity="course",
            entity_id=course_id,
            patient_id=course.patient_id,
        ),
        services.uow() as uow,
    ):
        uow.patients.lock(course.patient_id)
        _reported_in_diary(services, uow, course, submission.cycle, submission.dose_number)
        courses, ledger = _patient_timeline(uow, course.patient_id)
        slot = (course_id, submission.cycle, submission.dose_number)
        if any((line.course_id, line.cycle, line.dose_number) == slot for line in ledger):
            raise ConflictError(
                f"dose {submission.cycle}.{submission.dose_number} of course {course_id} "
                "is already recorded",
                existing=uow.doses.by_slot(*slot),
            )
        if submission.outcome is DoseOutcome.GIVEN:  # said before the assessment's checks
            _verified_before_first_dose(services, uow, course, ledger)
        fields = dose_fields(
            services,
            actor,
            course,
            submission,
            courses=courses,
            ledger=ledger,
            verify=_verifier(uow, password_check),
            open_holds=_open_holds(uow, course, submission),
        )
        if fields["outcome"] is DoseOutcome.GIVEN:
            _verified_before_first_dose(services, uow, course, ledger)
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
    services: Services,
    actor: Actor,
    course_id: int,
    submission: DoseSubmission,
    **options: Unpack[DoseOptions],
) -> DoseResult:
    """Record a dose (`options` as record_dose takes them); when a concurrent submission won
    the race, answer with its record.

    A retry with the same idempotency key gets the first result back; any other second
    submission of the same slot is a ConflictError carrying the record that was there first.
    """
    try:
        result = record_dose(services, actor, course_id, submission, **options)
    except ConflictError as clash:
        with services.uow() as uow:
            first = _first_submitted(uow, actor, course_id, submission)
            if first is not None:
                _audit_shown(uow, services, actor, first, action=REPLAY_READ)
                return DoseResult(first, created=False)
            existing = uow.doses.by_slot(course_id, submission.cycle, submission.dose_number)
            shown = existing if existing is not None else clash.existing
            if isinstance(shown, DoseRecord):
                _audit_shown(uow, services, actor, shown, action=CONFLICT_READ)
        raise ConflictError(str(clash), existing=shown) from None
    if not result.created:
        with services.uow() as uow:
            _audit_shown(uow, services, actor, result.record, action=REPLAY_READ)
    return result


REPLAY_READ = "read_dose_replay"
"""The audit action of a retry answered with the first record (the whole record is shown)."""

CONFLICT_READ = "read_dose_conflict"
"""The audit action of a second submission answered 409 with the first record in `existing`."""


def _audit_shown(
    uow: UnitOfWork, services: Services, actor: Actor, record: DoseRecord, *, action: str
) -> None:
    """Audit, and commit, that `actor` was shown `record` in an answer (a replay or a 409)."""
    course = uow.courses.get(record.course_id)
    audit(
        uow,
        services,
        actor,
        action=action,
        entity="dose",
        entity_id=record.id,
        patient_id=course.patient_id if course is not None else None,
    )
    uow.commit()


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


def ledger(
    services: Services, actor: Actor, course_id: int
) -> tuple[CourseRecord, Sequence[DoseRecord]]:
    """A course and its dose ledger."""
    require(services, actor, "patient.read")
    return _read_course(services, actor, course_id, action="read")


RECHECK = "recheck"
"""The clinical entry kind of a before-dose assessment kept without recording the dose."""


def record_recheck(
    services: Services,
    actor: Actor,
    course_id: int,
    submission: DoseSubmission,
    *,
    patient_id: int | None = None,
    corrects: tuple[int, str] | None = None,
) -> ClinicalEntry:
    """Keep a new assessment for a dose slot (after a fluid bolus, say) without using the slot.

    The assessment and the decision it gets are kept as a clinical entry (audited, shown in the
    flowsheet); no dose is recorded, so the slot can still be given, held or stopped and the
    timeline is unchanged. A slot already recorded takes no recheck. `corrects` (the recheck's
    id and the reason) keeps this one as a correction of an earlier recheck of the slot
    (correct_recheck), which a recorded slot still takes: it corrects what was read then.
    """
    decision = preview_dose(services, actor, course_id, submission)
    with services.uow() as uow:
        course = _course_or_404(uow, course_id)
        recorded = uow.doses.by_slot(course_id, submission.cycle, submission.dose_number)
    if patient_id is not None and course.patient_id != patient_id:
        raise NotFoundError(kind="course of this patient", key=str(course_id))
    slot = f"{submission.cycle}.{submission.dose_number}"
    if recorded is not None and corrects is None:
        raise RefusedError([Refusal(
            "slot-recorded", f"dose {slot} is already recorded: a recheck is for an open dose",
        )])  # fmt: skip
    assessed_at = submission.assessed_at or services.clock()
    zone = services.rules.site.time_zone
    document = {
        "cycle": submission.cycle,
        "dose_number": submission.dose_number,
        "assessed_at": assessed_at.isoformat(),
        "assessment": dict(submission.assessment),
        "decision": decision,
    }
    return add_entry(
        services,
        actor,
        course.patient_id,
        kind=RECHECK,
        course_id=course_id,
        observed_on=assessed_at.astimezone(zone).date(),
        content=document,
        summary=f"recheck before dose {slot}: {decision['decision'].replace('_', ' ')}"
        + (f" (correction of entry {corrects[0]}: {corrects[1]})" if corrects else ""),
        corrects_id=corrects[0] if corrects else None,
        reason=corrects[1] if corrects else None,
    )


def correct_recheck(
    services: Services,
    actor: Actor,
    patient_id: int,
    entry_id: int,
    *,
    assessment: object,
    reason: object,
    assessed_at: datetime | None = None,
) -> ClinicalEntry:
    """Correct a bedside recheck: a new recheck of the same dose slot, decided again from the
    corrected assessment and pointing at the old one, which is kept (shown as corrected).

    Needs `entry.correct` and `dose.record`; a reason is required; a recheck already corrected
    is refused (correct the newest instead). `assessed_at` defaults to the old one's time.
    """
    require(services, actor, "entry.correct")
    with refusals_audited(
        services, actor, action="correct", entity="entry", entity_id=entry_id, patient_id=patient_id
    ):
        why = text(reason, "reason", limit=limits.MAX_FREE_TEXT, multiline=True)
        if not why:
            raise InvalidInputError(
                field="reason", value=reason, allowed="why the recheck is corrected"
            )
        with services.uow() as uow:
            old = uow.entries.get(entry_id)
        if (
            old is None
            or old.patient_id != patient_id
            or old.kind != RECHECK
            or old.course_id is None
        ):
            raise NotFoundError(kind="recheck of this patient", key=str(entry_id))
        if not isinstance(assessment, Mapping):
            raise InvalidInputError(
                field="content", value=assessment, allowed="the corrected before-dose assessment"
            )
        submission = DoseSubmission(
            cycle=int(old.content["cycle"]),
            dose_number=int(old.content["dose_number"]),
            assessment=dict(assessment),
            assessed_at=assessed_at or datetime.fromisoformat(old.content["assessed_at"]),
        )
        return record_recheck(
            services,
            actor,
            old.course_id,
            submission,
            patient_id=patient_id,
            corrects=(entry_id, why),
        )


def correct_any_entry(
    services: Services,
    actor: Actor,
    patient_id: int,
    entry_id: int,
    **correction: Unpack[Correction],
) -> ClinicalEntry:
    """Correct an entry of any kind: a recheck (its content the corrected assessment) as
    correct_recheck does, any other kind as clinical.correct_entry does."""
    require(services, actor, "entry.correct")
    with services.uow() as uow:
        old = uow.entries.get(entry_id)
    if old is not None and old.patient_id == patient_id and old.kind == RECHECK:
        return correct_recheck(
            services,
            actor,
            patient_id,
            entry_id,
            assessment=correction["content"],
            reason=correction["reason"],
        )
    return correct_entry(services, actor, patient_id, entry_id, **correction)


def hold_rules(decision: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The hold rules a kept decision names, and whether every one may be overridden."""
    reasons = [r for r in decision.get("reasons", ()) if isinstance(r, Mapping)]
    held = [r for r in reasons if r.get("action") == "hold"]
    rules = tuple(sorted({str(r.get("rule")) for r in held}))
    others = [r for r in reasons if r.get("action") not in ("hold", None)]
    overridable = bool(rules) and not others and not set(rules) & NEVER_OVERRIDDEN
    return rules, overridable


def engine_holds_overridably(
    services: Services,
    actor: Actor,
    course: CourseRecord,
    submission: DoseSubmission,
    *,
    courses: Mapping[int, CourseRecord],
    ledger: Sequence[PatientLedgerLine],
    open_holds: Sequence[str] = (),
) -> bool:
    """Whether the before-dose engine holds `submission` on this ledger for reasons a physician
    may override, and for nothing else (dose_fields as the engine decides; nothing recorded)."""
    try:
        fields = dose_fields(
            services,
            actor,
            course,
            replace(submission, outcome=DoseOutcome.HELD),  # asks the engine, checks no signer
            courses=courses,
            ledger=ledger,
            verify=lambda _name, _password: None,
            open_holds=open_holds,
        )
    except RefusedError:
        return False
    return fields["decision_action"] == "hold" and hold_rules(fields["decision"])[1]
