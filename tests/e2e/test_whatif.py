"""What if on a real record (SQLite): a course whose ledger holds a given, a held and another
given dose, read through the service, the `il2 simulate whatif` console script and the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.deidentify import study_number
from il2.domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient
from il2.services.whatif import course_whatif, study_course_whatif
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[2]
IL2 = str(Path(sys.executable).parent / "il2")
TWINS = 16


@dataclass
class Ward:
    app: App
    database: Path
    people: dict[Role, Actor]
    clock: FixedClock
    patient: int
    course: int


def _given(ward: Ward, number: int) -> None:
    submit_dose(
        ward.app.services,
        ward.people[Role.NURSE],
        ward.course,
        DoseSubmission(
            cycle=1, dose_number=number, assessment=stable_assessment(),
            outcome=DoseOutcome.GIVEN, given_at=ward.clock(), verified_by="nurse2",
            verifier_password=PASSWORD,
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def ward(tmp_path_factory: pytest.TempPathFactory) -> Ward:
    """A melanoma patient on hd-label (70 kg): dose 1.1 given, 1.2 held (low blood pressure),
    1.3 given 8 hours later; nothing else recorded."""
    folder = tmp_path_factory.mktemp("whatif")
    database = folder / "il2.sqlite3"
    clock = FixedClock()
    settings = Settings(database_url=f"sqlite:///{database}", study_key_file=folder / "study.key")
    app = build_app(settings, clock=clock)
    upgrade_database(app)
    people = staff(app)
    physician = people[Role.PHYSICIAN]
    patient = create_patient(app.services, physician, PATIENT).id
    screen_eligible(app.services, physician, patient)
    course = plan_course(
        app.services, physician, patient, regimen="hd-label", weight_kg=70,
        first_dose="2026-12-07T08:00:00-08:00",
    )  # fmt: skip
    found = Ward(app, database, people, clock, patient, course.id)
    _given(found, 1)
    clock.now += timedelta(hours=8)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    held = submit_dose(
        app.services, people[Role.NURSE], course.id,
        DoseSubmission(cycle=1, dose_number=2, assessment=low),
    )  # fmt: skip
    assert held.record.outcome is DoseOutcome.HELD
    clock.now += timedelta(hours=8, minutes=30)
    _given(found, 3)
    return found


def test_the_service_simulates_the_ledger_beside_the_plan(ward: Ward) -> None:
    document, _ = course_whatif(
        ward.app.services, ward.people[Role.PHYSICIAN], ward.patient, twins=TWINS, seed=5
    )
    assert document["patient_id"] == ward.patient
    assert document["course"] == 1
    assert document["ledger"] == {"given": 2, "held": 1, "stopped": 0, "not_given": 25}
    actual, planned, label = document["schedules"]
    assert (actual["name"], planned["name"], label["name"]) == ("actual", "as_planned", "label")
    assert actual["doses_given"] == 2 < planned["doses_given"] == 28
    # hours from the first planned dose: 1.1 on time, 1.3 given 30 minutes late (16.5 h)
    assert actual["dose_hours"] == pytest.approx([0.0, 16.5])
    assert planned["dose_hours"][:3] == pytest.approx([0.0, 8.0, 16.0])
    assert document["twins"] == TWINS
    assert document["seed"] == 5
    assert "not advice" in document["disclaimer"]
    entries = export_audit(ward.app.services, ward.people[Role.ADMINISTRATOR])
    reads = [
        e for e in entries
        if e["action"] == "read" and e["entity"] == "course"
        and e["entity_id"] == str(ward.course) and e["username"] == "physician"
    ]  # fmt: skip
    assert reads


def test_a_researcher_gets_it_deidentified_and_a_nurse_is_refused(ward: Ward) -> None:
    services = ward.app.services
    document, _ = course_whatif(
        services, ward.people[Role.RESEARCHER], ward.patient, twins=TWINS, seed=5
    )
    assert "patient_id" not in document
    assert document["study_id"] == study_number(ward.patient, key=services.study_key)
    text = json.dumps(document)
    for identifier in (PATIENT["name"], PATIENT["mrn"], "2026-12-07", "2026"):
        assert identifier not in text
    physician, _ = course_whatif(
        services, ward.people[Role.PHYSICIAN], ward.patient, twins=TWINS, seed=5
    )
    assert document["schedules"] == physician["schedules"]
    entries = export_audit(services, ward.people[Role.ADMINISTRATOR])
    assert any(
        e["action"] == "read_deidentified" and e["entity"] == "course"
        and e["username"] == "researcher"
        for e in entries
    )  # fmt: skip
    number = study_number(ward.patient, key=services.study_key)
    by_number, _ = study_course_whatif(
        services, ward.people[Role.RESEARCHER], number, course_number=1, twins=TWINS, seed=5
    )
    assert by_number == document
    with pytest.raises(NotFoundError):  # staff read /patients/{id}, never by study number
        study_course_whatif(
            services, ward.people[Role.PHYSICIAN], number, course_number=1, twins=TWINS, seed=5
        )
    for role in (Role.NURSE, Role.PHARMACIST, Role.COORDINATOR, Role.ADMINISTRATOR):
        with pytest.raises(PermissionDeniedError):
            course_whatif(services, ward.people[role], ward.patient, twins=TWINS, seed=5)


def test_a_course_number_the_patient_does_not_have_is_refused_naming_it(ward: Ward) -> None:
    with pytest.raises(InvalidInputError) as refused:
        course_whatif(
            ward.app.services, ward.people[Role.PHYSICIAN], ward.patient, course_number=4,
            twins=TWINS, seed=5,
        )  # fmt: skip
    assert refused.value.field == "course"


# --- the console script --------------------------------------------------------------------------


def il2(ward: Ward, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `il2` on this checkout's code, over the ward's database."""
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["IL2_DATABASE_URL"] = f"sqlite:///{ward.database}"
    env["IL2_STUDY_KEY_FILE"] = str(ward.database.parent / "study.key")  # the ward's key
    env.pop("IL2_STUDY_KEY", None)
    return subprocess.run(  # noqa: S603 - our own command with fixed arguments
        [IL2, "simulate", "whatif", *args], capture_output=True, text=True, check=False,
        env=env, timeout=300,
    )  # fmt: skip


def test_the_cli_gives_the_services_answer_for_the_same_seed(ward: Ward) -> None:
    done = il2(
        ward, "--patient", str(ward.patient), "--course", "1", "--twins", str(TWINS),
        "--seed", "5", "--alternative", "as_planned", "--alternative", "ld-iv-nci",
        "--as-user", "physician", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert [s["name"] for s in out["schedules"]] == ["actual", "as_planned", "ld-iv-nci"]
    expected, _ = course_whatif(
        ward.app.services, ward.people[Role.PHYSICIAN], ward.patient, course_number=1,
        alternatives=("as_planned", "ld-iv-nci"), twins=TWINS, seed=5,
    )  # fmt: skip
    assert out == json.loads(json.dumps(expected))


def test_a_researcher_asks_the_cli_by_study_number(ward: Ward) -> None:
    number = study_number(ward.patient, key=ward.app.services.study_key)
    done = il2(ward, "--patient", number, "--twins", "4", "--as-user", "researcher", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["study_id"] == number
    assert "patient_id" not in out
    assert PATIENT["name"] not in done.stdout


def test_the_cli_names_a_bad_option(ward: Ward) -> None:
    done = il2(ward, "--patient", str(ward.patient), "--course", "3", "--as-user", "physician")
    assert done.returncode == 2
    assert "field '--course'" in done.stderr
    done = il2(
        ward, "--patient", str(ward.patient), "--alternative", "no-such", "--twins", "2",
        "--as-user", "physician",
    )  # fmt: skip
    assert done.returncode == 2
    assert "field '--alternative'" in done.stderr
    done = il2(ward, "--patient", str(ward.patient), "--as-user", "nurse", "--twins", "2")
    assert done.returncode != 0
    assert "may not simulation.whatif" in done.stderr


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture
def client(ward: Ward) -> Iterator[TestClient]:
    asgi = FastAPI()
    asgi.include_router(web_router(ward.app))
    with FormClient(asgi) as test_client:
        yield test_client


def _sign_in(client: TestClient, username: str) -> None:
    answer = client.post(
        "/sign-in",
        data={"username": username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_the_course_page_links_to_the_whatif_page_which_shows_the_schedules(
    ward: Ward, client: TestClient
) -> None:
    _sign_in(client, "physician")
    base = f"/patients/{ward.patient}/courses/{ward.course}"
    course = client.get(base)
    assert course.status_code == 200
    assert f'href="{base}/whatif"' in course.text
    page = client.get(f"{base}/whatif", params={"twins": TWINS, "seed": 5})
    assert page.status_code == 200, page.text
    assert "as given (the ledger)" in page.text
    assert "as planned (every planned dose)" in page.text
    assert "hd-label: the full label course" in page.text
    assert page.text.count("<svg") == 1
    assert "Nothing here decides clinical care" in page.text
    assert "2 given, 1 held, 0 stopped, 25 not given" in page.text


def test_a_researcher_sees_the_page_without_identifiers_and_a_nurse_no_link(
    ward: Ward, client: TestClient
) -> None:
    base = f"/patients/{ward.patient}/courses/{ward.course}"
    number = study_number(ward.patient, key=ward.app.services.study_key)
    _sign_in(client, "researcher")
    assert client.get(f"{base}/whatif", params={"twins": TWINS}).status_code == 404
    chart = client.get(f"/study/{number}")
    assert f'href="/study/{number}/courses/1/whatif"' in chart.text  # reached from the chart
    page = client.get(
        f"/study/{number}/courses/1/whatif", params={"twins": TWINS, "alternative": "ld-iv-nci"}
    )
    assert page.status_code == 200, page.text
    assert number in page.text
    assert PATIENT["name"] not in page.text
    assert PATIENT["mrn"] not in page.text
    assert "ld-iv-nci course" in page.text
    client.post("/sign-out")
    client.cookies.clear()
    _sign_in(client, "nurse")
    assert "/whatif" not in client.get(base).text
    assert client.get(f"{base}/whatif", params={"twins": TWINS}).status_code == 403


def test_more_schedules_than_a_page_compares_are_refused_beside_the_field(
    ward: Ward, client: TestClient
) -> None:
    _sign_in(client, "physician")
    base = f"/patients/{ward.patient}/courses/{ward.course}"
    seven = [
        "as_planned",
        "label",
        "hd-nci-720",
        "ld-iv-nci",
        "hd-cwg-q12w",
        "sbrt-hd",
        "ld-sc-nci",
    ]
    page = client.get(f"{base}/whatif", params={"twins": TWINS, "alternative": seven})
    assert page.status_code == 422, page.text
    assert 'id="f-alternative-error"' in page.text
    assert "at most 6 schedules to compare with the course" in page.text
    # none of the seven is dropped silently: the choice is kept, the default comparison shown
    for regimen in seven[2:]:
        assert f'<option value="{regimen}" selected>' in page.text
    assert "ld-sc-nci course" not in page.text
    assert "hd-label: the full label course" in page.text
    six = client.get(f"{base}/whatif", params={"twins": TWINS, "alternative": seven[:6]})
    assert six.status_code == 200, six.text
    assert "ld-iv-nci course" in six.text


def test_a_schedule_the_simulator_does_not_know_is_refused_beside_the_field(
    ward: Ward, client: TestClient
) -> None:
    _sign_in(client, "physician")
    base = f"/patients/{ward.patient}/courses/{ward.course}"
    page = client.get(f"{base}/whatif", params={"twins": TWINS, "alternative": "no-such-regimen"})
    assert page.status_code == 422, page.text
    assert 'id="f-alternative-error"' in page.text
    assert "no-such-regimen" in page.text
