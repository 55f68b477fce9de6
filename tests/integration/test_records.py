"""The pathway as records, on SQLite and PostgreSQL: ledger, overrides, corrections, audit."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from il2.bootstrap import App
from il2.domain.deidentify import study_number
from il2.domain.errors import ConflictError, InvalidInputError, PermissionDeniedError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.persistence.tables import UserRow
from il2.services.audit import export_audit
from il2.services.clinical import correct_entry, record_toxicity
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient, read_patient, record_screening
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    ROOT,
    screen_eligible,
    stable_assessment,
    staff,
)
from tests.integration.conftest import FixedClock


def _course(app: App) -> tuple[dict[Role, Actor], int, int]:
    people = staff(app)
    patient = create_patient(app.services, people[Role.PHYSICIAN], PATIENT)
    screen_eligible(app.services, people[Role.PHYSICIAN], patient.id)
    course = plan_course(app.services, people[Role.PHYSICIAN], patient.id, regimen="hd-label",
                         weight_kg=70, first_dose="2026-12-07T08:00:00-08:00")  # fmt: skip
    return people, patient.id, course.id


def _given(number: int, clock: FixedClock, key: str | None = None) -> DoseSubmission:
    return DoseSubmission(
        cycle=1,
        dose_number=number,
        assessment=stable_assessment(),
        outcome=DoseOutcome.GIVEN,
        given_at=clock.now,
        verified_by="nurse2",
        verifier_password=PASSWORD,
        idempotency_key=key,
    )


def test_a_course_plan_keeps_every_dose_slot(app: App) -> None:
    people, patient_id, _ = _course(app)
    record = read_patient(app.services, people[Role.NURSE], patient_id)
    (course,) = record["courses"]
    assert [len(c["doses"]) for c in course["plan"]["cycles"]] == [14, 14]
    assert record["patient"]["mrn"] == "MRN-0001"


def test_a_dose_is_recorded_once_and_a_second_submission_conflicts_with_the_first(
    app: App, clock: FixedClock
) -> None:
    people, _, course_id = _course(app)
    first = submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock))
    assert first.created
    assert first.record.decision_action == "give"
    with pytest.raises(ConflictError) as clash:
        submit_dose(app.services, people[Role.PHYSICIAN], course_id, _given(1, clock))
    assert clash.value.existing == first.record


def test_a_retry_with_the_same_key_returns_the_first_result(app: App, clock: FixedClock) -> None:
    people, _, course_id = _course(app)
    first = submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock, key="k-1"))
    again = submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock, key="k-1"))
    assert (again.created, again.record) == (False, first.record)


def _shown_doses(app: App, people: dict[Role, Actor]) -> list[tuple[object, ...]]:
    """The audit rows saying who was shown which dose record, and about whom."""
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    return [
        (e["username"], e["action"], e["entity"], e["entity_id"], e["patient_id"])
        for e in trail
        if e["action"] in {"read_dose_conflict", "read_dose_replay"}
    ]


def test_a_conflict_and_a_replay_audit_who_was_shown_the_first_record(
    app: App, clock: FixedClock
) -> None:
    people, patient_id, course_id = _course(app)
    first = submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock, key="k-1"))
    assert _shown_doses(app, people) == []  # the write is audited as a create, not a read
    with pytest.raises(ConflictError):
        submit_dose(app.services, people[Role.PHYSICIAN], course_id, _given(1, clock))
    submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock, key="k-1"))
    dose = str(first.record.id)
    assert _shown_doses(app, people) == [
        ("physician", "read_dose_conflict", "dose", dose, patient_id),
        ("nurse", "read_dose_replay", "dose", dose, patient_id),
    ]


def test_fifty_concurrent_submissions_of_one_dose_make_exactly_one_record(
    app: App, clock: FixedClock
) -> None:
    people, _, course_id = _course(app)

    def submit(_: int) -> str:
        try:
            submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock))
        except ConflictError as clash:
            return "conflict" if clash.existing is not None else "conflict without the first record"
        return "created"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(submit, range(50)))
    assert outcomes.count("created") == 1
    assert outcomes.count("conflict") == 49
    record = read_patient(app.services, people[Role.NURSE], 1)
    assert len(record["doses"]) == 1


def test_an_incomplete_assessment_is_refused_and_consumes_nothing(
    app: App, clock: FixedClock
) -> None:
    people, patient_id, course_id = _course(app)
    low = stable_assessment()
    low["vitals"]["spo2_pct"] = 89  # the oxygen flow it was titrated on is unknown
    with pytest.raises(RefusedError, match="incomplete") as refused:
        submit_dose(app.services, people[Role.NURSE], course_id,
                    DoseSubmission(cycle=1, dose_number=1, assessment=low))  # fmt: skip
    assert [r.code for r in refused.value.reasons] == ["assessment-incomplete"]
    assert read_patient(app.services, people[Role.NURSE], patient_id)["doses"] == []
    assert submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock)).created


def test_a_low_sbp_is_held_and_giving_it_needs_a_physician_override(
    app: App, clock: FixedClock
) -> None:
    people, _, course_id = _course(app)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    held = submit_dose(app.services, people[Role.NURSE], course_id,
                       DoseSubmission(cycle=1, dose_number=1, assessment=low))  # fmt: skip
    assert held.record.outcome is DoseOutcome.HELD
    assert held.record.decision["reasons"][0]["rule"] == "label-sbp-low"
    clock.now += timedelta(hours=8)
    give_anyway = DoseSubmission(cycle=1, dose_number=2, assessment=low, outcome=DoseOutcome.GIVEN,
                                 given_at=clock.now, verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
    with pytest.raises(RefusedError, match="only a physician may give it") as refused:
        submit_dose(app.services, people[Role.NURSE], course_id, give_anyway)
    # The low pressure holds dose 2 twice over: by the rule, and by dose 1's hold still open in
    # the ledger (the pressure has not recovered).
    assert sorted((r.code, r.overridable) for r in refused.value.reasons) == [
        ("label-sbp-low", True),
        ("open-hold-sbp", True),
    ]
    with pytest.raises(InvalidInputError, match="override_reason"):
        submit_dose(app.services, people[Role.PHYSICIAN], course_id, give_anyway)
    overridden = submit_dose(app.services, people[Role.PHYSICIAN], course_id,
                             replace(give_anyway, override_reason="SBP 85 after a bolus, 96 on recheck"))  # fmt: skip
    assert overridden.record.override_by == "physician"
    assert sorted(overridden.record.decision["overridden"]) == ["label-sbp-low", "open-hold-sbp"]


def test_an_early_dose_is_not_due_and_recording_it_consumes_nothing(
    app: App, clock: FixedClock
) -> None:
    people, patient_id, course_id = _course(app)
    submit_dose(app.services, people[Role.NURSE], course_id, _given(1, clock))
    clock.now += timedelta(hours=7)  # inside the window, but 8 h must pass since dose 1
    with pytest.raises(RefusedError, match="becomes due at") as refused:
        submit_dose(app.services, people[Role.NURSE], course_id,
                    DoseSubmission(cycle=1, dose_number=2, assessment=stable_assessment()))  # fmt: skip
    assert [r.code for r in refused.value.reasons] == ["not-due"]
    assert len(read_patient(app.services, people[Role.NURSE], patient_id)["doses"]) == 1
    clock.now += timedelta(hours=1)
    on_time = submit_dose(app.services, people[Role.NURSE], course_id, _given(2, clock))
    assert on_time.record.assessment["hours_since_last_dose"] == 8.0


def test_a_given_dose_needs_a_second_user_to_verify_it(app: App, clock: FixedClock) -> None:
    people, _, course_id = _course(app)
    with pytest.raises(InvalidInputError, match="verified_by"):
        submit_dose(app.services, people[Role.NURSE], course_id,
                    DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                                   outcome=DoseOutcome.GIVEN, given_at=clock.now, verified_by="nurse"))  # fmt: skip


@pytest.mark.parametrize("verifier", ["nobody", "nurse2 (deactivated)"])
def test_a_given_dose_needs_a_verifier_with_an_active_account(
    app: App, clock: FixedClock, verifier: str
) -> None:
    people, patient_id, course_id = _course(app)
    if verifier.endswith("(deactivated)"):
        verifier = verifier.split(maxsplit=1)[0]
        with app.engine.begin() as connection:
            connection.execute(
                update(UserRow).where(UserRow.username == verifier).values(active=False)
            )
    submission = replace(_given(1, clock), verified_by=verifier)
    with pytest.raises(InvalidInputError, match="another active user signing") as refused:
        submit_dose(app.services, people[Role.NURSE], course_id, submission)
    assert (refused.value.field, refused.value.value) == ("verified_by", verifier)
    assert read_patient(app.services, people[Role.NURSE], patient_id)["doses"] == []


def test_the_verifier_refusal_does_not_tell_whether_the_username_exists(
    app: App, clock: FixedClock
) -> None:
    """Security review D13: an unknown verifier and a real one with a wrong password were told
    apart by the refusal; now both get the same words, and a role is named only once the
    verifier's password has been checked."""
    people, _, course_id = _course(app)
    answers = []
    for name, password in (("nobody", PASSWORD), ("nurse2", "not-the-password"),
                           ("researcher", "not-the-password")):  # fmt: skip
        submission = replace(_given(1, clock), verified_by=name, verifier_password=password)
        with pytest.raises(InvalidInputError) as refused:
            submit_dose(app.services, people[Role.NURSE], course_id, submission)
        answers.append((refused.value.field, refused.value.allowed))
    assert len(set(answers)) == 1, answers
    submission = replace(_given(1, clock), verified_by="researcher")
    with pytest.raises(InvalidInputError, match="role may verify"):
        submit_dose(app.services, people[Role.NURSE], course_id, submission)


def test_researchers_see_no_identifiers_and_administrators_no_records(app: App) -> None:
    people, patient_id, _ = _course(app)
    view = read_patient(app.services, people[Role.RESEARCHER], patient_id)
    number = study_number(patient_id, key=app.services.study_key)
    assert view["patient"] == {"id": patient_id, "study_id": number, "age_at_referral_years": 58,
                               "sex": "female", "diagnosis": "melanoma", "referral_year": 2026,
                               "day_zero": "first dose"}  # fmt: skip
    assert "MRN-0001" not in json.dumps(view)
    with pytest.raises(PermissionDeniedError):
        read_patient(app.services, people[Role.ADMINISTRATOR], patient_id)


def test_a_correction_is_a_new_entry_pointing_at_the_old_and_both_are_audited(app: App) -> None:
    people, patient_id, course_id = _course(app)
    findings = {
        "ctcae_version": "5.0",
        "findings": [{"term": "platelet_count_decreased", "value": 60000, "unit": "per_ul"}],
    }
    first = record_toxicity(app.services, people[Role.NURSE], patient_id, observed_on="2026-12-07",
                            course_id=course_id, findings=findings)  # fmt: skip
    assert first.summary == "platelet_count_decreased grade 2"
    fixed = correct_entry(app.services, people[Role.PHYSICIAN], patient_id, first.id,
                          content={**findings, "findings": [{"term": "platelet_count_decreased", "value": 40000, "unit": "per_ul"}]}, reason="transcription error")  # fmt: skip
    assert (fixed.corrects_id, fixed.kind) == (first.id, "toxicity")
    assert fixed.summary.startswith("platelet_count_decreased grade 3 (correction of entry")
    entries = read_patient(app.services, people[Role.PHYSICIAN], patient_id)["entries"]
    assert [e["id"] for e in entries] == [first.id, fixed.id]
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    corrected = [e for e in trail if e["action"] == "correct"]
    assert corrected[0]["before"]["id"] == first.id
    assert {e["action"] for e in trail} >= {"create", "read", "correct"}


def test_every_write_and_read_of_a_patient_leaves_an_audit_entry(app: App) -> None:
    people, patient_id, _ = _course(app)
    before = len(export_audit(app.services, people[Role.ADMINISTRATOR]))
    read_patient(app.services, people[Role.NURSE], patient_id)
    record_screening(app.services, people[Role.PHYSICIAN], patient_id,
                     json.loads((ROOT / "examples/candidates/eligible-renal.json").read_text()))  # fmt: skip
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    new = trail[before:]
    assert [(e["username"], e["action"], e["entity"]) for e in new] == [
        ("nurse", "read", "patient"),
        ("physician", "create", "screening"),
        ("administrator", "export", "audit"),  # the export is recorded before it streams
    ]
    assert "verdict" in new[1]["after"]["fields"]  # administrators see which fields, not values
    with app.services.uow() as uow:
        stored = uow.audit.entries()[before + 1]
    assert stored.after is not None
    assert stored.after["verdict"] == "eligible"
