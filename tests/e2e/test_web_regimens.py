"""The plan form and its preview for regimens beyond the high-dose bolus: the height, lesions
and event fields, each agent's doses and days, and the refusal to keep a subcutaneous course."""

from __future__ import annotations

import re

from tests.e2e.test_inputs import TestClient, a_patient, client, sign_in, web

__all__ = ["client", "web"]  # the fixtures, shared with test_inputs.py

FIRST_DOSE = "2026-12-07T08:00"  # the site's zone (UTC)


def _form(**fields: str) -> dict[str, str]:
    return {"weight_kg": "70", "first_dose": FIRST_DOSE, **fields}


def test_the_form_offers_every_regimen_and_marks_which_need_height_lesions_or_an_event(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "REG-1")
    page = web.get(f"/patients/{patient_id}/courses/new").text
    for regimen in ("hd-label", "ld-sc-ifn", "civ-eu", "intralesional", "sbrt-hd", "tmz-hd"):
        assert f'value="{regimen}"' in page
    assert re.search(r'value="civ-eu"[^>]*data-needs-height', page)
    assert re.search(r'value="intralesional"[^>]*data-needs-lesions', page)
    assert re.search(r'value="sbrt-hd"[^>]*data-event="sbrt_fraction"', page)
    assert not re.search(r'value="hd-label"[^>]*data-needs', page)
    # hidden until such a regimen is chosen (hd-label is the default choice)
    assert 'class="needs needs-height"' in page
    assert 'name="height_cm"' in page
    assert 'name="event_sbrt_fraction"' in page
    assert "preview only" not in page  # every bundled regimen's route has before-dose checks


def test_the_preview_of_a_per_m2_regimen_shows_each_agent_with_its_doses_and_days(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "REG-2")
    form = _form(regimen="biochemo-cvd", height_cm="175")
    answer = web.post(f"/patients/{patient_id}/courses/preview", data=form)
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert "1.84 m²" in page
    assert "16,601,958 IU" in page  # 9 MIU/m2 x 1.844662 m2
    cisplatin = re.search(r'<tr data-agent="cisplatin">(.*?)</tr>', page, re.S)
    assert cisplatin is not None
    assert "20 mg/m²" in cisplatin.group(1)
    assert "36.89 mg" in cisplatin.group(1)
    assert "day 4" in cisplatin.group(1)
    assert 'data-agent="dacarbazine"' in page
    assert "local protocol" in page  # continuous-infusion preparation


def test_a_height_left_in_the_form_is_not_used_by_a_regimen_dosed_per_kg(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "REG-3")
    form = _form(regimen="hd-label", height_cm="17")  # implausible, but not this regimen's
    answer = web.post(f"/patients/{patient_id}/courses/preview", data=form)
    assert answer.status_code == 200, answer.text
    assert "42,000,000 IU" in answer.text


def test_a_missing_height_is_named_beside_its_field_and_nothing_typed_is_lost(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "REG-4")
    # tmz-hd is kept as a course (IV bolus) and needs a height for temozolomide's dose per m²
    form = _form(regimen="tmz-hd", height_cm="1.75", lesions="3")
    answer = web.post(f"/patients/{patient_id}/courses", data=form)
    assert answer.status_code == 422, answer.text
    page = answer.text
    assert 'id="f-height_cm-error"' in page or "height_cm-error" in page
    assert 'value="1.75"' in page
    assert 'value="3"' in page
    assert 'class="needs needs-height shown"' in page  # shown again for the chosen regimen


def test_the_preview_of_an_anchored_regimen_names_an_event_after_the_first_dose(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "REG-5")
    url = f"/patients/{patient_id}/courses/preview"
    fine = web.post(url, data=_form(regimen="sbrt-hd", event_sbrt_fraction="2026-12-04"))
    assert fine.status_code == 200, fine.text
    assert "2026-12-04" in fine.text
    missing = web.post(url, data=_form(regimen="sbrt-hd"))
    assert missing.status_code == 422
    assert "sbrt_fraction" in missing.text


def test_a_subcutaneous_course_is_kept_from_the_form(client: TestClient, web: TestClient) -> None:
    headers = sign_in(client)
    patient_id = a_patient(client, headers, "REG-6")
    # the site's time zone is UTC: the first dose at 16:00 is the API tests' 08:00 -08:00
    form = _form(regimen="ld-sc-nci", first_dose="2026-12-07T16:00")
    answer = web.post(f"/patients/{patient_id}/courses", data=form)
    assert answer.status_code == 303, answer.text
    record = client.get(f"/api/patients/{patient_id}", headers=headers).json()
    assert [c["regimen_id"] for c in record["courses"]] == ["ld-sc-nci"]
