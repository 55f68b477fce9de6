"""The pharmacist's day: doses to prepare in the next 24 hours, plan verification, vial use.

Every product figure (vial content, reconstitution, diluent, concentration window, stability)
comes from the plan kept with the course, which the plan engine computed from the product's
rule table (rules/data/product.toml), or from that table itself; none is written here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError
from il2.domain.records import Actor, CourseRecord, DoseOutcome, DoseRecord, PlanVerification
from il2.domain.worklist import slots
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.diary import reported_slots
from il2.services.doses import closed_by_infusion_stops
from il2.services.permissions import require
from il2.services.ports import UnitOfWork

HORIZON = timedelta(hours=24)
LOOKBACK_DAYS = 60  # a course's doses all fall within its first 20 days (days 1-5, 15-19)
MAX_VIAL_USE_DAYS = 366

_STOPPING = frozenset({"stop_cycle", "discontinue"})


@dataclass(frozen=True, slots=True)
class Preparation:
    """One dose to prepare: whose, when, how much, and how (figures from the course's plan)."""

    patient_id: int
    patient: str
    mrn: str
    course_id: int
    course_number: int
    cycle: int
    dose_number: int
    due_at: datetime
    dose_iu: int
    dose_mg: str
    drug_ml: str
    vials: int
    reconstitution_ml: str
    reconstitution_diluent: str
    diluent: str | None
    diluent_ml: int | None
    concentration_ug_per_ml: str | None
    concentration_in_window: bool | None
    concentration_window: str
    prepare_from: datetime
    verified: PlanVerification | None
    route: str = "iv_bolus"
    preparation_note: str = ""


@dataclass(frozen=True, slots=True)
class PreparationList:
    """The doses due in the window, and the product's handling notes printed with them."""

    start: datetime
    end: datetime
    doses: tuple[Preparation, ...]
    stability_h: int
    notes: tuple[str, ...]
    source: str

    @property
    def vials(self) -> int:
        """Vials for every dose on the list (each dose opens its own)."""
        return sum(d.vials for d in self.doses)

    @property
    def unverified(self) -> int:
        """Doses whose course's plan no pharmacist has verified yet."""
        return sum(1 for d in self.doses if d.verified is None)


def _stopped(course: CourseRecord, ledger: Sequence[DoseRecord]) -> tuple[bool, set[int]]:
    """Whether the course is discontinued, and which of its cycles were stopped."""
    discontinued = any(r.decision_action == "discontinue" for r in ledger)
    cycles = {
        r.cycle
        for r in ledger
        if r.decision_action in _STOPPING or r.outcome is DoseOutcome.STOPPED
    }
    return discontinued, cycles


def _pending(
    course: CourseRecord, ledger: Sequence[DoseRecord], now: datetime, since: datetime
) -> list[tuple[int, int, datetime]]:
    """The course's unrecorded doses due from `since` to `now` + 24 h, in a cycle still going."""
    discontinued, stopped = _stopped(course, ledger)
    if discontinued:
        return []
    return [
        (s.cycle, s.dose_number, s.due_at)
        for s in slots(course, ledger, now)
        if s.status in ("due", "overdue")
        and s.cycle not in stopped
        and since <= s.due_at < now + HORIZON
    ]


def preparation_list(services: Services, actor: Actor) -> PreparationList:
    """The doses of running courses due in the next 24 hours, each with its preparation.

    A dose still unrecorded within the site's late window (a dose given late) stays on the
    list; a stopped cycle or a discontinued course has nothing left to prepare. The read is
    audited, naming every patient shown.
    """
    require(services, actor, "pharmacy.read")
    require(services, actor, "patient.read")
    now = services.clock()
    since = now - services.rules.timeline.window_late
    product = services.rules.product
    with services.uow() as uow:
        courses = uow.courses.starting_between(now - timedelta(days=LOOKBACK_DAYS), now + HORIZON)
        ledgers = uow.doses.for_courses([c.id for c in courses], decisions=False)
        reported = reported_slots(uow, courses)
        ended, stopped = closed_by_infusion_stops(uow, courses)
        due = {
            c.id: [
                (cycle, number, at)
                for cycle, number, at in _pending(c, ledgers.get(c.id, ()), now, since)
                if (c.id, cycle, number) not in reported
                and (c.id, cycle) not in stopped
                and c.patient_id not in ended
            ]
            for c in courses
        }
        running = [c for c in courses if due[c.id]]
        patients = {c.patient_id: uow.patients.get(c.patient_id) for c in running}
        verified = uow.courses.verifications([c.id for c in running])
        audit(
            uow,
            services,
            actor,
            action="read_preparation_list",
            entity="pharmacy",
            entity_id=0,
            patient_id=None,
            after={"patients": sorted(patients)},
        )
        uow.commit()
    window = f"{product.concentration_min_ug_per_ml}-{product.concentration_max_ug_per_ml} ug/mL"
    rows = []
    for course in running:
        plan = course.plan
        patient = patients[course.patient_id]
        diluted = plan.get("diluent_ml") is not None
        for cycle, number, due_at in due[course.id]:
            dose = _planned(plan, cycle, number)
            rows.append(
                Preparation(
                    patient_id=course.patient_id,
                    patient=patient.name if patient else f"patient {course.patient_id}",
                    mrn=patient.mrn if patient else "",
                    course_id=course.id,
                    course_number=course.number,
                    cycle=cycle,
                    dose_number=number,
                    due_at=due_at,
                    dose_iu=int(dose.get("dose_iu", plan["dose_iu"])),
                    dose_mg=str(dose.get("dose_mg", plan["dose_mg"])),
                    drug_ml=str(_drug_ml(plan, dose)),
                    vials=int(dose.get("vials", plan["vials_per_dose"])),
                    reconstitution_ml=str(product.reconstitution_ml),
                    reconstitution_diluent=product.reconstitution_diluent,
                    diluent=str(plan["diluent"]) if diluted else None,
                    diluent_ml=int(plan["diluent_ml"]) if diluted else None,
                    concentration_ug_per_ml=str(plan["concentration_ug_per_ml"])
                    if diluted
                    else None,
                    concentration_in_window=bool(plan["concentration_in_window"])
                    if diluted
                    else None,
                    concentration_window=window,
                    route=str(plan.get("route", "iv_bolus")),
                    preparation_note=str((plan.get("preparation") or {}).get("note", "")),
                    prepare_from=due_at
                    + timedelta(minutes=_infusion_min(services, course))
                    - timedelta(hours=product.stability_h),
                    verified=verified.get(course.id),
                )
            )
    return PreparationList(
        start=since,
        end=now + HORIZON,
        doses=tuple(sorted(rows, key=lambda r: (r.due_at, r.patient))),
        stability_h=product.stability_h,
        notes=product.preparation_notes,
        source=f"{product.version}: {product.source} {product.preparation_source}",
    )


def _planned(plan: Mapping[str, Any], cycle: int, number: int) -> Mapping[str, Any]:
    """The planned dose `cycle`.`number` (a stepped regimen's doses differ), else {}."""
    for planned in plan.get("cycles", []):
        if planned.get("cycle") == cycle:
            return next((d for d in planned.get("doses", []) if d.get("number") == number), {})
    return {}


def _drug_ml(plan: Mapping[str, Any], dose: Mapping[str, Any]) -> object:
    """The reconstituted drug a dose draws: its step's, else the plan's."""
    steps = {d.get("step"): d for d in plan.get("aldesleukin_doses", [])}
    step = steps.get(dose.get("step"))
    return (
        step.get("reconstituted_ml", plan["reconstituted_ml"]) if step else plan["reconstituted_ml"]
    )


def _infusion_min(services: Services, course: CourseRecord) -> int:
    """The regimen's infusion time (the bag must be used up by its end within stability)."""
    regimen = services.rules.regimens.get(course.regimen_id)
    return regimen.infusion_min if regimen is not None else 0


def verify_plan(services: Services, actor: Actor, course_id: int) -> PlanVerification:
    """Record that a pharmacist verified the course's plan (who and when), audited.

    A plan is verified once; a second verification is refused as a conflict. Verification
    does not gate the doses (the label sets no such step) unless the site's policy
    first_dose_needs_verified_plan is on: then no dose of the course is given before it.
    """
    require(services, actor, "course.verify")
    with services.uow() as uow:
        course = _course_or_refuse(uow, course_id)
        if uow.courses.verifications([course.id]):
            raise ConflictError(f"course {course.id}'s plan is already verified")
        done = uow.courses.verify(course.id, by=actor.username, at=services.clock())
        audit(
            uow,
            services,
            actor,
            action="verify_plan",
            entity="course",
            entity_id=course.id,
            patient_id=course.patient_id,
            after=done,
        )
        uow.commit()
    return done


def _course_or_refuse(uow: UnitOfWork, course_id: int) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None:
        raise NotFoundError(kind="course", key=str(course_id))
    return course


def plan_verification(services: Services, actor: Actor, course_id: int) -> PlanVerification | None:
    """The course's plan verification, if any (the course page reads it with the course)."""
    require(services, actor, "patient.read")
    with services.uow() as uow:
        return uow.courses.verifications([course_id]).get(course_id)


@dataclass(frozen=True, slots=True)
class VialUse:
    """Vials opened for the doses given over a period: by day and by course."""

    start: date
    end: date
    by_day: tuple[tuple[date, int, int], ...]  # day, doses given, vials
    by_course: tuple[tuple[int, str, int, int, int], ...]  # course, patient, number, doses, vials

    @property
    def vials(self) -> int:
        """Every vial of the period."""
        return sum(v for _, _, v in self.by_day)

    @property
    def doses(self) -> int:
        """Every dose given in the period."""
        return sum(n for _, n, _ in self.by_day)


def vial_use(services: Services, actor: Actor, *, start: date, end: date) -> VialUse:
    """Vials used for the doses the ledger records as given from `start` to `end` (days in the
    site's time zone, both included), each dose counted with its plan's vials per dose."""
    require(services, actor, "pharmacy.read")
    require(services, actor, "patient.read")
    if end < start or (end - start).days >= MAX_VIAL_USE_DAYS:
        raise InvalidInputError(
            field="end",
            value=end.isoformat(),
            allowed=f"a day from {start.isoformat()} up to {MAX_VIAL_USE_DAYS} days later",
        )
    zone = services.rules.site.time_zone
    first = datetime.combine(start, datetime.min.time(), zone)
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    days: Counter[date] = Counter()
    vials_by_day: Counter[date] = Counter()
    per_course: dict[int, list[int]] = {}
    with services.uow() as uow:
        courses = uow.courses.starting_between(first - timedelta(days=LOOKBACK_DAYS), last)
        ledgers = uow.doses.for_courses([c.id for c in courses], decisions=False)
        for course in courses:
            per_dose = int(course.plan.get("vials_per_dose", 0))
            for record in ledgers.get(course.id, ()):
                moment = record.given_at
                if record.outcome is not DoseOutcome.GIVEN or moment is None:
                    continue
                if not first <= moment < last:
                    continue
                day = moment.astimezone(zone).date()
                days[day] += 1
                vials_by_day[day] += per_dose
                tally = per_course.setdefault(course.id, [0, 0])
                tally[0] += 1
                tally[1] += per_dose
        named = {c.id: c for c in courses if c.id in per_course}
        patients = {c.patient_id: uow.patients.get(c.patient_id) for c in named.values()}
        audit(
            uow,
            services,
            actor,
            action="read_vial_use",
            entity="pharmacy",
            entity_id=0,
            patient_id=None,
            after={"patients": sorted(patients), "start": start, "end": end},
        )
        uow.commit()
    rows = []
    for course_id, (doses, vials) in sorted(per_course.items()):
        course = named[course_id]
        patient = patients.get(course.patient_id)
        rows.append(
            (
                course_id,
                patient.name if patient else f"patient {course.patient_id}",
                course.number,
                doses,
                vials,
            )
        )
    return VialUse(
        start,
        end,
        tuple((d, days[d], vials_by_day[d]) for d in sorted(days)),
        tuple(rows),
    )
