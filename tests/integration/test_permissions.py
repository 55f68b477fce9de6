"""Every role x action cell of the permission matrix, enforced by the real services."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.deidentify import study_number
from il2.domain.errors import InvalidInputError, PermissionDeniedError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.domain.studies import Study
from il2.rules.loader import load_rules
from il2.services.accounts import actor_for_username, add_user
from il2.services.audit import export_audit
from il2.services.clinical import (
    correct_entry,
    record_discharge,
    record_follow_up,
    record_response,
    record_toxicity,
    today,
)
from il2.services.courses import plan_course
from il2.services.diary import record_entry
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.exports import start_export
from il2.services.outcomes import program
from il2.services.patients import (
    create_patient,
    lookup_study_number,
    read_patient,
    record_screening,
)
from il2.services.pharmacy import preparation_list, verify_plan
from il2.services.schedule import schedule
from il2.services.simulation import virtual_course
from il2.services.studies import create_study, list_studies, record_assignment
from il2.services.whatif import course_whatif
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    ROOT,
    keep_course,
    outpatient_app,
    partial_response_so_far,
    screen_eligible,
    stable_assessment,
    staff,
    taken_report,
)
from tests.integration.conftest import FixedClock

_MRNS = itertools.count(100)
_SLOTS = itertools.count(1)
TOXICITY = {"ctcae_version": "5.0", "findings": [{"term": "fever", "value": 38.5, "unit": "c"}]}


class World:
    """A patient with a course and an entry, and one user of every role."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.people = staff(app)
        physician = self.people[Role.PHYSICIAN]
        self.patient = create_patient(app.services, physician, PATIENT).id
        screen_eligible(app.services, physician, self.patient)
        course = plan_course(
            app.services,
            physician,
            self.patient,
            regimen="hd-label",
            weight_kg=70,
            first_dose="2026-12-07T08:00:00-08:00",
        )
        self.course = course.id
        self.slots = [
            (c["cycle"], d["number"], datetime.fromisoformat(d["due_at"]))
            for c in course.plan["cycles"]
            for d in c["doses"]
        ]
        self.entry = record_toxicity(
            app.services,
            physician,
            self.patient,
            observed_on="2026-12-06",
            course_id=self.course,
            findings=TOXICITY,
        ).id

    def study(self, actor: Actor) -> Study:
        """Define a study of its own (names are unique)."""
        number = next(_MRNS)
        return create_study(
            self.app.services,
            actor,
            {
                "name": f"Study {number}",
                "arms": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            },
        )

    def assignment(self, actor: Actor) -> object:
        """Assign a fresh patient to an arm of a study the physician defined."""
        physician = self.people[Role.PHYSICIAN]
        study = self.study(physician)
        patient = create_patient(
            self.app.services, physician, {**PATIENT, "mrn": f"M{next(_MRNS)}"}
        ).id
        return record_assignment(
            self.app.services, actor, study.id, patient, kind="assigned", arm="a"
        )

    def diary_entry(self, actor: Actor) -> object:
        """Enter injection 1.1 of a fresh patient's sc-eu course (kept through the repository:
        keeping a subcutaneous course waits for its before-dose checks). The course lies in
        the past, so none of its injections joins the other cells' lists of doses due."""
        outpatient = outpatient_app(self.app).services
        patient = create_patient(
            outpatient, self.people[Role.PHYSICIAN], {**PATIENT, "mrn": f"M{next(_MRNS)}"}
        ).id
        course = keep_course(outpatient, patient, first_dose="2026-10-01T09:00:00+00:00")
        return record_entry(outpatient, actor, course, taken_report())

    def corrected_entry(self, actor: Actor) -> object:
        """Correct a fresh toxicity entry (each entry may be corrected once; then its correction)."""
        fresh = record_toxicity(
            self.app.services,
            self.people[Role.PHYSICIAN],
            self.patient,
            observed_on="2026-12-06",
            course_id=self.course,
            findings=TOXICITY,
        )
        return correct_entry(
            self.app.services, actor, self.patient, fresh.id, content=TOXICITY, reason="typo"
        )

    def next_slot(self) -> tuple[int, int]:
        """The next unused dose slot, the clock set to its due time."""
        cycle, number, due = self.slots[next(_SLOTS)]
        clock = self.app.services.clock
        assert isinstance(clock, FixedClock)
        clock.now = due
        return cycle, number

    def early_course(self, actor: Actor) -> object:
        """A second course before the rest has passed, planned against it with a reason."""
        physician = self.people[Role.PHYSICIAN]
        patient = create_patient(
            self.app.services, physician, {**PATIENT, "mrn": f"M{next(_MRNS)}"}
        ).id
        screen_eligible(self.app.services, physician, patient)
        plan = {"regimen": "hd-label", "weight_kg": 70, "cycle_end_rule": "whichever_first"}
        # course 1 starts at the next whole hour (the clock moves from cell to cell); course 2
        # 44 days on: after course 1's last slot (day 19), before its 7 weeks of rest have passed
        first = (self.app.services.clock() + timedelta(hours=1)).replace(minute=0, second=0)
        plan_course(self.app.services, physician, patient, **plan,
                    first_dose=first.isoformat())  # fmt: skip
        return plan_course(
            self.app.services,
            actor,
            patient,
            **plan,
            first_dose=(first + timedelta(days=44)).isoformat(),
            override_reason="tumour board agreed to an early second course",
        )

    def discharge(self, actor: Actor) -> object:
        """A discharge after a dose given (the second nurse records it, the nurse verifies)."""
        self.verified_dose(self.people[Role.NURSE])
        return record_discharge(
            self.app.services,
            actor,
            self.patient,
            course_id=self.course,
            discharged_on=today(self.app.services).isoformat(),
        )

    def held_dose(self, actor: Actor) -> object:
        low = stable_assessment()
        low["vitals"]["sbp_mmhg"] = 85
        cycle, number = self.next_slot()
        return submit_dose(
            self.app.services,
            actor,
            self.course,
            DoseSubmission(cycle=cycle, dose_number=number, assessment=low),
        )

    def overridden_dose(self, actor: Actor) -> object:
        low = stable_assessment()
        low["vitals"]["sbp_mmhg"] = 85
        verifier = "nurse2" if actor.username != "nurse2" else "nurse"
        cycle, number = self.next_slot()
        submission = DoseSubmission(
            cycle=cycle,
            dose_number=number,
            assessment=low,
            outcome=DoseOutcome.GIVEN,
            given_at=self.app.services.clock(),
            verified_by=verifier,
            verifier_password=PASSWORD,
            override_reason="physician judgement",
        )
        try:
            return submit_dose(self.app.services, actor, self.course, submission)
        except RefusedError as refused:
            # A nurse giving a held dose is refused with the hold reasons a physician may
            # override: the matrix reads that as the permission it is.
            if refused.overridable:
                raise PermissionDeniedError(str(refused)) from refused
            raise

    def verified_dose(self, verifier: Actor) -> object:
        """A dose the second nurse records as given, `verifier` signing the check.

        A role that may not verify is refused on the verifier (field verified_by), which the
        matrix reads as the permission it is.
        """
        cycle, number = self.next_slot()
        submission = DoseSubmission(
            cycle=cycle,
            dose_number=number,
            assessment=stable_assessment(),
            outcome=DoseOutcome.GIVEN,
            given_at=self.app.services.clock(),
            verified_by=verifier.username,
            verifier_password=PASSWORD,
        )
        recorder = actor_for_username(self.app.services, "nurse2")
        try:
            return submit_dose(self.app.services, recorder, self.course, submission)
        except InvalidInputError as refused:
            if refused.field == "verified_by" and "may verify doses" in refused.allowed:
                raise PermissionDeniedError(refused.allowed) from refused
            raise


def _screen(w: World, a: Actor) -> object:
    findings = json.loads((ROOT / "examples/candidates/eligible-renal.json").read_text())
    return record_screening(w.app.services, a, w.patient, findings)


def _identified(w: World, a: Actor) -> object:
    view = read_patient(w.app.services, a, w.patient)
    if "mrn" not in view["patient"]:
        raise PermissionDeniedError("de-identified view only")
    return view


def _deidentified(w: World, a: Actor) -> object:
    view = read_patient(w.app.services, a, w.patient)
    assert "mrn" not in view["patient"] or a.role is not Role.RESEARCHER
    return view


ACTIONS: dict[str, Callable[[World, Actor], object]] = {
    "patient.create": lambda w, a: create_patient(
        w.app.services, a, {**PATIENT, "mrn": f"M{next(_MRNS)}"}
    ),
    "patient.read": _identified,
    "screening.record": _screen,
    "course.plan": lambda w, a: plan_course(
        w.app.services,
        a,
        w.patient,
        regimen="hd-label",
        weight_kg=70,
        first_dose="2027-02-15T08:00:00-08:00",
    ),
    "course.plan_override": World.early_course,
    "course.verify": lambda w, a: verify_plan(w.app.services, a, w.course),
    "pharmacy.read": lambda w, a: preparation_list(w.app.services, a),
    "schedule.read": lambda w, a: schedule(w.app.services, a),
    "dose.record": World.held_dose,
    "dose.override": World.overridden_dose,
    "dose.verify": World.verified_dose,
    "toxicity.record": lambda w, a: record_toxicity(
        w.app.services,
        a,
        w.patient,
        observed_on="2026-12-07",
        course_id=w.course,
        findings=TOXICITY,
    ),
    "response.record": lambda w, a: record_response(
        w.app.services,
        a,
        w.patient,
        course_id=w.course,
        measurements=partial_response_so_far(),
    ),
    "followup.record": lambda w, a: record_follow_up(
        w.app.services, a, w.patient, observed_on="2026-12-07", status="alive_no_progression"
    ),
    "discharge.record": World.discharge,
    "entry.correct": World.corrected_entry,
    "diary.record": World.diary_entry,
    "audit.read": lambda w, a: export_audit(w.app.services, a),
    "outcomes.read": lambda w, a: program(w.app.services, a, as_of=date(2027, 6, 1)),
    "users.manage": lambda w, a: add_user(
        w.app.services,
        a,
        username=f"u{next(_MRNS)}",
        display_name="U",
        role="nurse",
        password=PASSWORD,
    ),
    "study.define": World.study,
    "study.assign": World.assignment,
    "study.read": lambda w, a: list_studies(w.app.services, a),
    "simulation.whatif": lambda w, a: course_whatif(
        w.app.services, a, w.patient, alternatives=(), twins=2, seed=0
    ),
    "program.export": lambda w, a: start_export(
        w.app.services,
        a,
        request_url="matrix",
        types=("Patient",),
        build=lambda *_: [],
        spawn=lambda _: None,  # the cell is who may start one; the work is test_fhir_export's
    ),
    "study_id.lookup": lambda w, a: lookup_study_number(
        w.app.services, a, study_number(w.patient, key=w.app.services.study_key)
    ),
    "simulation.run": lambda w, a: virtual_course(
        w.app.services, a, regimen="hd-label", diagnosis="melanoma", seed=1, hours=1.0
    ),
}
MATRIX = load_rules().permissions


def _allowed(role: Role, action: str) -> bool:
    if action == "dose.override":
        return MATRIX.allows(role, "dose.record") and MATRIX.allows(role, "dose.override")
    if action == "course.plan_override":
        return MATRIX.allows(role, "course.plan") and MATRIX.allows(role, "course.plan_override")
    if action == "entry.correct":  # the cell corrects a toxicity: that needs toxicity.record too
        return MATRIX.allows(role, "entry.correct") and MATRIX.allows(role, "toxicity.record")
    return MATRIX.allows(role, action)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    path: Path = tmp_path_factory.mktemp("matrix") / "il2.sqlite3"
    app = build_app(Settings(database_url=f"sqlite:///{path}"), clock=FixedClock())
    upgrade_database(app)
    return World(app)


def test_every_action_in_the_matrix_is_exercised() -> None:
    assert set(MATRIX.roles_by_action) - {"patient.read_deidentified"} == set(ACTIONS)


@pytest.mark.parametrize(("role", "action"), [(r, a) for r in Role for a in ACTIONS])
def test_each_cell_of_the_matrix_is_enforced(world: World, role: Role, action: str) -> None:
    actor = world.people[role]
    if _allowed(role, action):
        ACTIONS[action](world, actor)
    else:
        with pytest.raises(PermissionDeniedError):
            ACTIONS[action](world, actor)


@pytest.mark.parametrize("role", list(Role))
def test_only_researchers_get_the_deidentified_view(world: World, role: Role) -> None:
    if MATRIX.allows(role, "patient.read"):
        assert (
            "mrn" in read_patient(world.app.services, world.people[role], world.patient)["patient"]
        )
    elif MATRIX.allows(role, "patient.read_deidentified"):
        view: dict[str, Any] = read_patient(world.app.services, world.people[role], world.patient)
        assert set(view["patient"]) == {
            "id",
            "study_id",
            "age_at_referral_years",
            "sex",
            "diagnosis",
            "referral_year",
            "day_zero",
        }
    else:
        with pytest.raises(PermissionDeniedError):
            read_patient(world.app.services, world.people[role], world.patient)


def test_the_matrix_keeps_its_safety_properties() -> None:
    assert not MATRIX.allows(Role.RESEARCHER, "patient.read")
    assert not MATRIX.allows(Role.ADMINISTRATOR, "patient.read")
    assert {r for r in Role if MATRIX.allows(r, "dose.override")} == {Role.PHYSICIAN}
    assert {r for r in Role if MATRIX.allows(r, "dose.verify")} == {Role.NURSE, Role.PHYSICIAN}


@pytest.mark.parametrize("role", list(Role))
def test_a_role_corrects_only_the_kinds_it_may_record(world: World, role: Role) -> None:
    """Correcting needs `entry.correct` and the right to record the kind: a coordinator, who
    records follow-up, corrects it; nobody corrects a kind they may not record."""
    services, physician = world.app.services, world.people[Role.PHYSICIAN]
    fresh = record_follow_up(
        services, physician, world.patient, observed_on="2026-12-07", status="alive_no_progression"
    )
    fix = {"status": "alive_progression"}
    if MATRIX.allows(role, "entry.correct") and MATRIX.allows(role, "followup.record"):
        fixed = correct_entry(services, world.people[role], world.patient, fresh.id,
                              content=fix, reason="scan read again")  # fmt: skip
        assert fixed.corrects_id == fresh.id
    else:
        with pytest.raises(PermissionDeniedError):
            correct_entry(services, world.people[role], world.patient, fresh.id,
                          content=fix, reason="scan read again")  # fmt: skip
    assert MATRIX.allows(Role.COORDINATOR, "entry.correct")
