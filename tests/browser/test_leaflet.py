"""The patient leaflet in Chromium: the print button works under the CSP (a static script, no
inline one), the leaflet's sections and sources show, and it prints to PDF with the navigation
hidden. A screenshot and the PDF are kept in tests/browser/artifacts."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from il2.rules.leaflet import load_patient_leaflet
from tests.browser.conftest import ARTIFACTS, Site, shot, sign_in


def test_a_nurse_opens_the_leaflet_and_prints_it(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    url = f"/patients/{patient_id}/courses/{course_id}/schedule"
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, "nurse", target=url)

    leaflet = page.locator("article.leaflet")
    expect(page.get_by_role("heading", name=re.compile("what to expect"))).to_be_visible()
    for section in load_patient_leaflet().sections:
        expect(page.get_by_role("heading", name=section.title, exact=True)).to_be_visible()
    expect(leaflet).to_contain_text("admission day")
    expect(leaflet).to_contain_text("this site has not set its numbers")
    expect(page.locator("#leaflet-sources li")).to_have_count(len(load_patient_leaflet().sources))
    expect(page.get_by_role("button", name="Print")).to_be_visible()  # shown by print.js
    assert blocked == []
    shot(page, "leaflet")

    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "leaflet.pdf"), format="A4")
    assert pdf.startswith(b"%PDF")
