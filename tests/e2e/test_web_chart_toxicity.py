"""The chart's worst grade per term, the toxicity form's units and the response form's
non-target choice, over HTTP, on SQLite and PostgreSQL (the clock stands at 2026-12-07)."""

from __future__ import annotations

import re
import warnings

from tests.e2e.test_web_entries import entries, field_error, sign_in

from il2.bootstrap import App
from il2.domain.records import Actor, Role
from il2.services.clinical import record_toxicity

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def _finding(term: str, **given: object) -> dict[str, object]:
    return {"ctcae_version": "5.0", "findings": [{"term": term, **given}]}


def _row(html: str, name: str) -> list[str]:
    """The cells of the worst-grade table's row for one term, as text."""
    table = re.search(r'<table class="data" id="worst-grades">(.*?)</table>', html, re.S)
    assert table, "no worst-grade table"
    row = re.search(rf"<tr><th scope=\"row\">{re.escape(name)}</th>(.*?)</tr>", table[1], re.S)
    assert row, f"no row for {name}"
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row[1])]


def test_a_grade_3_stays_on_the_chart_behind_seven_later_grade_1s(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    nurse = people[Role.NURSE]
    record_toxicity(app.services, nurse, patient_id, observed_on="2026-11-30", course_id=None,
                    findings=_finding("hypotension", clinical_grade=3))  # fmt: skip
    for day in range(1, 8):
        record_toxicity(app.services, nurse, patient_id, observed_on=f"2026-12-0{day}",
                        course_id=None, findings=_finding("hypotension", clinical_grade=1))  # fmt: skip
    sign_in(web, "physician")
    chart = web.get(f"/patients/{patient_id}").text
    assert _row(chart, "Hypotension") == [
        "Grade 3", "Mon 30 Nov 2026", "Grade 1", "Mon 7 Dec 2026"
    ]  # fmt: skip
    assert "hypotension grade" not in chart  # the term's name, never its id


def test_the_preselected_unit_is_the_terms_own_unit(
    web: TestClient, app: App, patient_id: int
) -> None:
    sign_in(web, "nurse")
    form = web.get(f"/patients/{patient_id}/flowsheet").text
    assert '<option value="">The term&#39;s own unit</option>' in form
    assert ">10e9 per l<" not in form
    assert ">x10^9/L<" in form
    answer = web.post(f"/patients/{patient_id}/toxicities",
                      data={"observed_on": "2026-12-07", "term": "fever", "value": "39.5",
                            "unit": ""})  # fmt: skip
    assert answer.status_code == 303, field_error(answer.text, "f-unit")
    graded = entries(app, patient_id)[0]["content"]["grades"]["grades"][0]
    assert (graded["term"], graded["grade"]) == ("fever", 2)


def test_a_fever_in_fahrenheit_is_converted_and_the_conversion_shown(
    web: TestClient, app: App, patient_id: int
) -> None:
    sign_in(web, "nurse")
    answer = web.post(f"/patients/{patient_id}/toxicities",
                      data={"observed_on": "2026-12-07", "term": "fever", "value": "103",
                            "unit": "f"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    graded = entries(app, patient_id)[0]["content"]["grades"]["grades"][0]
    assert graded["grade"] == 2
    sheet = web.get(f"/patients/{patient_id}/flowsheet").text
    assert "103°F, converted to 39.44°C ((value - 32) x 5 / 9)" in sheet


def test_a_follow_up_scan_without_a_non_target_choice_is_refused_beside_it(
    web: TestClient, app: App, patient_id: int
) -> None:
    sign_in(web, "physician")
    page = web.get(f"/patients/{patient_id}/response").text
    assert re.search(r'name="scan1.non_target"><option value="">Choose…</option>', page)
    assert "selected>absent" not in page
    form = {"scans": "3", "lesions": "5", "lesion0.id": "L1", "lesion0.organ": "lung",
            "scan0.date": "2026-10-01", "scan0.lesion0": "40", "scan0.non_target": "present",
            "scan1.date": "2026-12-01", "scan1.lesion0": "20"}  # fmt: skip
    refused = web.post(f"/patients/{patient_id}/responses", data=form)
    assert refused.status_code == 422
    assert "Non target at scan 2</a> is missing; expected a choice of absent, present" in (
        refused.text
    )
    assert 'name="scan1.non_target" aria-invalid="true"' in refused.text
    assert entries(app, patient_id) == []
    saved = web.post(
        f"/patients/{patient_id}/responses", data={**form, "scan1.non_target": "present"}
    )
    assert saved.status_code == 303
    timepoint = entries(app, patient_id)[0]["content"]["recist"]["timepoints"][1]
    assert timepoint["non_target"] != "CR"
