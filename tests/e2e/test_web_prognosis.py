"""The prognostic scores beside the screening: the form's sections, the chart's panel, and the
`prognosis` key of the JSON API and of `il2 screen --json`."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

from tests.e2e.test_api import sign_in as api_sign_in
from tests.e2e.test_web_entries import sign_in

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.records import Actor, Role
from il2.services.patients import read_patient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples/candidates/renal-prognostic-factors.json"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_screening_form_groups_the_prognostic_fields_with_their_units(
    web: TestClient, patient_id: int
) -> None:
    sign_in(web, "physician")
    page = web.get(f"/patients/{patient_id}/screening")
    assert page.status_code == 200
    text = _text(page.text)
    for heading in ("History and earlier therapy", "Tumour"):
        assert heading in text
    for name in ("history.months_since_diagnosis", "labs.ldh_uln_u_l", "karnofsky"):
        assert f'name="{name}"' in page.text
    assert "months" in text


def test_a_screening_shows_its_scores_on_the_chart_and_keeps_its_verdict(
    app: App, web: TestClient, patient_id: int, people: dict[Role, Actor]
) -> None:
    sign_in(web, "physician")
    form = {
        "diagnosis": "renal_cell_carcinoma",
        "karnofsky": "70",
        "history.months_since_diagnosis": "6",
        "labs.calcium_mg_dl": "9.6",
        "labs.calcium_uln_mg_dl": "10.2",
        "labs.ldh_u_l": "400",
        "labs.ldh_uln_u_l": "250",
    }
    posted = web.post(f"/patients/{patient_id}/screening", data=form)
    assert posted.status_code == 303, posted.text
    kept = read_patient(app.services, people[Role.PHYSICIAN], patient_id)["screenings"][-1]
    assert kept["verdict"] == kept["result"]["verdict"] == "incomplete"
    mskcc = kept["result"]["prognosis"]["scores"][1]
    assert (mskcc["id"], mskcc["count_low"], mskcc["group"]) == ("mskcc", 3, "poor")
    chart = _text(web.get(f"/patients/{patient_id}").text)
    assert "Verdict: incomplete" in chart
    assert "Prognostic scores" in chart
    assert "not part of the eligibility verdict" in chart
    assert "MSKCC (Motzer) risk: Poor (3 to 5 of 5 factors)" in chart
    assert "IMDC (Heng) risk: not settled: Intermediate or Poor" in chart
    assert "albumin not recorded, so it cannot be corrected" in chart
    assert "Built in 645 patients on VEGF-targeted therapy" in chart
    assert "Payne" in chart


def test_the_engine_api_answers_the_scores_under_prognosis(
    app: App, people: dict[Role, Actor]
) -> None:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    with TestClient(create_api(app)) as client:
        answer = client.post(
            "/api/engine/screen", json=document, headers=api_sign_in(client, "nurse")
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "eligible"
    assert set(body) >= {"verdict", "criteria", "not_applied", "rules_version", "prognosis"}
    assert [s["group"] for s in body["prognosis"]["scores"]] == ["favorable", "favorable"]
    assert body["prognosis"]["in_verdict"] is False
