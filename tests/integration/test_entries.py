"""Toxicity, response and follow-up entries on SQLite and PostgreSQL: dates checked against the
clock and the patient's birth, corrections that keep the original, and refusals audited.

The clock stands at 2026-12-07 16:00 UTC (the site's zone); the patient was born 1968-04-02.
"""

from __future__ import annotations

from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import InvalidInputError, PermissionDeniedError, RefusedError
from il2.domain.records import Actor, Role
from il2.services.audit import export_audit
from il2.services.clinical import correct_entry, record_follow_up, record_response, record_toxicity
from il2.services.patients import create_patient, read_patient
from tests.integration.builders import PATIENT, staff

FEVER = {"ctcae_version": "5.0", "findings": [{"term": "fever", "value": 38.5, "unit": "c"}]}


def _patient(app: App) -> tuple[dict[Role, Actor], int]:
    people = staff(app)
    return people, create_patient(app.services, people[Role.PHYSICIAN], PATIENT).id


def _scans(*dates: str, sizes: tuple[int, ...] = (40, 20, 18)) -> dict[str, Any]:
    return {
        "confirmation_required": False,
        "assessments": [
            {
                "date": on,
                "target_lesions": [{"id": "L1", "organ": "lung", "diameter_mm": size}],
                "non_target": "absent",
            }
            for on, size in zip(dates, sizes, strict=False)
        ],
    }


def _entries(app: App, people: dict[Role, Actor], patient_id: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = read_patient(app.services, people[Role.PHYSICIAN], patient_id)[
        "entries"
    ]
    return entries


def _refusals(app: App, people: dict[Role, Actor]) -> list[dict[str, Any]]:
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    return [e for e in trail if e["action"].startswith("refuse_")]


@pytest.mark.parametrize(
    ("observed_on", "allowed"),
    [
        ("2026-12-08", "a date not after today (2026-12-07)"),
        ("2030-01-01", "a date not after today (2026-12-07)"),
        ("1968-04-01", "a date on or after the patient's birth (1968-04-02)"),
        ("1900-01-01", "a date on or after the patient's birth (1968-04-02)"),
    ],
)
def test_a_toxicity_observed_in_the_future_or_before_birth_is_refused_and_only_audited(
    app: App, observed_on: str, allowed: str
) -> None:
    people, patient_id = _patient(app)
    with pytest.raises(InvalidInputError) as refused:
        record_toxicity(app.services, people[Role.NURSE], patient_id, observed_on=observed_on,
                        course_id=None, findings=FEVER)  # fmt: skip
    assert (refused.value.field, refused.value.value, refused.value.allowed) == (
        "observed_on",
        observed_on,
        allowed,
    )
    assert _entries(app, people, patient_id) == []
    [audited] = _refusals(app, people)
    assert (audited["action"], audited["entity"], audited["after"]["field"]) == (
        "refuse_create",
        "toxicity",
        "observed_on",
    )


@pytest.mark.parametrize("observed_on", ["2026-12-07", "1968-04-02"])
def test_a_toxicity_observed_today_or_on_the_day_of_birth_is_kept(
    app: App, observed_on: str
) -> None:
    people, patient_id = _patient(app)
    entry = record_toxicity(app.services, people[Role.NURSE], patient_id,
                            observed_on=observed_on, course_id=None, findings=FEVER)  # fmt: skip
    assert entry.observed_on.isoformat() == observed_on


def test_a_scan_dated_tomorrow_is_refused_naming_the_scan(app: App) -> None:
    people, patient_id = _patient(app)
    with pytest.raises(InvalidInputError) as refused:
        record_response(app.services, people[Role.PHYSICIAN], patient_id, course_id=None,
                        measurements=_scans("2026-10-01", "2026-12-08"))  # fmt: skip
    assert (refused.value.field, refused.value.value) == ("assessments[1].date", "2026-12-08")
    assert refused.value.allowed == "a date not after today (2026-12-07)"
    assert _entries(app, people, patient_id) == []


def test_a_scan_dated_before_the_baseline_is_refused_not_re_sorted(app: App) -> None:
    people, patient_id = _patient(app)
    with pytest.raises(InvalidInputError) as refused:
        record_response(app.services, people[Role.PHYSICIAN], patient_id, course_id=None,
                        measurements=_scans("2026-12-04", "2026-11-20"))  # fmt: skip
    assert (refused.value.field, refused.value.value) == ("assessments[1].date", "2026-11-20")
    assert "after the scan before it (2026-12-04)" in refused.value.allowed
    assert _entries(app, people, patient_id) == []


def test_scans_up_to_today_in_order_are_assessed(app: App) -> None:
    people, patient_id = _patient(app)
    entry = record_response(app.services, people[Role.PHYSICIAN], patient_id, course_id=None,
                            measurements=_scans("2026-10-01", "2026-12-07"))  # fmt: skip
    assert entry.observed_on.isoformat() == "2026-12-07"
    assert entry.summary == "best overall response PR"


def test_progression_and_death_are_follow_ups_dated_no_later_than_today(app: App) -> None:
    people, patient_id = _patient(app)
    doctor = people[Role.PHYSICIAN]
    record_follow_up(app.services, doctor, patient_id, observed_on="2026-11-01",
                     status="alive_progression", notes="new liver lesion on CT")  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-31", status="dead")
    assert (refused.value.field, refused.value.value) == ("observed_on", "2026-12-31")
    record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-06", status="dead")
    kept = [(e["summary"], e["observed_on"]) for e in _entries(app, people, patient_id)]
    assert kept == [("alive_progression", "2026-11-01"), ("dead", "2026-12-06")]


def test_a_follow_up_with_an_unknown_status_names_the_field(app: App) -> None:
    people, patient_id = _patient(app)
    with pytest.raises(InvalidInputError) as refused:
        record_follow_up(app.services, people[Role.COORDINATOR], patient_id,
                         observed_on="2026-12-01", status="better")  # fmt: skip
    assert (refused.value.field, refused.value.value) == ("status", "better")


def test_a_follow_up_date_can_be_corrected_and_the_original_is_kept(app: App) -> None:
    people, patient_id = _patient(app)
    doctor = people[Role.PHYSICIAN]
    death = record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-01",
                             status="dead")  # fmt: skip
    fixed = correct_entry(app.services, doctor, patient_id, death.id,
                          content={"status": "dead", "notes": None}, observed_on="2026-11-28",
                          reason="date of death from the certificate")  # fmt: skip
    assert (fixed.corrects_id, fixed.observed_on.isoformat()) == (death.id, "2026-11-28")
    assert fixed.reason == "date of death from the certificate"
    kept = [(e["id"], e["observed_on"]) for e in _entries(app, people, patient_id)]
    assert kept == [(death.id, "2026-12-01"), (fixed.id, "2026-11-28")]


def test_a_correction_dated_in_the_future_is_refused(app: App) -> None:
    people, patient_id = _patient(app)
    entry = record_toxicity(app.services, people[Role.NURSE], patient_id,
                            observed_on="2026-12-07", course_id=None, findings=FEVER)  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        correct_entry(app.services, people[Role.NURSE], patient_id, entry.id, content=FEVER,
                      observed_on="2027-01-01", reason="wrong day")  # fmt: skip
    assert (refused.value.field, refused.value.value) == ("observed_on", "2027-01-01")
    assert len(_entries(app, people, patient_id)) == 1


def test_a_response_correction_takes_its_date_from_its_scans(app: App) -> None:
    people, patient_id = _patient(app)
    doctor = people[Role.PHYSICIAN]
    first = record_response(app.services, doctor, patient_id, course_id=None,
                            measurements=_scans("2026-10-01", "2026-12-01"))  # fmt: skip
    fixed = correct_entry(app.services, doctor, patient_id, first.id,
                          content=_scans("2026-10-01", "2026-11-30", sizes=(40, 50)),
                          reason="scan 2 was misread")  # fmt: skip
    assert fixed.observed_on.isoformat() == "2026-11-30"
    assert fixed.summary.startswith("best overall response PD")


def test_a_correction_needs_a_reason(app: App) -> None:
    people, patient_id = _patient(app)
    entry = record_toxicity(app.services, people[Role.NURSE], patient_id,
                            observed_on="2026-12-07", course_id=None, findings=FEVER)  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        correct_entry(app.services, people[Role.NURSE], patient_id, entry.id, content=FEVER,
                      reason="  ")  # fmt: skip
    assert refused.value.field == "reason"
    assert len(_entries(app, people, patient_id)) == 1


def test_an_entry_already_corrected_is_refused_a_second_correction(app: App) -> None:
    people, patient_id = _patient(app)
    nurse = people[Role.NURSE]
    entry = record_toxicity(app.services, nurse, patient_id, observed_on="2026-12-07",
                            course_id=None, findings=FEVER)  # fmt: skip
    fixed = correct_entry(app.services, nurse, patient_id, entry.id, content=FEVER,
                          reason="re-measured")  # fmt: skip
    with pytest.raises(RefusedError) as refused:
        correct_entry(app.services, nurse, patient_id, entry.id, content=FEVER, reason="again")
    assert [r.code for r in refused.value.reasons] == ["already_corrected"]
    again = correct_entry(app.services, nurse, patient_id, fixed.id, content=FEVER,
                          reason="again")  # fmt: skip
    assert again.corrects_id == fixed.id
    assert [e["corrects_id"] for e in _entries(app, people, patient_id)] == [
        None,
        entry.id,
        fixed.id,
    ]
    [audited] = _refusals(app, people)
    assert (audited["action"], audited["after"]["reasons"]) == (
        "refuse_correct",
        ["already_corrected"],
    )


def test_a_nurse_may_correct_a_toxicity_but_not_a_response(app: App) -> None:
    people, patient_id = _patient(app)
    response = record_response(app.services, people[Role.PHYSICIAN], patient_id, course_id=None,
                               measurements=_scans("2026-10-01", "2026-12-01"))  # fmt: skip
    with pytest.raises(PermissionDeniedError, match="response"):
        correct_entry(app.services, people[Role.NURSE], patient_id, response.id,
                      content=_scans("2026-10-01", "2026-12-01"), reason="typo")  # fmt: skip
    assert len(_entries(app, people, patient_id)) == 1


def test_nothing_follows_a_recorded_death_but_the_death_itself_can_be_corrected(
    app: App,
) -> None:
    people, patient_id = _patient(app)
    doctor = people[Role.PHYSICIAN]
    death = record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-01",
                             status="dead")  # fmt: skip
    with pytest.raises(RefusedError) as refused:
        record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-05",
                         status="alive_no_progression")  # fmt: skip
    assert [r.code for r in refused.value.reasons] == ["death_recorded"]
    with pytest.raises(InvalidInputError) as late:
        record_toxicity(app.services, people[Role.NURSE], patient_id, observed_on="2026-12-02",
                        course_id=None, findings=FEVER)  # fmt: skip
    assert (late.value.field, late.value.allowed) == (
        "observed_on",
        "a date not after the patient's death (2026-12-01)",
    )
    record_toxicity(app.services, people[Role.NURSE], patient_id, observed_on="2026-12-01",
                    course_id=None, findings=FEVER)  # fmt: skip
    fixed = correct_entry(app.services, doctor, patient_id, death.id,
                          content={"status": "dead", "notes": None}, observed_on="2026-12-04",
                          reason="date on the certificate")  # fmt: skip
    assert fixed.observed_on.isoformat() == "2026-12-04"
    assert [e["kind"] for e in _entries(app, people, patient_id)] == [
        "follow_up",
        "toxicity",
        "follow_up",
    ]
    assert [e["action"] for e in _refusals(app, people)] == ["refuse_create", "refuse_create"]
