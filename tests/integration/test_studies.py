"""Studies and arms on SQLite and PostgreSQL: define, assign, correct, withdraw; refusals keep
nothing but their audit entry; a patient is in one arm of a study at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from il2.bootstrap import App
from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError
from il2.domain.records import Actor, Role
from il2.services.patients import create_patient
from il2.services.studies import (
    create_study,
    list_studies,
    patient_studies,
    record_assignment,
    study_assignments,
)
from tests.integration.builders import PATIENT, staff

SBRT_TRIAL: dict[str, Any] = {
    "name": "SBRT + HD IL-2 vs HD IL-2",
    "registry_id": "NCT01416831",
    "description": "Stereotactic body radiation then high-dose IL-2, against IL-2 alone",
    "arms": [
        {"id": "il2", "name": "HD IL-2 alone", "description": "aldesleukin 600,000 IU/kg"},
        {"id": "sbrt-il2", "name": "SBRT then HD IL-2", "description": "SBRT, then IL-2"},
    ],
}


@pytest.fixture
def team(app: App) -> dict[Role, Actor]:
    return staff(app)


def _patient(app: App, who: Actor, mrn: str = "MRN-0001") -> int:
    return create_patient(app.services, who, {**PATIENT, "mrn": mrn}).id


def _count(app: App, table: str) -> int:
    with app.engine.connect() as connection:
        found = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
    return int(found)


def _audit(app: App, action: str) -> list[tuple[str, str]]:
    with app.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT action, entity FROM audit WHERE action = :a ORDER BY id"), {"a": action}
        )
        return [(r[0], r[1]) for r in rows]


def test_a_coordinator_defines_a_study_and_assigns_corrects_and_withdraws(
    app: App, team: dict[Role, Actor]
) -> None:
    coordinator = team[Role.COORDINATOR]
    study = create_study(app.services, coordinator, SBRT_TRIAL)
    assert [a.code for a in study.arms] == ["il2", "sbrt-il2"]
    patient = _patient(app, coordinator)
    first = record_assignment(app.services, coordinator, study.id, patient, kind="assigned",
                              arm="il2", on="2026-12-01")  # fmt: skip
    fixed = record_assignment(app.services, coordinator, study.id, patient, kind="corrected",
                              arm="sbrt-il2", on="2026-12-01", reason="wrong arm picked")  # fmt: skip
    gone = record_assignment(app.services, coordinator, study.id, patient, kind="withdrawn",
                             on="2026-12-05", reason="withdrew consent")  # fmt: skip
    assert [first.sequence, fixed.sequence, gone.sequence] == [1, 2, 3]
    assert gone.arm_id is None
    listed = list_studies(app.services, team[Role.NURSE])
    arms = {a["id"]: (a["assigned"], a["in_arm_now"]) for a in listed[0]["arms"]}
    assert arms == {"il2": (0, 0), "sbrt-il2": (1, 0)}  # intention to treat keeps the last arm
    chart = patient_studies(app.services, team[Role.NURSE], patient)
    assert chart[0]["arm"] is None
    assert [r["kind"] for r in chart[0]["records"]] == ["assigned", "corrected", "withdrawn"]
    assert [a for a, _ in _audit(app, "corrected")] == ["corrected"]
    assert _audit(app, "withdrawn") == [("withdrawn", "arm_assignment")]
    assert ("create", "study") in [(a, e) for a, e in _audit(app, "create")]


def test_a_second_assignment_while_in_an_arm_is_a_conflict_that_keeps_nothing(
    app: App, team: dict[Role, Actor]
) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    record_assignment(app.services, physician, study.id, patient, kind="assigned", arm="il2")
    with pytest.raises(ConflictError, match="in an arm of the study now"):
        record_assignment(app.services, physician, study.id, patient, kind="assigned",
                          arm="sbrt-il2")  # fmt: skip
    assert _count(app, "arm_assignments") == 1
    assert _audit(app, "refuse_record") == [("refuse_record", "arm_assignment")]


def test_after_a_withdrawal_the_patient_may_be_assigned_again(
    app: App, team: dict[Role, Actor]
) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    record_assignment(app.services, physician, study.id, patient, kind="assigned", arm="il2")
    record_assignment(app.services, physician, study.id, patient, kind="withdrawn", reason="x")
    again = record_assignment(app.services, physician, study.id, patient, kind="assigned",
                              arm="sbrt-il2")  # fmt: skip
    assert again.sequence == 3
    assert patient_studies(app.services, physician, patient)[0]["arm"]["id"] == "sbrt-il2"


def test_the_database_keeps_one_record_per_chain_number(app: App, team: dict[Role, Actor]) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    record = record_assignment(app.services, physician, study.id, patient, kind="assigned",
                               arm="il2")  # fmt: skip
    with app.services.uow() as uow, pytest.raises(ConflictError, match="changed meanwhile"):
        uow.studies.assign(study_id=study.id, patient_id=patient, sequence=1, kind=record.kind,
                           arm_id=study.arms[1].id, on=date(2026, 12, 7), reason=None,
                           recorded_by="physician", at=app.services.clock())  # fmt: skip
    assert _count(app, "arm_assignments") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"registry_id": "NCT0141683"}, "registry_id"),
        ({"arms": SBRT_TRIAL["arms"][:1]}, "arms"),
        ({"arms": [SBRT_TRIAL["arms"][0], {**SBRT_TRIAL["arms"][1], "id": "il2"}]}, "arms[1].id"),
        (
            {"arms": [SBRT_TRIAL["arms"][0], {**SBRT_TRIAL["arms"][1], "id": "Bad Id"}]},
            "arms[1].id",
        ),
        ({"name": "  "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_study_is_refused_naming_the_field_and_nothing_is_kept(
    app: App, team: dict[Role, Actor], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        create_study(app.services, team[Role.COORDINATOR], {**SBRT_TRIAL, **change})
    assert refused.value.field == field
    assert refused.value.allowed
    assert _count(app, "studies") == 0
    assert _count(app, "study_arms") == 0
    assert _audit(app, "refuse_create") == [("refuse_create", "study")]


def test_a_study_name_or_registry_id_already_kept_is_a_conflict(
    app: App, team: dict[Role, Actor]
) -> None:
    create_study(app.services, team[Role.COORDINATOR], SBRT_TRIAL)
    with pytest.raises(ConflictError, match="NCT01416831"):
        create_study(app.services, team[Role.COORDINATOR], {**SBRT_TRIAL, "name": "Another"})
    assert _count(app, "studies") == 1
    assert _count(app, "study_arms") == 2


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"kind": "enrolled", "arm": "il2"}, "kind"),
        ({"kind": "assigned", "arm": "chemo"}, "arm"),
        ({"kind": "assigned", "arm": "il2", "on": "2026-12-31"}, "on"),
        ({"kind": "assigned", "arm": "il2", "on": "yesterday"}, "on"),
        ({"kind": "assigned", "arm": "il2", "on": "2026-11-01"}, "on"),  # before the referral
    ],
)
def test_a_bad_assignment_is_refused_naming_the_field(
    app: App, team: dict[Role, Actor], given: dict[str, str], field: str
) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    with pytest.raises(InvalidInputError) as refused:
        record_assignment(app.services, physician, study.id, patient, **given)
    assert refused.value.field == field
    assert _count(app, "arm_assignments") == 0


def test_a_correction_and_a_withdrawal_need_a_reason_and_an_arm_now(
    app: App, team: dict[Role, Actor]
) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    with pytest.raises(ConflictError, match="in no arm"):
        record_assignment(app.services, physician, study.id, patient, kind="withdrawn", reason="x")
    record_assignment(app.services, physician, study.id, patient, kind="assigned", arm="il2")
    with pytest.raises(InvalidInputError) as refused:
        record_assignment(app.services, physician, study.id, patient, kind="corrected",
                          arm="sbrt-il2")  # fmt: skip
    assert refused.value.field == "reason"
    with pytest.raises(InvalidInputError) as same:
        record_assignment(app.services, physician, study.id, patient, kind="corrected", arm="il2",
                          reason="again")  # fmt: skip
    assert same.value.field == "arm"
    assert _count(app, "arm_assignments") == 1


def test_an_unknown_study_or_patient_is_not_found(app: App, team: dict[Role, Actor]) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    with pytest.raises(NotFoundError):
        record_assignment(app.services, physician, study.id, 999, kind="assigned", arm="il2")
    with pytest.raises(NotFoundError):
        record_assignment(app.services, physician, 999, 1, kind="assigned", arm="il2")


def test_a_researcher_reads_assignments_by_study_number_without_dates_or_reasons(
    app: App, team: dict[Role, Actor]
) -> None:
    physician = team[Role.PHYSICIAN]
    study = create_study(app.services, physician, SBRT_TRIAL)
    patient = _patient(app, physician)
    record_assignment(app.services, physician, study.id, patient, kind="assigned", arm="il2",
                      on="2026-12-02", reason="randomised by the sealed envelope")  # fmt: skip
    seen = study_assignments(app.services, team[Role.RESEARCHER], study.id)
    flat = repr(seen)
    for secret in ("MRN-0001", "Test Patient", "2026-12-02", "sealed envelope", "physician"):
        assert secret not in flat
    assert seen["assignments"][0]["study_number"].startswith("S-")
    assert set(seen["assignments"][0]) == {"study_number", "sequence", "kind", "arm", "arm_name"}
    staff_view = study_assignments(app.services, physician, study.id)
    assert staff_view["assignments"][0]["patient_id"] == patient
    assert _audit(app, "read_assignments") == [("read_assignments", "study")] * 2
