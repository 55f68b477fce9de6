"""Issue 16 item 6 in Chromium: a grade 3 stays on the chart as the worst grade of its term
behind later grade 1s, and a fever typed in °F with the preselected unit list is graded."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from il2.domain.records import Role
from il2.services.clinical import record_toxicity
from tests.browser.conftest import Site, fill, shot, sign_in


def _finding(term: str, **given: object) -> dict[str, object]:
    return {"ctcae_version": "5.0", "findings": [{"term": term, **given}]}


def test_the_chart_shows_the_worst_grade_per_term_and_the_latest(page: Page, site: Site) -> None:
    patient_id = site.patient()
    nurse = site.actors[Role.NURSE]
    record_toxicity(site.app.services, nurse, patient_id, observed_on="2026-11-30",
                    course_id=None, findings=_finding("hypotension", clinical_grade=3))  # fmt: skip
    for day in range(1, 7):
        record_toxicity(site.app.services, nurse, patient_id, observed_on=f"2026-12-0{day}",
                        course_id=None, findings=_finding("hypotension", clinical_grade=1))  # fmt: skip

    sign_in(page, "nurse", target=f"/patients/{patient_id}/flowsheet")
    fill(page, {"observed_on": "2026-12-07", "term": "fever", "value": "103", "unit": "f"})
    page.get_by_role("button", name="Grade and record").click()
    expect(page.locator("body")).to_contain_text("103°F, converted to 39.44°C")

    page.goto(f"/patients/{patient_id}")
    table = page.get_by_role("table", name="Worst grade per term")
    worst = table.locator("tr", has=page.get_by_role("rowheader", name="Hypotension"))
    expect(worst).to_contain_text("Grade 3")
    expect(worst).to_contain_text("Mon 30 Nov 2026")
    expect(worst.locator("td").nth(2)).to_have_text("Grade 1")
    expect(table.locator("tr", has=page.get_by_role("rowheader", name="Fever"))).to_contain_text(
        "Grade 2"
    )
    shot(page, "chart-worst-grade")
