"""axe-core on every page each role uses: no serious or critical violation (WCAG 2 A/AA and
best practice). Each run's full report is kept as tests/browser/artifacts/axe-<label>.json."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from il2.domain.deidentify import study_number
from tests.browser.axe import assert_accessible, blocking, run_axe
from tests.browser.conftest import Site, fill, sign_in


def _check_all(page: Page, role: str, paths: list[str]) -> None:
    """Open each path in turn and fail listing every blocking violation on every page."""
    failures: list[str] = []
    for number, path in enumerate(paths):
        page.goto(path)
        label = f"{role}-{number:02d}-{path.strip('/') or 'home'}"
        failures += [f"{path}: {line}" for line in blocking(run_axe(page, label))]
    assert not failures, "\n".join(failures)


def _chart_pages(patient_id: int, course_id: int) -> list[str]:
    """The pages of one patient a clinician opens: chart, entries, course, bedside."""
    base = f"/patients/{patient_id}"
    return [
        base,
        f"{base}/flowsheet",
        f"{base}/response",
        f"{base}/follow-ups/new",
        f"{base}/courses/{course_id}",
        f"{base}/courses/{course_id}/schedule",
        f"{base}/courses/{course_id}/doses/1/1",
    ]


def test_the_sign_in_page(page: Page) -> None:
    page.goto("/sign-in")
    assert_accessible(page, "sign-in")


def test_the_sign_in_page_after_a_wrong_password(page: Page) -> None:
    page.goto("/sign-in")
    fill(page, {"username": "nurse", "password": "not the password"})
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("form")).to_be_visible()
    assert_accessible(page, "sign-in-refused")


def test_the_error_page(page: Page) -> None:
    sign_in(page, "nurse")
    page.goto("/patients/999999")
    assert_accessible(page, "error-404")


def test_the_nurses_pages(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    sign_in(page, "nurse")
    pages = ["/", "/worklist", "/schedule", "/policy", "/account"]
    _check_all(page, "nurse", pages + _chart_pages(patient_id, course_id))


def test_the_bedside_screen_with_errors_shown(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    sign_in(page, "nurse", target=f"/patients/{patient_id}/courses/{course_id}/doses/1/1")
    page.locator('[name="vitals.sbp_mmhg"]').fill("abc")
    page.locator('[name="vitals.spo2_pct"]').fill("150")
    page.get_by_role("button", name="Check the before-dose decision").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "bedside-errors")


def test_the_physicians_pages(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    fresh = site.eligible()
    sign_in(page, "physician")
    pages = ["/", "/worklist", "/patients/new", "/schedule", "/policy", "/account"]
    forms = [f"/patients/{fresh}/screening", f"/patients/{fresh}/courses/new"]
    _check_all(page, "physician", pages + forms + _chart_pages(patient_id, course_id))


def test_the_pharmacists_pages(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    sign_in(page, "pharmacist")
    pages = ["/", "/pharmacy", "/pharmacy/vials", "/worklist", "/policy", "/account"]
    course = [f"/patients/{patient_id}", f"/patients/{patient_id}/courses/{course_id}"]
    _check_all(page, "pharmacist", pages + course)


def test_the_coordinators_pages(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    fresh = site.patient()
    sign_in(page, "coordinator")
    pages = ["/", "/worklist", "/patients/new", "/schedule", "/policy", "/account"]
    forms = [f"/patients/{fresh}/screening"]
    _check_all(page, "coordinator", pages + forms + _chart_pages(patient_id, course_id)[:-1])


def test_the_researchers_pages(page: Page, site: Site) -> None:
    patient_id, _course = site.with_course()
    number = study_number(patient_id, key=site.app.services.study_key)
    sign_in(page, "researcher")
    study = f"/study/{number}"
    pages = ["/", "/outcomes", "/worklist", study, f"{study}/flowsheet", f"{study}/response"]
    _check_all(page, "researcher", [*pages, "/policy", "/account"])


def test_the_administrators_pages(page: Page) -> None:
    sign_in(page, "administrator")
    pages = ["/", "/admin", "/admin/audit", "/policy", "/account"]
    _check_all(page, "administrator", pages)
