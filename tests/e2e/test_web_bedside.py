"""The nurse's dose screen: what was checked, the findings by organ system, errors by field."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    eligible_findings,
    stable_assessment,
    staff,
)
from tests.web_client import FormClient

from il2.api.app import create_api
from il2.bootstrap import App
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FIRST_DOSE = "2026-12-07T08:00:00-08:00"
STABLE = {
    "vitals.sbp_mmhg": "112",
    "vitals.heart_rate_bpm": "96",
    "vitals.spo2_pct": "95",
    "vitals.temperature_c": "38.1",
    "vitals.rhythm": "sinus",
    "weight_kg": "72.5",
    "urine_output_ml_last_8h": "300",
    "labs.creatinine_mg_dl": "1.3",
    "labs.bilirubin_mg_dl": "1.2",
    "labs.platelets_per_ul": "90000",
    "labs.bicarbonate_mmol_l": "21",
    "labs.hours_since_drawn": "4",
    "oxygen_l_min": "0",
    "mental_status": "normal",
    "coma_hours": "0",
    "intubated_hours": "0",
    "dialysis_hours": "0",
    "baseline.weight_kg": "70",
    "baseline.creatinine_mg_dl": "1.0",
    "findings": "__none__",
    "vasopressors.none": "yes",
    "assessed_at": "2026-12-07T07:30",
}


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    """The API over a migrated database with one user of every role."""
    staff(app)
    with TestClient(create_api(app), raise_server_exceptions=False) as test_client:
        yield test_client


def _token(api: TestClient, username: str) -> dict[str, str]:
    answer = api.post("/api/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _first_dose_screen(api: TestClient, regimen: str) -> str:
    """The screen of dose 1.1 of a newly planned course of `regimen`."""
    physician = _token(api, "physician")
    patient = api.post("/api/patients", json=PATIENT, headers=physician)
    assert patient.status_code == 201, patient.text
    patient_id = patient.json()["id"]
    screened = api.post(
        f"/api/patients/{patient_id}/screenings", json=eligible_findings(), headers=physician
    )
    assert screened.status_code == 201, screened.text
    body = {"regimen": regimen, "weight_kg": 70, "first_dose": FIRST_DOSE}
    course = api.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
    assert course.status_code == 201, course.text
    return f"/patients/{patient_id}/courses/{course.json()['id']}/doses/1/1"


@pytest.fixture
def dose(api: TestClient) -> str:
    """The screen of dose 1.1 of a planned course."""
    return _first_dose_screen(api, "hd-label")


@pytest.fixture
def nurse(app: App, api: TestClient) -> Iterator[TestClient]:
    """The web pages, signed in as the nurse."""
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False, raise_server_exceptions=False) as browser:
        answer = browser.post("/sign-in", data={"username": "nurse", "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        yield browser


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_give_shows_each_rule_checked_with_what_it_saw_and_its_threshold(
    nurse: TestClient, dose: str
) -> None:
    answer = nurse.post(dose + "/preview", data=STABLE)
    assert answer.status_code == 200, answer.text
    shown = _text(answer.text)
    assert "Decision: give" in shown
    assert "Checked and passed" in shown
    assert "systolic BP 112 mmHg — passed" in shown
    assert "Hold when below 90 mmHg" in shown
    assert "Label-2024 Table 2 (Cardiovascular)" in shown
    assert "platelets 90,000 /uL — passed" in shown


def test_the_api_bedside_document_lists_every_rule_checked(api: TestClient) -> None:
    document = stable_assessment() | {
        "regimen": "hd-label",
        "cycle": 1,
        "dose_number": 1,
        "doses_given_this_cycle": 0,
        "doses_held_this_cycle": 0,
    }
    answer = api.post("/api/engine/bedside", json=document, headers=_token(api, "nurse"))
    assert answer.status_code == 200, answer.text
    checked = {c["rule"]: c for c in answer.json()["checked"]}
    assert checked["label-sbp-low"]["outcome"] == "passed"
    assert checked["label-sbp-low"]["inputs"] == {"vitals.sbp_mmhg": "104"}
    assert answer.json()["decision"] == "give"


def test_the_findings_are_grouped_by_organ_system_in_clinical_words(
    nurse: TestClient, dose: str
) -> None:
    answer = nurse.get(dose)
    assert answer.status_code == 200, answer.text
    page = answer.text
    systems = re.findall(r'<fieldset class="system"[^>]*>\s*<legend>([^<]+)</legend>', page)
    assert systems[:3] == ["Cardiovascular", "Gastrointestinal", "Respiratory"]
    assert "Musculoskeletal" in systems
    assert 'for="f-findings-dyspnea_at_rest">Short of breath at rest</label>' in page
    assert page.index("Diarrhea 1000 mL in a shift") < page.index("Bowel perforation")


def test_a_refused_form_shows_every_problem_beside_its_field_at_once(
    nurse: TestClient, dose: str
) -> None:
    typed = STABLE | {
        "vitals.sbp_mmhg": "abc",
        "vitals.spo2_pct": "150",
        "labs.platelets_per_ul": "-5",
    }
    for path in (dose, dose + "/preview"):
        answer = nurse.post(path, data=typed | {"outcome": "held"})
        assert answer.status_code == 422, answer.text
        page = answer.text
        summary = page[
            page.index('id="error-summary"') : page.index("</ul>", page.index('id="error-summary"'))
        ]
        for field, label in (
            ("vitals-sbp_mmhg", "Systolic blood pressure"),
            ("vitals-spo2_pct", "SpO2"),
            ("labs-platelets_per_ul", "Platelets"),
        ):
            assert f'href="#f-{field}">{label}</a>' in summary
            tag = re.search(rf'<input id="f-{field}"[^>]*>', page)
            assert tag is not None
            assert 'aria-invalid="true"' in tag[0]
            assert f"f-{field}-error" in tag[0]
            assert f'id="f-{field}-error"' in page
        assert "these 3 entries" in summary
        assert "“abc” is not allowed" in summary
        assert 'value="150"' in page  # what was typed is kept to correct


def test_a_refused_htmx_preview_names_every_problem(nurse: TestClient, dose: str) -> None:
    typed = STABLE | {"vitals.sbp_mmhg": "abc", "vitals.spo2_pct": "150"}
    answer = nurse.post(dose + "/preview", data=typed, headers={"HX-Request": "true"})
    assert answer.status_code == 422, answer.text
    shown = _text(answer.text)
    assert "Systolic blood pressure (vitals.sbp_mmhg)" in shown
    assert "SpO2 (vitals.spo2_pct)" in shown
    assert "No decision until these are corrected" in shown


def test_the_form_asks_no_holds_to_tick_and_names_those_the_ledger_left_open(
    nurse: TestClient, dose: str
) -> None:
    page = nurse.get(dose).text
    assert 'name="held_for"' not in page
    assert 'id="open-holds"' not in page  # dose 1: nothing earlier
    held = nurse.post(dose, data=STABLE | {"findings": "fobt_positive", "outcome": "held"})
    assert held.status_code == 303, held.text
    nxt = nurse.get(dose[: -len("1/1")] + "1/2").text
    assert 'id="open-holds"' in nxt
    assert "The last dose was held for: <strong>FOBT</strong>" in nxt


def test_a_recheck_is_charted_and_the_dose_stays_open(nurse: TestClient, dose: str) -> None:
    low = STABLE | {"vitals.sbp_mmhg": "86"}
    kept = nurse.post(dose + "/recheck", data=low)
    assert kept.status_code == 303, kept.text
    page = nurse.get(dose).text
    assert 'id="rechecks"' in page
    assert "recheck before dose 1.1: hold" in page
    assert 'id="bedside-form"' in page  # the dose is still open
    patient = dose.split("/")[2]
    sheet = nurse.get(f"/patients/{patient}/flowsheet").text
    assert "recheck" in _text(sheet)
    given = nurse.post(dose, data=STABLE | {"outcome": "held"})
    assert given.status_code == 303, given.text


def test_a_recheck_is_corrected_from_the_dose_screen_with_a_reason(
    nurse: TestClient, dose: str
) -> None:
    mistyped = STABLE | {"vitals.sbp_mmhg": "68"}
    assert nurse.post(dose + "/recheck", data=mistyped).status_code == 303
    page = nurse.get(dose).text
    (entry,) = re.findall(r"\?correct=(\d+)#correcting", page)
    form = nurse.get(f"{dose}?correct={entry}").text
    assert 'id="correcting"' in form
    assert 'value="68"' in form  # the form starts from the recheck's reading
    unexplained = nurse.post(f"{dose}/rechecks/{entry}/corrections", data=STABLE | {"reason": ""})
    assert unexplained.status_code == 422, unexplained.text
    assert 'id="correcting"' in unexplained.text  # still correcting, the reason asked beside it
    fixed = nurse.post(
        f"{dose}/rechecks/{entry}/corrections", data=STABLE | {"reason": "86 typed as 68"}
    )
    assert fixed.status_code == 303, fixed.text
    shown = _text(nurse.get(dose).text)
    assert "recheck before dose 1.1: give" in shown
    assert "kept in the record as corrected: 86 typed as 68" in shown
    assert "recheck before dose 1.1: hold ·" not in shown  # the old reading is replaced
    again = nurse.post(f"{dose}/rechecks/{entry}/corrections", data=STABLE | {"reason": "x"})
    assert again.status_code == 404  # only the current recheck is corrected
    assert nurse.get(f"{dose}?correct={entry}").status_code == 404
    patient = dose.split("/")[2]
    sheet = _text(nurse.get(f"/patients/{patient}/flowsheet").text)
    assert sheet.count("recheck") == 1


@pytest.fixture
def injection(api: TestClient) -> str:
    """The screen of injection 1.1 of a planned low-dose subcutaneous course."""
    return _first_dose_screen(api, "ld-sc-nci")


def test_a_subcutaneous_injection_asks_only_what_its_own_checks_read(
    nurse: TestClient, injection: str
) -> None:
    page = nurse.get(injection)
    assert page.status_code == 200, page.text
    assert 'id="route-checks"' in page.text
    assert "No source read gives numeric thresholds" in _text(page.text)
    for asked in ("vitals.sbp_mmhg", "vitals.spo2_pct", "mental_status", "injection_site_reaction"):
        assert f'"{asked}"' in page.text, asked
    for bolus_only in ("urine_output_ml_last_8h", "labs.platelets_per_ul", "diarrhea_1000ml_shift"):
        assert f'"{bolus_only}"' not in page.text, bolus_only
    form = {
        "vitals.sbp_mmhg": "86",
        "vitals.spo2_pct": "97",
        "mental_status": "normal",
        "findings": "injection_site_reaction",
        "assessed_at": "2026-12-07T07:30",
    }
    answer = nurse.post(injection + "/preview", data=form)
    assert answer.status_code == 200, answer.text
    shown = _text(answer.text)
    assert "Decision: hold" in shown
    assert "systolic BP 86 mmHg" in shown
    assert "Change the injection site" in shown
    answer = nurse.post(injection + "/preview", data=form | {"vitals.sbp_mmhg": "104"})
    assert "Decision: give" in _text(answer.text)
