"""Every page is usable without a mouse and every field says what it is."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, sign_in

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id || e.outerHTML.slice(0, 80))"""


def test_every_field_on_every_main_page_has_a_label(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    sign_in(page, "physician")
    pages = [
        "/",
        "/worklist",
        "/patients/new",
        f"/patients/{patient_id}",
        f"/patients/{patient_id}/screening",
        f"/patients/{patient_id}/courses/new",
        f"/patients/{patient_id}/courses/{course_id}",
        f"/patients/{patient_id}/courses/{course_id}/doses/1/1",
        f"/patients/{patient_id}/flowsheet",
        f"/patients/{patient_id}/response",
        f"/patients/{patient_id}/follow-ups/new",
        "/policy",
    ]
    for path in pages:
        page.goto(path)
        assert page.evaluate(UNLABELLED) == [], path


def test_signing_in_and_opening_the_worklist_with_the_keyboard_alone(page: Page) -> None:
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("coordinator")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Decisions and admissions")).to_be_visible()
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Worklist":
            break
    expect(page.get_by_role("link", name="Worklist").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
