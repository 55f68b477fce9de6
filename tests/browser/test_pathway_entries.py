"""Progression, death and corrections recorded in Chromium, and clinical dates refused.

The server's clock stands at 2026-12-07 16:00 UTC (the site's zone).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, fill, shot, sign_in


def test_a_physician_records_progression_and_death_and_corrects_the_progression(
    page: Page, site: Site
) -> None:
    patient_id = site.patient()
    sign_in(page, "physician", target=f"/patients/{patient_id}")
    form = page.get_by_role("form", name="Record follow-up, progression or death")
    form.get_by_label("Observed on").fill("2026-11-20")
    form.get_by_label("Status").select_option("alive_progression")
    form.get_by_label("Notes").fill("New liver lesions on CT")
    form.get_by_role("button", name="Record follow-up").click()
    entries = page.locator("section#entries")
    expect(entries).to_contain_text("Alive, with progression: New liver lesions on CT")

    # A death dated tomorrow is refused beside the date, and nothing typed is lost.
    form = page.get_by_role("form", name="Record follow-up, progression or death")
    form.get_by_label("Observed on").fill("2026-12-08")
    form.get_by_label("Status").select_option("dead")
    form.get_by_label("Notes").fill("Died at home, reported by the family")
    form.get_by_role("button", name="Record follow-up").click()
    expect(page.get_by_role("alert")).to_contain_text("Observed on")
    expect(page.locator("#f-observed_on-error")).to_contain_text(
        "a date not after today (2026-12-07)"
    )
    expect(page.get_by_label("Status")).to_have_value("dead")
    expect(page.get_by_label("Notes")).to_have_value("Died at home, reported by the family")
    page.get_by_label("Observed on").fill("2026-12-06")
    page.get_by_role("button", name="Record follow-up").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient_id}(#.*)?$"))
    expect(page.locator("section#entries")).to_contain_text(
        "Died: Died at home, reported by the family"
    )

    # The progression was seen a week earlier: correct its date with a reason.
    page.get_by_role("link", name="Correct the follow up entry of Fri 20 Nov 2026").click()
    expect(
        page.get_by_role("heading", name=re.compile("Correct the follow up entry"))
    ).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("alive_progression")
    page.get_by_label("Observed on").fill("2026-11-13")
    expect(page.get_by_label("Reason for the correction")).to_have_attribute("required", "")
    page.get_by_label("Reason for the correction").fill("CT report dated 13 November")
    page.get_by_role("button", name="Save the correction").click()
    entries = page.locator("section#entries")
    expect(entries).to_contain_text("Fri 13 Nov 2026: Alive, with progression")
    expect(entries).to_contain_text("Correction by physician")
    expect(entries).to_contain_text("CT report dated 13 November")
    expect(entries.locator("del")).to_contain_text("Alive, with progression")
    shot(page, "chart-follow-up")


def test_a_nurse_corrects_a_toxicity_and_a_future_date_is_refused(page: Page, site: Site) -> None:
    patient_id = site.patient()
    sign_in(page, "nurse", target=f"/patients/{patient_id}/flowsheet")
    fill(page, {"observed_on": "2030-01-01", "term": "fever", "value": "38.5", "unit": "c"})
    page.get_by_role("button", name="Grade and record").click()
    expect(page.locator("#f-observed_on-error")).to_contain_text("not after today (2026-12-07)")
    expect(page.get_by_label("Value", exact=True)).to_have_value("38.5")
    page.get_by_label("Observed on").fill("1900-01-01")
    page.get_by_role("button", name="Grade and record").click()
    expect(page.locator("#f-observed_on-error")).to_contain_text("the patient's birth (1968-04-02)")
    page.get_by_label("Observed on").fill("2026-12-07")
    page.get_by_role("button", name="Grade and record").click()

    page.goto(f"/patients/{patient_id}")
    expect(page.get_by_role("table", name=re.compile("Worst grade per term"))).to_contain_text(
        "Grade 1"
    )
    page.get_by_text("Every toxicity entry (1)").click()
    page.get_by_role("link", name="Correct the toxicity entry of Mon 7 Dec 2026").click()
    expect(page.get_by_label("Value", exact=True)).to_have_value("38.5")
    page.get_by_label("Value", exact=True).fill("39.6")
    page.get_by_label("Reason for the correction").fill("Thermometer misread")
    page.get_by_role("button", name="Save the correction").click()
    worst = page.get_by_role("table", name=re.compile("Worst grade per term"))
    expect(worst).to_contain_text("Grade 2")
    expect(worst).not_to_contain_text("Grade 1")
    page.get_by_text("Every toxicity entry (1)").click()
    expect(page.locator("section#entries")).to_contain_text("Thermometer misread")
