"""Studies in the pages: a coordinator defines a study and assigns a patient from the chart;
a nurse sees the arm; a researcher sees the arms compared on the outcomes page, de-identified."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_outcomes import _signed_in
from tests.integration.builders import staff
from tests.integration.odd_records import OddRecords, at
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.web.app import web_router

ARMS = {
    "name": "SBRT + HD IL-2 vs HD IL-2",
    "registry_id": "NCT01416831",
    "arms[0].id": "il2",
    "arms[0].name": "HD IL-2 alone",
    "arms[1].id": "sbrt-il2",
    "arms[1].name": "SBRT then HD IL-2",
}


@pytest.fixture
def client(app: App) -> Iterator[FormClient]:
    staff(app)
    asgi = FastAPI()
    asgi.include_router(web_router(app))
    with FormClient(asgi) as test_client:
        yield test_client


@pytest.fixture
def patients(app: App) -> list[int]:
    """A treated melanoma patient with a partial response, and one referred, never treated."""
    odd = OddRecords(app)
    treated = odd.patient("M1", referred_on=date(2025, 3, 2))
    odd.doses_as_planned(odd.course(treated, at(date(2025, 6, 1))), 1, 4)
    odd.response(treated, "PR", baseline_on=date(2025, 5, 20), assessed_on=date(2025, 8, 1),
                 response_on=date(2025, 8, 1))  # fmt: skip
    return [treated, odd.patient("M2", referred_on=date(2026, 5, 4))]


def _define(client: FormClient) -> int:
    answer = client.post("/studies", data=ARMS, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[-1])


def test_a_coordinator_defines_a_study_and_assigns_from_the_chart(
    client: FormClient, patients: list[int]
) -> None:
    _signed_in(client, "coordinator")
    page = client.get("/studies").text
    assert 'name="arms[0].id"' in page
    assert 'name="il2_csrf"' in page or "csrf" in page
    study = _define(client)
    chart = client.get(f"/patients/{patients[0]}").text
    assert f'id="study-{study}"' in chart
    assert "Arm: <strong>none</strong>" in chart
    done = client.post(f"/patients/{patients[0]}/studies/{study}",
                       data={"kind": "assigned", "arm": "sbrt-il2"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    assert "Arm: <strong>SBRT then HD IL-2</strong>" in client.get(f"/patients/{patients[0]}").text
    enrolment = client.get(f"/studies/{study}").text
    assert f"Patient {patients[0]}" in enrolment


def test_a_bad_registry_id_is_shown_beside_its_field_and_nothing_typed_is_lost(
    client: FormClient,
) -> None:
    _signed_in(client, "physician")
    answer = client.post("/studies", data={**ARMS, "registry_id": "NCT-1"})
    assert answer.status_code == 422
    assert 'id="f-registry_id-error"' in answer.text
    assert 'value="NCT-1"' in answer.text
    assert 'value="SBRT then HD IL-2"' in answer.text
    assert "No study defined yet" in answer.text


def test_assigning_a_patient_already_in_an_arm_is_shown_beside_what_was_chosen(
    client: FormClient, patients: list[int]
) -> None:
    _signed_in(client, "coordinator")
    study = _define(client)
    client.post(f"/patients/{patients[0]}/studies/{study}", data={"kind": "assigned", "arm": "il2"})
    again = client.post(f"/patients/{patients[0]}/studies/{study}",
                        data={"kind": "assigned", "arm": "sbrt-il2", "reason": "typed"})  # fmt: skip
    assert again.status_code == 422
    assert f'id="f-kind-{study}-error"' in again.text
    assert 'value="typed"' in again.text
    assert "correct the assignment" in again.text


def test_a_nurse_sees_the_arm_on_the_chart_without_the_form(
    client: FormClient, patients: list[int]
) -> None:
    _signed_in(client, "coordinator")
    study = _define(client)
    client.post(f"/patients/{patients[0]}/studies/{study}", data={"kind": "assigned", "arm": "il2"})
    client.post("/sign-out")
    client.cookies.clear()
    _signed_in(client, "nurse")
    chart = client.get(f"/patients/{patients[0]}").text
    assert "Arm: <strong>HD IL-2 alone</strong>" in chart
    assert "assignment-form" not in chart
    assert client.get(f"/patients/{patients[0]}/studies/{study}").status_code == 403


def test_a_researcher_sees_the_arms_compared_de_identified(
    client: FormClient, patients: list[int]
) -> None:
    _signed_in(client, "coordinator")
    study = _define(client)
    for patient, arm in zip(patients, ("il2", "sbrt-il2"), strict=True):
        client.post(f"/patients/{patient}/studies/{study}", data={"kind": "assigned", "arm": arm,
                    "on": "2026-12-01", "reason": "sealed envelope"})  # fmt: skip
    client.post("/sign-out")
    client.cookies.clear()
    _signed_in(client, "researcher")
    outcomes = client.get("/outcomes").text
    section = outcomes.split('id="by-arm"', 1)[1].split("</section>", 1)[0]
    assert "HD IL-2 alone" in section
    assert "SBRT then HD IL-2" in section
    assert "Intention to treat" in section
    # the never-treated patient counts in their arm's denominator: 0 of 1
    row = re.search(r"SBRT then HD IL-2.*?</tr>", section, re.S)
    assert row is not None
    assert "0/1" in row.group(0)
    enrolment = client.get(f"/studies/{study}").text
    for secret in ("M1", "M2", "2026-12-01", "sealed envelope", f"/patients/{patients[0]}"):
        assert secret not in enrolment
    assert "/study/S-" in enrolment
    exported = client.get(f"/outcomes.csv?study={study}").text
    assert "comparison,by_arm.1,name,SBRT then HD IL-2" in exported
    unknown = client.get("/outcomes?study=999")
    assert unknown.status_code == 422
    assert "f-study-error" in unknown.text
