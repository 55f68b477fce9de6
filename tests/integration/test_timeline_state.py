"""Random sequences of planning, assessing, recording and time passing, on SQLite and PostgreSQL.

A hypothesis state machine drives the services as the ward would: it registers and screens
patients, plans courses (sometimes against a relative reason), assesses and records doses (given,
held, overridden, with a verifier good or bad, at a `given_at` before, at or after the clock),
records discontinues and cycle stops, corrects entries, and lets time pass. Whatever it tries,
after every step the records must keep the safety invariants:

- no two given doses of one patient closer than the later dose's regimen's minimum interval;
- no given dose outside its slot's window, before its cycle's first day, or in the future;
- nothing given after a discontinue recorded for the patient;
- no course planned to start while an earlier course of the patient is still running;
- no course planned without a current eligible screening, or with a first dose far off;
- no dose given with a second check by someone who did not sign or may not verify doses.

Refusals are expected and ignored: only what was stored is judged. Each example uses its own
patients in one database per kind, so the database is created once per test.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.errors import Il2Error
from il2.domain.records import (
    Actor,
    CourseRecord,
    DoseOutcome,
    DoseRecord,
    Role,
    ScreeningRecord,
)
from il2.rules.loader import load_rules
from il2.services.clinical import correct_entry, record_toxicity
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient, record_screening
from tests.integration.builders import PASSWORD, ROOT, stable_assessment, staff
from tests.integration.conftest import FixedClock

EXAMPLES = {"sqlite": 150, "postgresql": 40}
"""Examples per database kind: 190 per run of the suite, each of up to STEPS steps. PostgreSQL
runs fewer: under `make test`'s coverage, 200 examples took about 7 minutes on SQLite and more
than 8 on PostgreSQL.

Measured on the code before the timeline and the admission checks (commit 53eb1eb), SQLite,
50 steps an example, generate phase only, each invariant judged alone: the example at which
the machine first broke it, for ten seeds (twenty for a dose after a discontinue):

- interval (ward walkthrough D1, D3): 4, 6, 10, 10, 12, 22, 44, 56, 123, 264
- window, future given_at (D2): 4, 6, 6, 6, 6, 8, 14, 14, 17, 23
- given after a discontinue (D6, D10): 4, 4, 4, 4, 6, 6, 6, 10, 10, 14, 14, 52, 54, 88, 94,
  125, 134, 215, 218, 325
- planned without a current eligible screening, or a first dose far off (D8): 4, 4, 4, 6, 6,
  6, 6, 6, 8, 16
- overlapping courses (D9): 4, 4, 4, 4, 4, 6, 8, 10, 28, 47
- a verifier who did not sign or may not verify (D4): 6, 6, 8, 8, 10, 10, 14, 26, 54, 79

So a run of 190 finds every defect for most seeds (the interval 9 of 10, a dose after a
discontinue 17 of 20, the rest 10 of 10), and every run draws new seeds; 400 a run found all
of them for every seed but took the suite past 30 minutes.
"""

STEPS = 50
START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
REGIMENS = tuple(sorted(load_rules().regimens))  # every bundled regimen, read from the rule file


def _document(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / name).read_text()))


ELIGIBLE = _document("examples/candidates/eligible-renal.json")
INELIGIBLE = _document("examples/candidates/ineligible-melanoma.json")


def _assessment(kind: str) -> dict[str, Any]:
    """A complete before-dose assessment that advises give, hold, stop or discontinue."""
    document = stable_assessment()
    if kind == "hold":
        document["vitals"] = {**document["vitals"], "sbp_mmhg": 85}
    elif kind == "discontinue":
        document["vitals"] = {**document["vitals"], "rhythm": "sustained_vt"}
    elif kind == "stop":
        document["findings"] = ["sepsis"]
    return document


def _submission(**fields: Any) -> DoseSubmission:
    """A submission with the fields this version of DoseSubmission knows (older ones lack some)."""
    known = {field.name for field in dataclasses.fields(DoseSubmission)}
    return DoseSubmission(**{key: value for key, value in fields.items() if key in known})


class _World:
    """One database of one kind, its staff and clock, shared by every example."""

    def __init__(self, app: App, clock: FixedClock, kind: str) -> None:
        self.app = app
        self.clock = clock
        self.kind = kind
        self.staff = staff(app)
        self.patients = 0


def _policy(app: App, name: str, default: float) -> float:
    """A site policy's number, or the default when this version of il2 has no such policy."""
    policy = {setting.name: setting for setting in app.services.rules.policies}
    return float(str(policy[name].value)) if name in policy else default


def _window(app: App) -> tuple[timedelta, timedelta, timedelta]:
    """The site's dose window (early, late) and clock tolerance, as the timeline reads them."""
    return (
        timedelta(minutes=_policy(app, "dose_window_early_min", 60)),
        timedelta(minutes=_policy(app, "dose_window_late_min", 60)),
        timedelta(minutes=_policy(app, "dose_clock_tolerance_min", 5)),
    )


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """What the invariants judge: each patient of the example with their courses and doses, and
    their screenings, read in one unit of work."""

    records: list[tuple[int, list[CourseRecord], list[DoseRecord]]]
    screenings: dict[int, list[ScreeningRecord]]


class TimelineMachine(RuleBasedStateMachine):
    """The ward, as a state machine; `world` is set by the test before it runs."""

    world: _World
    judge_verifier = True
    """Whether a given dose's verifier is judged (off to measure another invariant alone)."""
    patients = Bundle("patients")
    courses = Bundle("courses")

    @initialize()
    def start(self) -> None:
        self.clock = self.world.clock
        self.clock.now = START
        self.services = self.world.app.services
        self.actors: dict[Role, Actor] = self.world.staff
        self.mine: list[int] = []
        self.entries: list[tuple[int, int]] = []

    # --- patients and planning -------------------------------------------------------------

    @rule(target=patients, eligible=st.booleans())
    def register(self, *, eligible: bool) -> int:
        self.world.patients += 1
        number = self.world.patients
        patient = create_patient(
            self.services,
            self.actors[Role.PHYSICIAN],
            {
                "mrn": f"STATE-{number}",
                "name": f"State Patient {number}",
                "birth_date": "1968-04-02",
                "sex": "female",
                "diagnosis": "renal_cell_carcinoma",
                "referred_on": "2026-11-02",
            },
        )
        self.mine.append(patient.id)
        self._screen(patient.id, eligible=eligible)
        return patient.id

    def _screen(self, patient: int, *, eligible: bool) -> None:
        """Screen a patient a minute on, so a screening never shares a course's timestamp."""
        self.clock.now += timedelta(minutes=1)
        findings = ELIGIBLE if eligible else INELIGIBLE
        record_screening(self.services, self.actors[Role.PHYSICIAN], patient, findings)

    @rule(patient=patients, eligible=st.booleans())
    def screen_again(self, *, patient: int, eligible: bool) -> None:
        self._screen(patient, eligible=eligible)

    @rule(
        target=courses,
        patient=patients,
        regimen=st.sampled_from(REGIMENS),
        hours_ahead=st.one_of(
            st.sampled_from((0, 0, 1, 2, 24 * 14)), st.integers(min_value=-30, max_value=24 * 400)
        ),
        against_relative=st.booleans(),
    )
    def plan(self, *, patient: int, regimen: str, hours_ahead: int, against_relative: bool) -> int:
        first = (self.clock.now + timedelta(hours=hours_ahead)).replace(minute=0, second=0)
        extra = {"override_reason": "tumour board agreed"} if against_relative else {}
        try:
            course = plan_course(
                self.services,
                self.actors[Role.PHYSICIAN],
                patient,
                regimen=regimen,
                weight_kg=70,
                first_dose=first.isoformat(),
                cycle_end_rule="whichever_first",
                **extra,
            )
        except TypeError:  # a version whose plan_course takes no override
            try:
                course = self._plan_plain(patient, regimen, first)
            except Il2Error:
                return -1
        except Il2Error:
            return -1
        return course.id

    def _plan_plain(self, patient: int, regimen: str, first: datetime) -> CourseRecord:
        return plan_course(
            self.services,
            self.actors[Role.PHYSICIAN],
            patient,
            regimen=regimen,
            weight_kg=70,
            first_dose=first.isoformat(),
            cycle_end_rule="whichever_first",
        )

    # --- the bedside -----------------------------------------------------------------------

    @rule(
        course=courses,
        cycle=st.integers(min_value=1, max_value=2),
        dose=st.integers(min_value=1, max_value=15),
        minutes=st.sampled_from((-70, -30, -5, 0, 0, 5, 30, 70)),
    )
    def until_due(self, *, course: int, cycle: int, dose: int, minutes: int) -> None:
        """Time passes until around a slot's due time (never backwards)."""
        if course < 0:
            return
        with self.services.uow() as uow:
            record = uow.courses.get(course)
        assert record is not None
        for planned in record.plan["cycles"]:
            for slot in planned["doses"]:
                if (planned["cycle"], slot["number"]) == (cycle, dose):
                    due = datetime.fromisoformat(slot["due_at"]) + timedelta(minutes=minutes)
                    self.clock.now = max(self.clock.now, due)

    @rule(
        course=courses,
        cycle=st.integers(min_value=1, max_value=2),
        dose=st.integers(min_value=1, max_value=15),
        kind=st.sampled_from(("give", "give", "give", "hold", "stop", "discontinue")),
        given_minutes=st.sampled_from((-600, -120, -61, -30, -5, 0, 0, 0, 0, 3, 6, 30, 600)),
        outcome=st.sampled_from((None, None, "given", "held")),
        override=st.booleans(),
        verifier=st.sampled_from(("nurse2", "nurse2", "nurse2", "nurse", "researcher", "bad")),
    )
    def record(
        self,
        *,
        course: int,
        cycle: int,
        dose: int,
        kind: str,
        given_minutes: int,
        outcome: str | None,
        override: bool,
        verifier: str,
    ) -> None:
        if course < 0:
            return
        recorder = self.actors[Role.PHYSICIAN if override else Role.NURSE]
        password = "wrong password" if verifier == "bad" else PASSWORD
        submission = _submission(
            cycle=cycle,
            dose_number=dose,
            assessment=_assessment(kind),
            outcome=DoseOutcome.GIVEN if override else DoseOutcome(outcome) if outcome else None,
            given_at=self.clock.now + timedelta(minutes=given_minutes),
            assessed_at=self.clock.now + timedelta(minutes=min(given_minutes, 0) - 5),
            verified_by="nurse2" if verifier == "bad" else verifier,
            verifier_password=password,
            override_reason="physician reviewed" if override else None,
        )
        try:
            result = submit_dose(self.services, recorder, course, submission)
        except Il2Error:
            return
        given = result.created and result.record.outcome is DoseOutcome.GIVEN
        unverified = verifier in {"bad", "researcher"} or verifier == recorder.username
        assert not (self.judge_verifier and given and unverified), (
            f"dose {cycle}.{dose} of course {course} given with verifier {verifier!r} "
            f"(recorded by {recorder.username})"
        )

    @rule(hours=st.sampled_from((0.02, 0.5, 1, 2, 4, 7.9, 8, 8.1, 16, 24, 72, 24 * 14)))
    def time_passes(self, hours: float) -> None:
        self.clock.now += timedelta(hours=hours)

    @rule(patient=patients)
    def toxicity(self, patient: int) -> None:
        document = {"term": "hypotension", "clinical_grade": 3}
        try:
            entry = record_toxicity(
                self.services,
                self.actors[Role.NURSE],
                patient,
                observed_on=self.clock.now.date().isoformat(),
                course_id=None,
                findings={"findings": [document]},
            )
        except Il2Error:
            return
        self.entries.append((patient, entry.id))

    @precondition(lambda self: bool(self.entries))
    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        patient, entry = data.draw(st.sampled_from(self.entries))
        document = {"term": "hypotension", "clinical_grade": 2}
        try:
            correct_entry(
                self.services,
                self.actors[Role.PHYSICIAN],
                patient,
                entry,
                content={"findings": [document]},
                reason="graded again on review",
            )
        except Il2Error:
            return

    # --- what must always hold -------------------------------------------------------------

    checks: ClassVar[int] = 0
    """Invariant passes run (by every example of the test): proves the snapshot below is read
    afresh for each pass, hypothesis calling check_invariants after every step."""

    def check_invariants(self, *args: Any, **kwargs: Any) -> None:
        """Judge the invariants on one snapshot of the stored records, read once for the pass:
        the invariants only read, so each would otherwise read the very same rows again."""
        type(self).checks += 1
        self._snapshot: _Snapshot | None = None
        super().check_invariants(*args, **kwargs)

    def _read(self) -> _Snapshot:
        if getattr(self, "_snapshot", None) is None:
            with self.services.uow() as uow:
                courses = uow.courses.for_patients(self.mine)  # each patient's, by number
                ledgers = uow.doses.for_courses([c.id for cs in courses.values() for c in cs])
                screenings = uow.screenings.for_patients(self.mine)  # oldest first
            records = []
            for patient in self.mine:
                theirs = courses.get(patient, [])
                doses = [d for c in theirs for d in ledgers.get(c.id, ())]
                records.append((patient, theirs, doses))
            self._snapshot = _Snapshot(records, {p: screenings.get(p, []) for p in self.mine})
        assert self._snapshot is not None
        return self._snapshot

    def _records(self) -> Iterator[tuple[int, list[CourseRecord], list[DoseRecord]]]:
        """Each of this example's patients with their courses and their doses, as stored."""
        yield from self._read().records

    @invariant()
    def doses_keep_their_interval(self) -> None:
        rules = self.services.rules
        for patient, courses, doses in self._records():
            regimen = {c.id: rules.regimens[c.regimen_id] for c in courses}
            given = sorted(
                (d for d in doses if d.outcome is DoseOutcome.GIVEN and d.given_at),
                key=lambda d: d.given_at or START,
            )
            for before, after in itertools.pairwise(given):
                gap = (after.given_at or START) - (before.given_at or START)
                least = timedelta(hours=float(regimen[after.course_id].interval_h))
                assert gap >= least, (
                    f"patient {patient}: doses {before.cycle}.{before.dose_number} (course "
                    f"{before.course_id}) and {after.cycle}.{after.dose_number} (course "
                    f"{after.course_id}) given {gap} apart; the interval is {least}"
                )

    @invariant()
    def doses_inside_their_window(self) -> None:
        early, late, tolerance = _window(self.world.app)
        for patient, courses, doses in self._records():
            due = {
                (c.id, cycle["cycle"], slot["number"]): datetime.fromisoformat(slot["due_at"])
                for c in courses
                for cycle in c.plan["cycles"]
                for slot in cycle["doses"]
            }
            for d in doses:
                if d.outcome is not DoseOutcome.GIVEN or d.given_at is None:
                    continue
                at = due[(d.course_id, d.cycle, d.dose_number)]
                where = f"patient {patient}: dose {d.cycle}.{d.dose_number} of course {d.course_id}"
                assert d.given_at <= d.recorded_at + tolerance, f"{where} given in the future"
                assert at - early <= d.given_at <= at + late, (
                    f"{where} given at {d.given_at}, outside its window around {at}"
                )

    @invariant()
    def nothing_after_a_discontinue(self) -> None:
        for patient, _, doses in self._records():
            stops = [d.id for d in doses if d.decision_action == "discontinue"]
            if not stops:
                continue
            later = [d for d in doses if d.outcome is DoseOutcome.GIVEN and d.id > min(stops)]
            assert not later, f"patient {patient}: given after a discontinue: {later[0]}"

    @invariant()
    def courses_follow_an_eligible_screening(self) -> None:
        valid = timedelta(days=_policy(self.world.app, "screening_valid_days", 28))
        past = timedelta(hours=_policy(self.world.app, "first_dose_past_tolerance_hours", 1))
        ahead = timedelta(days=_policy(self.world.app, "first_dose_max_days_ahead", 90))
        snapshot = self._read()
        for patient, courses, _ in snapshot.records:
            screenings = snapshot.screenings[patient]
            for course in courses:
                before = [s for s in screenings if s.recorded_at <= course.recorded_at]
                latest = max(before, key=lambda s: (s.recorded_at, s.id), default=None)
                where = f"patient {patient}: course {course.number}"
                assert latest is not None, f"{where} planned before any screening"
                assert latest.verdict == "eligible", (
                    f"{where} planned on a {latest.verdict} screening"
                )
                assert course.recorded_at - latest.recorded_at <= valid, (
                    f"{where} planned on a screening from {latest.recorded_at}"
                )
                assert (
                    course.recorded_at - past <= course.first_dose_at <= course.recorded_at + ahead
                ), f"{where} planned to start {course.first_dose_at}"

    @invariant()
    def courses_do_not_overlap(self) -> None:
        for patient, courses, doses in self._records():
            ordered = sorted(courses, key=lambda c: c.number)
            for before, after in itertools.pairwise(ordered):
                ended = [
                    d
                    for d in doses
                    if d.course_id == before.id
                    and d.decision_action in {"discontinue", "stop_cycle"}
                    and d.cycle == before.plan["cycles"][-1]["cycle"]
                    and d.recorded_at <= after.recorded_at
                ]
                last_due = max(
                    datetime.fromisoformat(slot["due_at"])
                    for cycle in before.plan["cycles"]
                    for slot in cycle["doses"]
                )
                assert ended or after.first_dose_at > last_due, (
                    f"patient {patient}: course {after.number} starts {after.first_dose_at}, "
                    f"while course {before.number} runs to {last_due}"
                )


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_World]:
    """One migrated database of each kind, with one user of every role."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('state') / 'il2.sqlite3'}"
    else:
        from tests.integration.conftest import fresh_postgres_database  # noqa: PLC0415

        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    clock = FixedClock()
    app = build_app(Settings(database_url=url), clock=clock)
    upgrade_database(app)
    yield _World(app, clock, request.param)
    app.engine.dispose()


def test_the_timeline_keeps_its_invariants(world: _World) -> None:
    """Whatever the ward tries, the stored records keep every safety invariant."""
    TimelineMachine.world = world
    run = TimelineMachine.TestCase
    run.settings = settings(
        max_examples=EXAMPLES[world.kind],
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    before = TimelineMachine.checks
    run().runTest()
    steps = TimelineMachine.checks - before
    assert steps >= EXAMPLES[world.kind], f"the invariants were judged {steps} times"
