"""A synthetic IL-2 program: every record valid and audited, as the services keep it.

One simulation drives a writer: the audited services, record by record (ServiceWriter, the
default), or, for large programs, the bulk writer (services/bulk.py), which keeps the same
records and audit entries in batches.

Nothing here is a clinical threshold: the bedside engine decides every dose from simulated
vitals and labs, the grading engine grades toxicities, RECIST computes every response from
simulated lesion measurements. What is simulated (referrals' work-ups, the ward's readings,
lesions, toxicities, responses and survival) is drawn by il2.science.simulation, with the
proportions it reads from cited data and the tumour's course from the mechanistic model; this
module writes the draws and keeps the calendar.
The same seed always gives the same program.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from il2.domain.bedside import holds_still_open
from il2.domain.checks import LimitCheck
from il2.domain.errors import ConflictError, InvalidInputError, RefusedError, RuleTableError
from il2.domain.records import Actor, DoseOutcome, Json
from il2.domain.regimen import Anchor, Regimen
from il2.domain.worklist import slots
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.simulation import (
    SIMULATED_REGIMEN,
    bedside_assessment,
    death_on,
    demo_overrides,
    lesion_measurements,
    prognostic_findings,
    screening_findings,
    toxicity_findings,
    tumour_course,
)
from il2.services.accounts import RunPasswordCheck, actor_for_username, add_user
from il2.services.clinical import record_follow_up, record_response, record_toxicity
from il2.services.context import Services
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, engine_holds_overridably, submit_dose
from il2.services.patients import create_patient, patient_count, record_screening
from il2.services.studies import create_study, list_studies, record_assignment

CYCLES_PER_YEAR = 65
SBRT_ARM = "sbrt-il2"  # the demo study's arm whose first course follows SBRT (DEMO_STUDY)
SBRT_REGIMEN = "sbrt-hd"
# Measured on the simulation over 10 years: the share treated and the courses each receives.
CYCLES_PER_REFERRAL = 1.85
DEMO_PASSWORD = "il2-demo-only-password"  # noqa: S105 - printed demo accounts, never for real use
STAFF = {
    "demo-physician": "physician",
    "demo-nurse": "nurse",
    "demo-nurse2": "nurse",
    "demo-coordinator": "coordinator",
    "demo-pharmacist": "pharmacist",
    "demo-researcher": "researcher",
    "demo-administrator": "administrator",
}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What the demo wrote."""

    patients: int
    treated: int
    courses: int
    doses: int


class DemoWriter(Protocol):
    """Where the simulation's records go. Each method takes what its use case takes.

    Patients and courses come back as keys the writer understands (database ids when written
    at once); `end_patient` marks a patient complete and says how many patients are written.
    """

    def patient(self, actor: Actor, document: Json) -> int:
        """Register a patient (create_patient)."""
        ...

    def screening(self, actor: Actor, patient: int, findings: Json) -> str:
        """Screen the patient (record_screening); returns the verdict."""
        ...

    def course(
        self,
        actor: Actor,
        patient: int,
        *,
        regimen: str,
        weight_kg: float,
        first_dose: str,
        events: Sequence[Json] = (),
    ) -> tuple[int, Json]:
        """Plan a course (plan_course, with its outside `events`); returns its key and its plan
        document."""
        ...

    def dose(self, actor: Actor, course: int, submission: DoseSubmission) -> DoseOutcome:
        """Assess and record a dose (submit_dose); returns what was done."""
        ...

    def overridable_hold(self, actor: Actor, course: int, submission: DoseSubmission) -> bool:
        """Whether the before-dose engine would hold this dose for reasons a physician may
        override, and for nothing else (the decision the nurse sees before recording it);
        nothing is recorded."""
        ...

    def toxicity(
        self, actor: Actor, patient: int, *, observed_on: str, course: int, findings: Json
    ) -> None:
        """Grade and keep toxicities (record_toxicity)."""
        ...

    def response(self, actor: Actor, patient: int, *, course: int, measurements: Json) -> None:
        """Assess and keep a response (record_response)."""
        ...

    def follow_up(self, actor: Actor, patient: int, *, observed_on: str, status: str) -> None:
        """Keep a follow-up contact (record_follow_up)."""
        ...

    def end_patient(self) -> int:
        """The patient's records are complete; returns how many patients are written."""
        ...

    def close(self) -> int:
        """Write whatever is pending; returns how many patients are written."""
        ...


class ServiceWriter:
    """Every record through its audited use case, one transaction each (the default)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._patients = 0
        self._passwords = RunPasswordCheck()

    def patient(self, actor: Actor, document: Json) -> int:
        """create_patient."""
        return create_patient(self._services, actor, document).id

    def screening(self, actor: Actor, patient: int, findings: Json) -> str:
        """record_screening."""
        return record_screening(self._services, actor, patient, findings).verdict

    def course(
        self,
        actor: Actor,
        patient: int,
        *,
        regimen: str,
        weight_kg: float,
        first_dose: str,
        events: Sequence[Json] = (),
    ) -> tuple[int, Json]:
        """plan_course."""
        course = plan_course(
            self._services,
            actor,
            patient,
            regimen=regimen,
            weight_kg=weight_kg,
            first_dose=first_dose,
            events=list(events),
        )
        return course.id, course.plan

    def dose(self, actor: Actor, course: int, submission: DoseSubmission) -> DoseOutcome:
        """submit_dose."""
        return submit_dose(
            self._services, actor, course, submission, password_check=self._passwords
        ).record.outcome

    def overridable_hold(self, actor: Actor, course: int, submission: DoseSubmission) -> bool:
        """dose_fields on the patient's ledger as record_dose reads it (the demo's courses keep
        no diary and no infusion), nothing recorded: the simulated nurse's look at the decision,
        which the dose recorded next repeats and audits."""
        with self._services.uow() as uow:
            record = uow.courses.get(course)
            if record is None:
                return False
            courses = {c.id: c for c in uow.courses.for_patient(record.patient_id)}
            ledger = uow.doses.lines_for_patient(record.patient_id)
            earlier = [
                (r.cycle, r.dose_number, r.outcome.value, r.decision)
                for r in uow.doses.for_course(course)
            ]
        return engine_holds_overridably(
            self._services,
            actor,
            record,
            submission,
            courses=courses,
            ledger=ledger,
            open_holds=holds_still_open(earlier, submission.cycle, submission.dose_number),
        )

    def toxicity(
        self, actor: Actor, patient: int, *, observed_on: str, course: int, findings: Json
    ) -> None:
        """record_toxicity."""
        record_toxicity(
            self._services,
            actor,
            patient,
            observed_on=observed_on,
            course_id=course,
            findings=findings,
        )

    def response(self, actor: Actor, patient: int, *, course: int, measurements: Json) -> None:
        """record_response."""
        record_response(self._services, actor, patient, course_id=course, measurements=measurements)

    def follow_up(self, actor: Actor, patient: int, *, observed_on: str, status: str) -> None:
        """record_follow_up."""
        record_follow_up(self._services, actor, patient, observed_on=observed_on, status=status)

    def end_patient(self) -> int:
        """Each record is already written."""
        self._patients += 1
        return self._patients

    def close(self) -> int:
        """Nothing is pending."""
        return self._patients


class SimulatedClock:
    """The moment the demo is "now" while it writes a record."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def add_demo_accounts(services: Services) -> None:
    """Add the demo accounts (STAFF) where they do not exist (password DEMO_PASSWORD, demo only)."""
    for username, role in STAFF.items():
        try:
            add_user(
                services,
                None,
                username=username,
                display_name=username,
                role=role,
                password=DEMO_PASSWORD,
            )
        except ConflictError:
            continue


def ensure_staff(services: Services) -> dict[str, Actor]:
    """The demo accounts (created once; password printed by the command, demo only)."""
    add_demo_accounts(services)
    return {username: actor_for_username(services, username) for username in STAFF}


@dataclass
class _Run:
    services: Services
    writer: DemoWriter
    clock: SimulatedClock
    rng: random.Random
    staff: dict[str, Actor]
    doses: int = 0
    courses: int = 0
    seed: int = 1

    def at(self, moment: datetime) -> None:
        self.clock.now = moment


def _override_rng(run: _Run, cycle: int, number: int) -> random.Random:
    """The draw of whether the physician would override this dose's hold: a generator of its
    own per dose (the run's seed, the course's place in the run, the slot), so `run.rng`'s
    stream stays as it was and either writer, on any database, draws the same."""
    return random.Random(f"{run.seed}-override-{run.courses}-{cycle}-{number}")  # noqa: S311


def _submit(run: _Run, course_id: int, submission: DoseSubmission) -> DoseOutcome:
    """Record a dose as the nurse; or, when the engine would hold it for reasons a physician
    may override and this dose's own draw says so (demo_overrides: share and reasons), as the
    physician giving it against the hold, with a reason."""
    choice = demo_overrides()
    draw = _override_rng(run, submission.cycle, submission.dose_number)
    nurse = run.staff["demo-nurse"]
    if draw.random() < choice.share and run.writer.overridable_hold(nurse, course_id, submission):
        reason = choice.reasons[draw.randrange(len(choice.reasons))]
        given = replace(submission, outcome=DoseOutcome.GIVEN, override_reason=reason)
        return run.writer.dose(run.staff["demo-physician"], course_id, given)
    return run.writer.dose(nurse, course_id, submission)


def _cycle(run: _Run, course_id: int, cycle: dict[str, Any], frailty: float, weight: float) -> bool:
    """Assess and record a cycle's doses at their due times; True if any dose was given."""
    verifier = "demo-nurse2"
    gave = False
    for dose in cycle["doses"]:
        due = datetime.fromisoformat(dose["due_at"])
        run.at(due)
        outcome = _submit(
            run,
            course_id,
            DoseSubmission(
                cycle=cycle["cycle"],
                dose_number=dose["number"],
                assessment=bedside_assessment(run.rng, frailty, dose["number"], weight),
                given_at=due,
                verified_by=verifier,
                verifier_password=DEMO_PASSWORD,
            ),
        )
        run.doses += 1
        gave = gave or outcome is DoseOutcome.GIVEN
        if outcome is DoseOutcome.STOPPED:
            return gave
    return gave


def _toxicities(run: _Run, patient_id: int, course_id: int, on: date, frailty: float) -> None:
    # Recorded on the day observed at the earliest (a toxicity dated in the future is refused).
    run.at(max(run.clock.now, datetime.combine(on, time(18), tzinfo=UTC)))
    findings = toxicity_findings(run.rng, frailty)
    run.writer.toxicity(
        run.staff["demo-nurse"],
        patient_id,
        observed_on=on.isoformat(),
        course=course_id,
        findings={"ctcae_version": "5.0", "findings": findings},
    )


def _course_days(regimen: Regimen) -> int:
    """Days from an interval regimen's first day to a day after its last dose, with a day to
    spare (21 for hd-label: cycles on days 1 and 15, 14 doses 8 h apart)."""
    last_cycle_day = regimen.cycle_start_days[-1] - 1
    return last_cycle_day + math.ceil(regimen.max_doses_per_cycle * regimen.interval_h / 24) + 2


def _sbrt_fractions(rng: random.Random, anchor: Anchor, first_day: date) -> list[Json]:
    """One or two SBRT fractions (20 Gy each: Seung 2012, Curti 2020, 'one or two doses' in
    NCT01416831), the last the anchor's days before the first dose, an earlier one on the day
    before it (the sources do not say how far apart: the demo's choice)."""
    last = first_day - timedelta(days=anchor.min_h // 24)
    count = rng.choice((1, 2))
    return [
        {"kind": anchor.event, "on": (last - timedelta(days=back)).isoformat()}
        for back in reversed(range(count))
    ]


def _course_regimen(arm: str | None, number: int) -> str:
    """The regimen of a patient's course `number`: the SBRT arm's first course on sbrt-hd
    (SBRT comes before the first IL-2 cycle only, and responders go on to further IL-2 alone:
    Seung 2012, Curti 2020), every other on SIMULATED_REGIMEN."""
    return SBRT_REGIMEN if arm == SBRT_ARM and number == 1 else SIMULATED_REGIMEN


def _with_factors(candidate: Json, factors: Json) -> Json:
    """The work-up with the prognostic factors added (labs merged, the rest set)."""
    merged = {**candidate, **factors}
    merged["labs"] = {**candidate.get("labs", {}), **factors.get("labs", {})}
    return merged


def _treat(
    run: _Run,
    patient_id: int,
    *,
    diagnosis: Diagnosis,
    candidate: Json,
    start: date,
    until: date,
    factors: random.Random,
    arm: str | None = None,
) -> date:
    """Give courses while the patient benefits; returns the last date a record was made for.

    The work-up before the first course adds the baseline prognostic factors, drawn from
    `factors` (the patient's own generator)."""
    rng, doctor = run.rng, run.staff["demo-physician"]
    frailty, weight = rng.uniform(0.7, 1.6), round(rng.uniform(55, 110), 1)
    # the mechanistic model's tumour under one hd-label course (the SBRT arm's fractions are not
    # simulated): its RECIST read-out decides further courses, its sizes are the scans'
    tumour = tumour_course(rng, diagnosis, rules=run.services.rules)
    category = tumour.category
    # the baseline prognostic factors, one of them drawn by response (known_dependence): from
    # their own generator, so the run's draws and every other record stay as they were
    candidate = _with_factors(
        candidate,
        prognostic_findings(
            factors,
            diagnosis,
            responder=category in ("CR", "PR"),
            ecog=candidate["ecog"],
            wbc_per_ul=candidate["labs"]["wbc_per_ul"],
        ),
    )
    course_start, baseline_on, last_on = start, start - timedelta(days=7), start
    gave = False
    for number in range(1, 4):
        regimen = run.services.rules.regimens[_course_regimen(arm, number)]
        if course_start + timedelta(days=_course_days(regimen)) >= until:
            return last_on
        run.at(datetime.combine(course_start - timedelta(days=3), time(10), tzinfo=UTC))
        # planning needs a current eligible screening: the work-up is repeated before each course
        if run.writer.screening(doctor, patient_id, candidate) != "eligible":
            return last_on
        zone = run.services.rules.site.time_zone
        first = datetime.combine(course_start, time(8), tzinfo=zone)
        anchor = regimen.anchor
        events = _sbrt_fractions(rng, anchor, course_start) if anchor is not None else []
        try:
            course_id, plan = run.writer.course(
                doctor,
                patient_id,
                regimen=regimen.id,
                weight_kg=weight,
                first_dose=first.isoformat(),
                events=events,
            )
        except RefusedError:  # the records forbid another course (a discontinue, say)
            return last_on
        run.courses += 1
        for cycle in plan["cycles"]:
            # A patient who has never had a dose has no interval to keep from, and the
            # before-dose engine cannot tell that from a missing one after cycle 1: the demo
            # leaves the rest of such a course unrecorded.
            if cycle["cycle"] > 1 and not gave:
                break
            gave = _cycle(run, course_id, cycle, frailty, weight) or gave
        last = datetime.fromisoformat(plan["cycles"][-1]["doses"][-1]["due_at"]).date()
        _toxicities(run, patient_id, course_id, last, frailty)
        scan_on = last + timedelta(weeks=4)
        last_on = max(last_on, last)
        if scan_on + timedelta(weeks=8) >= until:
            return last_on
        last_on = scan_on + timedelta(weeks=8)
        run.at(datetime.combine(last_on, time(12), tzinfo=UTC))
        run.writer.response(
            doctor,
            patient_id,
            course=course_id,
            measurements=lesion_measurements(rng, baseline_on, scan_on, tumour, start),
        )
        if category in ("PD", "SD") or (category == "CR" and number >= 2):
            return last_on
        course_start = scan_on + timedelta(weeks=9)
    return last_on


def _outcome(run: _Run, patient_id: int, died: date, last_on: date, until: date) -> None:
    doctor = run.staff["demo-physician"]
    if died < until:
        run.at(datetime.combine(max(died, last_on), time(12), tzinfo=UTC))
        run.writer.follow_up(
            doctor, patient_id, observed_on=max(died, last_on).isoformat(), status="dead"
        )
    else:
        run.at(datetime.combine(until, time(12), tzinfo=UTC))
        run.writer.follow_up(
            doctor, patient_id, observed_on=until.isoformat(), status="alive_no_progression"
        )


def build_demo(
    services: Services,
    *,
    seed: int = 1,
    years: int = 10,
    until: date,
    patients: int | None = None,
    writer: Callable[[Services], DemoWriter] = ServiceWriter,
    progress: Callable[[int, int], None] | None = None,
    study: bool = True,
) -> DemoSummary:
    """Write `years` of a synthetic program ending at `until`, about 65 cycles a year.

    `patients` sets the number of referrals (default: as many as give 65 cycles a year).
    `writer` makes the writer the records go to (default: the audited services, one
    transaction per record); `progress` hears (patients written, patients) as they are.
    `study`: define the demo's study (DEMO_STUDY) and randomise its patients as they are
    found eligible (DEMO_STUDY_PATIENTS), the SBRT arm's first course planned on sbrt-hd after
    its fractions (add_demo_study records the assignments).
    """
    if years < 1:
        raise InvalidInputError(field="years", value=years, allowed="1 or more years")
    if patients is not None and patients < 1:
        raise InvalidInputError(field="patients", value=patients, allowed="1 or more patients")
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not cryptography
    clock = SimulatedClock(datetime.combine(until, time(0), tzinfo=UTC))
    simulated = replace(services, clock=clock)
    run = _Run(simulated, writer(simulated), clock, rng, {}, seed=seed)
    run.staff = ensure_staff(run.services)
    referrals = patients or round(years * CYCLES_PER_YEAR / CYCLES_PER_REFERRAL)
    start = until - timedelta(days=round(365.25 * years))
    treated = 0
    arms = _study_arms(seed) if study else []
    randomised: list[tuple[int, date, str]] = []
    for index in range(referrals):
        referred = start + timedelta(days=round(index * 365.25 * years / referrals))
        diagnosis = rng.choice(DIAGNOSES)
        age = rng.randint(28, 72)
        run.at(datetime.combine(referred, time(9), tzinfo=UTC))
        patient = run.writer.patient(
            run.staff["demo-coordinator"],
            {
                "mrn": f"DEMO-{seed}-{index + 1:06d}",
                "name": f"Demo Patient {index + 1}",
                "birth_date": date(
                    referred.year - age, rng.randint(1, 12), rng.randint(1, 28)
                ).isoformat(),
                "sex": rng.choice(["female", "male"]),
                "diagnosis": diagnosis,
                "referred_on": referred.isoformat(),
            },
        )
        candidate = screening_findings(rng, diagnosis, age)
        verdict = run.writer.screening(run.staff["demo-physician"], patient, candidate)
        if verdict == "eligible":
            arm = None
            if index >= referrals - DEMO_STUDY_REFERRALS and len(randomised) < len(arms):
                arm = arms[len(randomised)]
                randomised.append((patient, referred, arm))
            first_on = referred + timedelta(days=rng.randint(21, 42))
            if first_on < until - timedelta(days=21):
                treated += 1
                died = death_on(rng, diagnosis, first_on, rng.uniform(0.5, 1.5))
                last_on = _treat(
                    run,
                    patient,
                    diagnosis=diagnosis,
                    candidate=candidate,
                    start=first_on,
                    until=min(until, died),
                    factors=random.Random(f"{seed}-factors-{index + 1}"),  # noqa: S311 - simulation
                    arm=arm,
                )
                _outcome(run, patient, died, last_on, until)
        written = run.writer.end_patient()
        if progress:
            progress(written, referrals)
    written = run.writer.close()
    if progress:
        progress(written, referrals)
    if study:
        run.at(datetime.combine(until, time(17), tzinfo=UTC))
        add_demo_study(run.services, run.staff["demo-coordinator"], randomised)
    return DemoSummary(patients=referrals, treated=treated, courses=run.courses, doses=run.doses)


# The ward today: patients mid-cycle now, with their next dose due within hours.
WARD_MRN_PREFIX = "DEMO-WARD-"
WARD_MRN = WARD_MRN_PREFIX + "{day}-{number}"
WARD_DOSES_GIVEN = (3, 5, 7)  # doses already given, one patient each
# Hours from now to each patient's next dose: 0 is due now (its window open for most of an hour),
# so a nurse signing in after `make run` has a dose to give and the trending patient's to hold.
WARD_NEXT_DUE_HOURS = (0, 3, 0)
WARD_DUE_NOW_STEP_MIN = 5  # a dose due now is due at the last 5 minutes' mark
WARD_TRENDING_RULE = "label-sbp-low"  # the rule the last ward patient is drifting towards
WARD_TRENDING_MARGINS = (22, 16, 11, 7, 5, 4, 3)  # mmHg above the rule's limit, dose by dose


DEMO_STUDY: Json = {
    "name": "SBRT then high-dose IL-2 vs high-dose IL-2 alone",
    "registry_id": "NCT01416831",
    "description": "Stereotactic body radiation therapy (SBRT) followed by high-dose IL-2 vs "
    "high-dose IL-2 alone in metastatic melanoma and renal cell carcinoma: a randomised phase 2 "
    "trial (Curti et al., J Immunother Cancer 2020;8:e000773). Demo assignments only.",
    "arms": [
        {"id": "il2", "name": "HD IL-2 alone", "description": "High-dose IL-2 alone"},
        {
            "id": "sbrt-il2",
            "name": "SBRT then HD IL-2",
            "description": "SBRT to one to three metastases, then high-dose IL-2",
        },
    ],
}
DEMO_STUDY_PATIENTS = 48
"""The demo's study randomises at most this many patients (the trial itself randomised 44)."""
DEMO_STUDY_REFERRALS = 63
"""The study randomises the eligible referrals among the program's last this many referrals,
as each is found eligible (about 77% are: about 48 in all), so that those referred too late to
be treated yet are randomised and stay in their arm."""


def _study_arms(seed: int) -> list[str]:
    """The arms in the order the study randomises its patients: 1:1 in one shuffled block, from
    a generator of its own so the study leaves the program's other draws as they were."""
    block = [arm["id"] for arm in DEMO_STUDY["arms"]] * (DEMO_STUDY_PATIENTS // 2)
    random.Random(f"{seed}-arms").shuffle(block)  # noqa: S311 - a reproducible simulation
    return block


def add_demo_study(
    services: Services, actor: Actor, randomised: Sequence[tuple[int, date, str]]
) -> int:
    """Define DEMO_STUDY (unless a demo written earlier did) and record each randomised
    patient's arm (patient, referral day, arm), on the day after referral, through the audited
    services; returns the study's id. The SBRT arm's patients had their first course planned
    on sbrt-hd, the others on SIMULATED_REGIMEN."""
    kept = [
        s for s in list_studies(services, actor) if s["registry_id"] == DEMO_STUDY["registry_id"]
    ]
    study_id = kept[0]["id"] if kept else create_study(services, actor, DEMO_STUDY).id
    today_on = services.clock().date()
    for patient, referred, arm in randomised:
        on = min(referred + timedelta(days=1), today_on)
        record_assignment(services, actor, study_id, patient, kind="assigned", arm=arm,
                          on=on.isoformat())  # fmt: skip
    return study_id


@dataclass(frozen=True, slots=True)
class WardSummary:
    """The patients on the ward today that the demo wrote, by MRN, and the rule one nears."""

    mrns: tuple[str, ...]
    trending_rule: str


def ward_mrn(day: date, number: int) -> str:
    """The MRN of the demo's ward patient `number` (1-based) admitted for `day`."""
    return WARD_MRN.format(day=day.isoformat(), number=number)


def _trending_limit(services: Services) -> LimitCheck:
    """The limit check of the bedside rule the trending ward patient nears (from the table)."""
    for rule in services.rules.bedside.rules:
        if rule.id == WARD_TRENDING_RULE and isinstance(rule.check, LimitCheck):
            return rule.check
    raise RuleTableError(
        file="bedside.toml",
        field=f"rules.{WARD_TRENDING_RULE}",
        problem="the demo's ward needs this limit rule in force",
    )


def _catch_up_earlier_wards(run: _Run, now: datetime) -> int:
    """Record every dose of an earlier day's ward patient now past due, as the demo would have.

    A demo re-run on a later day (`make run` tomorrow on the same database) must not leave
    yesterday's ward with doses nobody recorded: each slot due before `now` and not in the
    ledger is assessed (quiet readings) and recorded at its due time through the audited
    services, so those patients move on through their course as a ward would. A dose the
    engine stops ends that course's catch-up. Returns how many doses were recorded.
    """
    services = run.services
    with services.uow() as uow:
        found = uow.patients.search(WARD_MRN_PREFIX, limit=patient_count(services) + 1)
        ward = [p.id for p in found if p.mrn.startswith(WARD_MRN_PREFIX)]
        courses = [c for cs in uow.courses.for_patients(ward).values() for c in cs]
        ledgers = uow.doses.for_courses([c.id for c in courses])
    recorded = 0
    for course in courses:
        due = [s for s in slots(course, ledgers.get(course.id, ()), now) if s.status == "overdue"]
        for slot in due:
            run.at(slot.due_at)
            outcome = run.writer.dose(
                run.staff["demo-nurse"],
                course.id,
                DoseSubmission(
                    cycle=slot.cycle,
                    dose_number=slot.dose_number,
                    assessment=bedside_assessment(
                        run.rng, 0.0, slot.dose_number, float(course.weight_kg)
                    ),
                    given_at=slot.due_at,
                    verified_by="demo-nurse2",
                    verifier_password=DEMO_PASSWORD,
                ),
            )
            recorded += 1
            if outcome is DoseOutcome.STOPPED:
                break
    return recorded


def _next_due(services: Services, now: datetime, hours: int) -> datetime:
    """When a ward patient's next dose is due: on the hour `hours` from now, or, for 0, now
    (at the last WARD_DUE_NOW_STEP_MIN minutes' mark, never before the site's late window)."""
    zone = services.rules.site.time_zone
    local = now.astimezone(zone).replace(second=0, microsecond=0)
    if hours:
        return (local + timedelta(hours=hours)).replace(minute=0)
    marked = local.replace(minute=local.minute - local.minute % WARD_DUE_NOW_STEP_MIN)
    return max(marked, now - services.rules.timeline.window_late)


def _eligible_findings(seed: int, diagnosis: Diagnosis, age: int) -> dict[str, Any]:
    """A referral's drawn work-up with the draws' failures undone: an eligible patient."""
    candidate = screening_findings(random.Random(seed), diagnosis, age)  # noqa: S311
    candidate.update(ecog=0, brain_imaging="negative", medications=[])
    candidate["labs"]["creatinine_mg_dl"] = 1.0
    candidate["labs"].pop("creatinine_clearance_ml_min", None)
    return candidate


def add_ward(services: Services, *, seed: int = 1) -> WardSummary:
    """Admit the demo's ward patients for today (the services' clock), mid-cycle now.

    First, an earlier day's ward patients get their past-due doses recorded at the times due
    (_catch_up_earlier_wards), so a re-run on a later day leaves no dose past due.

    Each is registered, screened and planned days ago, and given their first doses at the
    times due, through the audited services (verifier signed, no dose too soon); their next
    dose is due now or within hours (WARD_NEXT_DUE_HOURS). The last one's systolic BP falls
    dose by dose towards the limit of the bedside rule WARD_TRENDING_RULE, read from the rule
    table: still given, but the next reading, due now, may well call for a hold.
    """
    now = services.clock()
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not cryptography
    clock = SimulatedClock(now)
    simulated = replace(services, clock=clock)
    writer = ServiceWriter(simulated)
    run = _Run(simulated, writer, clock, rng, ensure_staff(simulated))
    trending = _trending_limit(services)
    zone = services.rules.site.time_zone
    interval = timedelta(hours=8)
    _catch_up_earlier_wards(run, now)
    mrns: list[str] = []
    for index, (given, due_in) in enumerate(
        zip(WARD_DOSES_GIVEN, WARD_NEXT_DUE_HOURS, strict=True)
    ):
        next_due = _next_due(services, now, due_in)
        first = next_due - given * interval
        diagnosis = DIAGNOSES[index % 2]
        age = 45 + 7 * index
        run.at(first - timedelta(days=5))
        mrn = ward_mrn(now.astimezone(zone).date(), index + 1)
        patient = writer.patient(
            run.staff["demo-coordinator"],
            {
                "mrn": mrn,
                "name": f"Ward Patient {index + 1}",
                "birth_date": date(first.year - age, 3 + index, 10).isoformat(),
                "sex": ("female", "male")[index % 2],
                "diagnosis": diagnosis,
                "referred_on": (first - timedelta(days=30)).date().isoformat(),
            },
        )
        candidate = _eligible_findings(seed + index, diagnosis, age)
        run.at(first - timedelta(days=3))
        writer.screening(run.staff["demo-physician"], patient, candidate)
        weight = 60.0 + 8 * index
        # a first dose at any hour of the day: the cycle keeps to its days, a dose short if need be
        course = plan_course(
            simulated,
            run.staff["demo-physician"],
            patient,
            regimen=SIMULATED_REGIMEN,
            weight_kg=weight,
            first_dose=first.isoformat(),
            cycle_end_rule="whichever_first",
        )
        course_id, plan = course.id, course.plan
        last = index == len(WARD_DOSES_GIVEN) - 1
        margins = WARD_TRENDING_MARGINS[-given:]
        for dose in plan["cycles"][0]["doses"][:given]:
            due = datetime.fromisoformat(dose["due_at"])
            run.at(due)
            sbp = float(trending.limit) + margins[dose["number"] - 1] if last else None
            writer.dose(
                run.staff["demo-nurse"],
                course_id,
                DoseSubmission(
                    cycle=1,
                    dose_number=dose["number"],
                    assessment=bedside_assessment(rng, 0.0, dose["number"], weight, sbp=sbp),
                    given_at=due,
                    verified_by="demo-nurse2",
                    verifier_password=DEMO_PASSWORD,
                ),
            )
        mrns.append(mrn)
    return WardSummary(mrns=tuple(mrns), trending_rule=WARD_TRENDING_RULE)


def demo_state(services: Services) -> str:
    """Whether the database is `empty`, a demo `current` today, a demo `stale` (its ward was
    admitted on an earlier day, or never), or `not_demo` (a patient whose MRN is not a demo's).

    Reads only MRNs; `il2 demo --today` acts on the answer and never writes to a `not_demo`.
    """
    total = patient_count(services)
    if total == 0:
        return "empty"
    today = services.clock().astimezone(services.rules.site.time_zone).date()
    with services.uow() as uow:
        demo = uow.patients.search("DEMO-", limit=total + 1)
        if sum(1 for p in demo if p.mrn.startswith("DEMO-")) < total:
            return "not_demo"
        ward = uow.patients.search(ward_mrn(today, 1), limit=1)
    return "current" if ward else "stale"


OUTPATIENT_MRN = "DEMO-CLINIC-{day}-{number}"
# (regimen, days since the first injection, height cm): low-dose subcutaneous courses that the
# patients inject at home after a first day in clinic (the diary holds the injections since).
OUTPATIENT_COURSES = (("ld-sc-ifn", 9, 172), ("sc-eu", 3, 181), ("ld-sc-nci", 12, 165))
# Every fifth home injection is reported missed; the others taken, a few minutes late.
OUTPATIENT_MISSED_EVERY = 5
# Side effects the patients report (CTCAE v5.0 term, grade), drawn for about a third of them.
OUTPATIENT_SIDE_EFFECTS = (("injection_site_reaction", 1), ("chills", 1), ("nausea", 1),
                           ("injection_site_reaction", 2))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClinicSummary:
    """The outpatients the demo wrote, by MRN, with their injections reported in the diary."""

    mrns: tuple[str, ...]
    diary_entries: int


def _injection_assessment(rng: random.Random, number: int, given: int) -> dict[str, Any]:
    """What the subcutaneous before-dose checks read, drawn within the usual range."""
    return {
        "cycle": 1, "dose_number": number, "doses_given_this_cycle": given,
        "vitals": {"sbp_mmhg": round(112 + 14 * rng.random()),
                   "spo2_pct": round(95 + 4 * rng.random())},
        "mental_status": "normal", "findings": [], "held_for": [],
    }  # fmt: skip


def add_outpatients(services: Services, *, seed: int = 1) -> ClinicSummary:
    """Patients on low-dose subcutaneous regimens, injecting at home now (the services' clock).

    Each is registered, screened and planned days ago; the first day's injections are given in
    clinic through the dose ledger (subcutaneous before-dose checks, verifier signed), and every
    injection since, up to yesterday, is reported in the patient's diary by the nurse: taken
    (a few minutes after the time planned) or, one in OUTPATIENT_MISSED_EVERY, missed, some
    with side effects. Today's injection is left to be reported.
    """
    from il2.services.diary import record_entry  # noqa: PLC0415 - only the demo writes both

    now = services.clock()
    rng = random.Random(seed + 100)  # noqa: S311 - a reproducible simulation, not cryptography
    clock = SimulatedClock(now)
    simulated = replace(services, clock=clock)
    writer = ServiceWriter(simulated)
    run = _Run(simulated, writer, clock, rng, ensure_staff(simulated))
    zone = services.rules.site.time_zone
    today = now.astimezone(zone).date()
    mrns: list[str] = []
    entries = 0
    for index, (regimen, days_ago, height) in enumerate(OUTPATIENT_COURSES):
        first = datetime.combine(today - timedelta(days=days_ago), time(9), tzinfo=zone)
        diagnosis = DIAGNOSES[(index + 1) % 2]
        age = 52 + 6 * index
        run.at(first - timedelta(days=6))
        mrn = OUTPATIENT_MRN.format(day=today.isoformat(), number=index + 1)
        patient = writer.patient(
            run.staff["demo-coordinator"],
            {
                "mrn": mrn,
                "name": f"Clinic Patient {index + 1}",
                "birth_date": date(first.year - age, 5 + index, 14).isoformat(),
                "sex": ("male", "female")[index % 2],
                "diagnosis": diagnosis,
                "referred_on": (first - timedelta(days=40)).date().isoformat(),
            },
        )
        candidate = _eligible_findings(seed + 50 + index, diagnosis, age)
        run.at(first - timedelta(days=4))
        writer.screening(run.staff["demo-physician"], patient, candidate)
        course = plan_course(
            simulated, run.staff["demo-physician"], patient, regimen=regimen,
            weight_kg=64.0 + 7 * index, height_cm=height, first_dose=first.isoformat(),
        )  # fmt: skip
        doses = course.plan["cycles"][0]["doses"]
        in_clinic = [d for d in doses if d["day"] == 1]
        for given, dose in enumerate(in_clinic):
            due = datetime.fromisoformat(dose["due_at"])
            run.at(due)
            writer.dose(
                run.staff["demo-nurse"],
                course.id,
                DoseSubmission(
                    cycle=1,
                    dose_number=dose["number"],
                    assessment=_injection_assessment(rng, dose["number"], given),
                    given_at=due,
                    verified_by="demo-nurse2",
                    verifier_password=DEMO_PASSWORD,
                ),
            )
        at_home = [
            d for d in doses
            if d["day"] > 1 and datetime.fromisoformat(d["due_at"]).astimezone(zone).date() < today
        ]  # fmt: skip
        for count, dose in enumerate(at_home, start=1):
            due = datetime.fromisoformat(dose["due_at"])
            missed = count % OUTPATIENT_MISSED_EVERY == 0
            felt = [OUTPATIENT_SIDE_EFFECTS[rng.randrange(len(OUTPATIENT_SIDE_EFFECTS))]]
            report: dict[str, Any] = {
                "cycle": 1,
                "dose_number": dose["number"],
                "reported_by": "patient",
                "side_effects": [
                    {"term": term, "grade": grade}
                    for term, grade in (felt if rng.random() < 0.35 else [])
                ],
            }
            if missed:
                report |= {"status": "missed", "missed_reason": "felt unwell that evening"}
            else:
                taken = due + timedelta(minutes=rng.randrange(5, 50))
                report |= {"status": "taken", "taken_at": taken.isoformat()}
            run.at(due + timedelta(hours=10))
            record_entry(simulated, run.staff["demo-nurse"], course.id, report)
            entries += 1
        mrns.append(mrn)
    return ClinicSummary(mrns=tuple(mrns), diary_entries=entries)
