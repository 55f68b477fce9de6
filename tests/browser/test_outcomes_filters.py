"""Issue 16 item 5 in Chromium: a researcher filters the outcomes inside the app's layout, and
the export link carries the filters."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, shot, sign_in
from tests.integration.odd_records import OddRecords, at


def test_a_researcher_filters_the_outcomes_by_diagnosis_and_years(page: Page, site: Site) -> None:
    odd = OddRecords(site.app)
    patient = odd.patient(
        "FILTER-RCC", diagnosis="renal_cell_carcinoma", referred_on=date(2024, 2, 3)
    )
    odd.doses_as_planned(odd.course(patient, at(date(2024, 3, 4))), 1, 4)

    sign_in(page, "researcher", target="/outcomes")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_label("Diagnosis").select_option("renal_cell_carcinoma")
    page.get_by_label("Referred from (year)").fill("2024")
    page.get_by_label("Referred until (year)").fill("2024")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"diagnosis=renal_cell_carcinoma"))
    expect(page.locator(".overview")).to_contain_text("1 patients referred")
    expect(page.get_by_role("heading", name="Beside the label")).to_be_visible()
    expect(
        page.get_by_role("columnheader", name="Program ORR, of all treated (ITT)")
    ).to_be_visible()
    export = page.get_by_role("link", name="Export every table (CSV)")
    expect(export).to_have_attribute("href", re.compile(r"^/outcomes\.csv\?.*diagnosis=renal"))
    shot(page, "outcomes-filtered")
