"""Ward walkthrough D20 in Chromium: a second-cycle dose recorded a minute after the first
(written straight to the ledger, as the old code let it through) no longer takes the outcomes
page down; the page shows, and its Data quality section names the problem in words."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from il2.domain.deidentify import study_number
from tests.browser.conftest import Site, shot, sign_in
from tests.integration.odd_records import OddRecords, at, due_time


def test_an_odd_dose_is_listed_and_the_outcomes_page_still_shows(page: Page, site: Site) -> None:
    odd = OddRecords(site.app)
    patient = odd.patient("WALK-D20", referred_on=date(2026, 11, 2))
    course = odd.course(patient, at(date(2026, 12, 7), hour=0))
    odd.dose(course, 1, 1, due_time(course, 1) + timedelta(hours=1, minutes=19))
    odd.dose(course, 2, 1, due_time(course, 1) + timedelta(hours=1, minutes=20))

    sign_in(page, "researcher", target="/outcomes")
    expect(page.get_by_role("heading", name="Outcomes", exact=True)).to_be_visible()
    section = page.locator("section", has=page.get_by_role("heading", name="Data quality"))
    expect(section).to_be_visible()
    row = section.locator("tr", has_text=study_number(patient, key=site.app.services.study_key))
    expect(row).to_contain_text("course 1, cycle 2")
    expect(row).to_contain_text("before the cycle's first planned day")
    expect(row).to_contain_text("beds, cycles, doses and vials per year")
    expect(page.locator("body")).not_to_contain_text("datetime.date")
    expect(page.locator("body")).not_to_contain_text("Input not usable")
    expect(page.locator("svg").first).to_be_visible()
    shot(page, "outcomes-data-quality")
