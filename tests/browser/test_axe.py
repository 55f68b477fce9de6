"""axe-core on every page each role uses: no serious or critical violation (WCAG 2 A/AA and
best practice). Each run's full report is kept as tests/browser/artifacts/axe-<label>.json."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from il2.domain.deidentify import study_number
from il2.domain.records import DoseOutcome, Role
from il2.services.clinical import record_toxicity
from il2.services.doses import DoseSubmission, submit_dose
from tests.browser.axe import assert_accessible, blocking, run_axe
from tests.browser.conftest import Site, fill, sign_in
from tests.integration.builders import PASSWORD, stable_assessment

# Known failures, to show the check can fail: an image with no text alternative and a field
# with no label (both critical), and pale grey text on white (serious).
BROKEN = """<!doctype html><html lang="en"><head><title>broken</title></head><body><main>
<h1>Broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><form><input name="x"></form>
<p style="color:#ccc;background:#fff">pale</p></main></body></html>"""


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


def test_the_check_fails_naming_each_serious_or_critical_violation(page: Page) -> None:
    page.set_content(BROKEN)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "known-broken")
    for rule in ("image-alt (critical)", "label (critical)", "color-contrast (serious)"):
        assert rule in str(failure.value)
    assert re.search(r"label \(critical\): .* -> input", str(failure.value))


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
    pages = ["/", "/worklist", "/patients/new", "/schedule", "/studies", "/policy", "/account"]
    forms = [f"/patients/{fresh}/screening"]
    _check_all(page, "coordinator", pages + forms + _chart_pages(patient_id, course_id)[:-1])


def test_the_researchers_pages(page: Page, site: Site) -> None:
    patient_id, _course = site.with_course()
    number = study_number(patient_id, key=site.app.services.study_key)
    sign_in(page, "researcher")
    study = f"/study/{number}"
    pages = ["/", "/outcomes", "/worklist", study, f"{study}/flowsheet", f"{study}/response"]
    _check_all(page, "researcher", [*pages, "/studies", "/policy", "/account"])


def test_the_administrators_pages(page: Page) -> None:
    sign_in(page, "administrator")
    pages = ["/", "/admin", "/admin/audit", "/policy", "/account"]
    _check_all(page, "administrator", pages)


def test_a_chart_with_a_dose_given_a_toxicity_and_its_correction_form(
    page: Page, site: Site
) -> None:
    patient_id, course_id = site.with_course()
    now = site.clock.now
    site.clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    given = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                           outcome=DoseOutcome.GIVEN, given_at=site.clock.now,
                           verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
    try:
        submit_dose(site.app.services, site.actors[Role.NURSE], course_id, given)
    finally:
        site.clock.now = now
    fever = {"ctcae_version": "5.0", "findings": [{"term": "fever", "value": 38.5, "unit": "c"}]}
    record_toxicity(site.app.services, site.actors[Role.NURSE], patient_id,
                    observed_on="2026-12-07", course_id=course_id, findings=fever)  # fmt: skip
    sign_in(page, "nurse", target=f"/patients/{patient_id}")
    page.get_by_text("Every toxicity entry (1)").click()
    assert_accessible(page, "chart-with-entries")
    page.get_by_role("link", name=re.compile("Correct the toxicity entry")).click()
    expect(page.get_by_label("Reason for the correction")).to_be_visible()
    assert_accessible(page, "entry-correct")
    for path in ("flowsheet", f"courses/{course_id}", f"courses/{course_id}/doses/1/2"):
        page.goto(f"/patients/{patient_id}/{path}")
        assert_accessible(page, f"given-{path}")


def test_the_diary_and_a_subcutaneous_injections_checks(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course("sc-eu")
    sign_in(page, "nurse", target=f"/patients/{patient_id}/courses/{course_id}")
    expect(page.get_by_role("heading", name=re.compile("Diary"))).to_be_visible()
    assert_accessible(page, "course-diary")
    page.goto(f"/patients/{patient_id}/courses/{course_id}/doses/1/1")
    expect(page.locator("#route-checks")).to_be_visible()
    assert_accessible(page, "bedside-subcutaneous")


def test_a_running_continuous_infusion_and_its_form(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course("civ-eu", height_cm=175)
    now = site.clock.now
    site.clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    started = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                             outcome=DoseOutcome.GIVEN, given_at=site.clock.now,
                             verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
    try:
        submit_dose(site.app.services, site.actors[Role.NURSE], course_id, started)
    finally:
        site.clock.now = now
    sign_in(page, "nurse", target=f"/patients/{patient_id}/courses/{course_id}/doses/1/1")
    expect(page.locator("#infusion-h")).to_contain_text("running")
    expect(page.locator("#infusion-form")).to_be_visible()
    assert_accessible(page, "infusion-running")


def test_forms_redisplayed_with_their_errors(page: Page, site: Site) -> None:
    fresh = site.eligible()
    sign_in(page, "physician", target="/patients/new")
    fill(page, {"mrn": "AXE-0001", "name": "Axe Patient", "birth_date": "2030-01-01"})
    page.get_by_role("button", name="Register patient").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "patient-new-errors")
    page.goto(f"/patients/{fresh}/courses/new")
    page.get_by_role("button", name="Show the plan").click()
    expect(page.locator("#plan-preview")).not_to_be_empty()
    assert_accessible(page, "plan-preview")
    page.goto("/account")
    fill(page, {"current_password": "not it at all", "new_password": "short"})
    fill(page, {"confirm_password": "other"})
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "account-errors")


def test_the_user_form_redisplayed_with_its_error(page: Page) -> None:
    sign_in(page, "administrator", target="/admin")
    form = page.locator("form", has=page.get_by_role("button", name="Add user"))
    fill(form, {"username": "axe-user", "display_name": "Axe", "role": "nurse"})
    fill(form, {"password": "short"})
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "admin-user-error")


def test_the_pages_fixed_for_moderate_findings_have_none(page: Page, site: Site) -> None:
    patient_id = site.patient()
    sign_in(page, "physician", target=f"/patients/{patient_id}/follow-ups/new")
    assert run_axe(page, "follow-up-all")["violations"] == []
    page.goto("/policy")
    assert run_axe(page, "policy-all")["violations"] == []
