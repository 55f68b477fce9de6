"""Every role x action cell of the permission matrix, enforced by the real services."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.rules.loader import load_rules
from il2.services.accounts import add_user
from il2.services.audit import export_audit
from il2.services.clinical import correct_entry, record_follow_up, record_response, record_toxicity
from il2.services.courses import DoseSubmission, plan_course, submit_dose
from il2.services.outcomes import program
from il2.services.patients import create_patient, read_patient, record_screening
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    ROOT,
    partial_response_so_far,
    stable_assessment,
    staff,
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
        self.course = plan_course(
            app.services,
            physician,
            self.patient,
            regimen="hd-label",
            weight_kg=70,
            first_dose="2026-12-07T08:00:00-08:00",
        ).id
        self.entry = record_toxicity(
            app.services,
            physician,
            self.patient,
            observed_on="2026-12-06",
            course_id=self.course,
            findings=TOXICITY,
        ).id

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

    def held_dose(self, actor: Actor) -> object:
        low = stable_assessment()
        low["vitals"]["spo2_pct"] = 89
        return submit_dose(
            self.app.services,
            actor,
            self.course,
            DoseSubmission(cycle=1, dose_number=next(_SLOTS), assessment=low),
        )

    def overridden_dose(self, actor: Actor) -> object:
        low = stable_assessment()
        low["vitals"]["spo2_pct"] = 89
        verifier = "nurse2" if actor.username != "nurse2" else "nurse"
        return submit_dose(
            self.app.services,
            actor,
            self.course,
            DoseSubmission(
                cycle=1,
                dose_number=next(_SLOTS),
                assessment=low,
                outcome=DoseOutcome.GIVEN,
                given_at=self.app.services.clock(),
                verified_by=verifier,
                override_reason="physician judgement",
            ),
        )


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
    "dose.record": World.held_dose,
    "dose.override": World.overridden_dose,
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
    "entry.correct": World.corrected_entry,
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
}
MATRIX = load_rules().permissions


def _allowed(role: Role, action: str) -> bool:
    if action == "dose.override":
        return MATRIX.allows(role, "dose.record") and MATRIX.allows(role, "dose.override")
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
        }
    else:
        with pytest.raises(PermissionDeniedError):
            read_patient(world.app.services, world.people[role], world.patient)


def test_the_matrix_keeps_its_safety_properties() -> None:
    assert not MATRIX.allows(Role.RESEARCHER, "patient.read")
    assert not MATRIX.allows(Role.ADMINISTRATOR, "patient.read")
    assert {r for r in Role if MATRIX.allows(r, "dose.override")} == {Role.PHYSICIAN}
