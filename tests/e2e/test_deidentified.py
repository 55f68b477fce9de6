"""Researchers see a de-identified program (HIPAA Safe Harbor, D12), on every page and API path.

The patient has a name, an MRN, a birth date (aged 93 at referral), exact dates (referral,
screening, first dose, a dose given, a toxicity, a response, a follow-up and its correction)
and free text carrying a marker. A researcher walks every page and API read their role
reaches; none of the identifiers, exact dates, the marker, the age 93 or the database id as
study number comes back, and no database id either: the researcher's pages and API go by
study number, and an address by database id answers 404. The clock stands at 2026-12-07
16:00 UTC.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from tests.integration.builders import (
    PASSWORD,
    keep_course,
    outpatient_app,
    partial_response_so_far,
    screen_eligible,
    stable_assessment,
    staff,
    taken_report,
)
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.deidentify import WITHHELD, study_number
from il2.domain.records import DoseOutcome, Role
from il2.services.clinical import (
    correct_entry,
    record_follow_up,
    record_response,
    record_toxicity,
)
from il2.services.courses import plan_course
from il2.services.diary import correct_diary_entry, record_entry
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient, read_patient
from il2.services.studies import create_study, record_assignment
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

MARKER = "QX7-FREE-TEXT-MARKER"
ELDER = {
    "mrn": "MRN-WALK-9301",
    "name": "Walter Quimby",
    "birth_date": "1933-05-17",
    "sex": "male",
    "diagnosis": "melanoma",
    "referred_on": "2026-11-02",
}


class Elder:
    """The aged patient with a course, a dose, entries and free text; their exact dates."""

    def __init__(self, app: App, clock: FixedClock) -> None:
        people = staff(app)
        physician = people[Role.PHYSICIAN]
        self.id = create_patient(app.services, physician, ELDER).id
        screen_eligible(app.services, physician, self.id)
        course = plan_course(app.services, physician, self.id, regimen="hd-label",
                             weight_kg=70, first_dose="2026-12-07T08:00:00-08:00")  # fmt: skip
        self.course = course.id
        # the engine holds the first dose (low SBP); the physician gives it, with a reason
        low = stable_assessment()
        low["vitals"]["sbp_mmhg"] = 85
        submit_dose(app.services, physician, course.id, DoseSubmission(
            cycle=1, dose_number=1, assessment=low, outcome=DoseOutcome.GIVEN,
            given_at=clock.now, verified_by="nurse2", verifier_password=PASSWORD,
            idempotency_key=f"key-{MARKER}", override_reason=f"baseline SBP {MARKER}",
        ))  # fmt: skip
        record_toxicity(app.services, physician, self.id, observed_on="2026-12-07",
                        course_id=course.id, findings={"ctcae_version": "5.0", "findings": [
                            {"term": "fever", "value": 38.5, "unit": "c"}]})  # fmt: skip
        record_response(app.services, physician, self.id, course_id=course.id,
                        measurements=partial_response_so_far())  # fmt: skip
        follow_up = record_follow_up(app.services, physician, self.id, observed_on="2026-12-03",
                                     status="alive_no_progression",
                                     notes=f"seen by his daughter {MARKER}")  # fmt: skip
        self.entry = correct_entry(app.services, physician, self.id, follow_up.id,
                                   content={"status": "alive_no_progression",
                                            "notes": f"phoned {MARKER}"},
                                   reason=f"wrong day, said {MARKER}",
                                   observed_on="2026-12-04").id  # fmt: skip
        self.study = create_study(app.services, physician, {
            "name": "SBRT trial", "registry_id": "NCT01416831",
            "arms": [{"id": "il2", "name": "HD IL-2 alone"},
                     {"id": "sbrt-il2", "name": "SBRT then HD IL-2"}]}).id  # fmt: skip
        record_assignment(app.services, physician, self.study, self.id, kind="assigned",
                          arm="sbrt-il2", on="2026-11-20", reason=f"envelope {MARKER}")  # fmt: skip
        # An outpatient course (its first injection today, so day 0 stays) with a diary whose
        # note, missed reason and correction reason carry the marker.
        outpatient = outpatient_app(app).services
        self.diary = keep_course(outpatient, self.id, number=2,
                                 first_dose="2026-12-07T10:00:00+00:00")  # fmt: skip
        taken = record_entry(outpatient, people[Role.NURSE], self.diary, taken_report(
            taken_at="2026-12-07T10:05:00+00:00", note=f"left thigh {MARKER}"))  # fmt: skip
        self.diary_entry = correct_diary_entry(
            outpatient,
            people[Role.COORDINATOR],
            self.diary,
            taken.id,
            {"status": "missed", "reported_by": "caregiver", "missed_reason": f"away {MARKER}"},
            reason=f"his daughter {MARKER} called",
        ).id
        identified = json.dumps(read_patient(app.services, physician, self.id))
        self.dates = {date.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2}", identified)}
        self.dates.add(date(2026, 11, 20))  # the day the patient was assigned to an arm
        self.number = study_number(self.id, key=app.services.study_key)

    def leaks(self, text: str) -> list[str]:
        """Every identifier, exact date, free text or age over 89 of this patient in `text`.

        The outcome report's data cut-off (today, or the `as_of` asked for) is the report's
        date, not the patient's, and is taken out first.
        """
        ids = database_ids(text)
        for cut in ("2026-12-07", "2027-06-01"):
            for said in (f"outcome report, {cut}", f"Data as of {cut}", f'"as_of":"{cut}"'):
                text = text.replace(said, "")
        found = [
            what
            for what in (ELDER["name"], "Quimby", ELDER["mrn"], ELDER["birth_date"], MARKER)
            if what in text
        ]
        for day in self.dates:
            for written in (day.isoformat(), day.strftime("%-d %b %Y"), day.strftime("%d/%m/%Y")):
                if written in text:
                    found.append(written)
        if re.search(r">\s*93\s*(years)?\s*<|\b93 years|\"age[a-z_]*\":\s*93\b", text):
            found.append("age 93")
        if re.search(rf"\bP0*{self.id}\b", text):
            found.append("the database id as study number")
        return found + ids


_ADDRESS = re.compile(r"""(?:href|action|hx-[a-z]+)\s*=\s*["']([^"']*)["']""")
_ID_KEYS = re.compile(r'"(?:patient_id|course_id|entry_id|corrects_id|dose_id)"\s*:\s*(\d+)')


def database_ids(text: str) -> list[str]:
    """Database ids a researcher's answer would hand over: an address under /patients/ or
    /api/patients/ or with a course or entry path (the id in the path; but a study record's
    course numbers, /study/S-.../courses/N, are its own ordinals), a patient object with
    an `id`, or a field that names a record by id (a study record numbers its own courses and
    entries, so such a field may hold that small number only where the record gives it)."""
    found = [f"address {a}" for a in _ADDRESS.findall(text) if "/patients/" in a]
    found += [
        f"address {a}"
        for a in _ADDRESS.findall(text)
        # a study record's own addresses number its courses (/study/S-.../courses/1/whatif)
        if re.search(r"/(courses|entries)/\d", a) and not re.match(r"/study/S-[A-Z]+/courses/", a)
    ]
    if text.startswith("{"):
        document = json.loads(text)
        patient = document.get("patient") if isinstance(document, dict) else None
        if isinstance(patient, dict) and "id" in patient:
            found.append(f"patient id {patient['id']}")
    if '"patient_id"' in text and _ID_KEYS.search(text):
        found.append("a patient_id field")
    return found


def around(text: str, leaks: list[str]) -> list[str]:
    """Where each leak stands in `text`, for the failure message."""
    places = [text.find(leak if leak != "age 93" else "93") for leak in leaks]
    return [text[max(0, at - 200) : at + 80] for at in places]


@pytest.fixture
def elder(app: App, clock: FixedClock) -> Elder:
    return Elder(app, clock)


@pytest.fixture
def web(app: App, elder: Elder) -> Iterator[TestClient]:
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as client:
        answer = client.post("/sign-in", data={"username": "researcher", "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture
def api(app: App, elder: Elder) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_api(app)) as client:
        answer = client.post("/api/token", json={"username": "researcher", "password": PASSWORD})
        token = answer.json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def web_paths(elder: Elder) -> list[str]:
    """Every GET page of the web routers that can show a patient, the researcher's included
    (the form pages the researcher may open but not submit among them, D14); the pages that
    go by database id answer a researcher 404."""
    p, c = elder.id, elder.course
    return [
        "/",
        "/sign-in",
        "/worklist",
        "/patients/new",
        "/admin",
        "/admin/audit",
        "/outcomes",
        "/outcomes?diagnosis=melanoma&regimen=hd-label",
        "/outcomes.csv",
        "/outcomes/adam/adrs.csv",
        "/outcomes/adam/adtte.csv",
        f"/outcomes?study={elder.study}",
        f"/outcomes.csv?study={elder.study}",
        "/studies",
        f"/studies/{elder.study}",
        "/research/simulator",
        "/account",
        "/pharmacy",
        "/pharmacy/vials",
        "/schedule",
        "/policy",
        f"/study/{elder.number}",
        f"/study/{elder.number}/flowsheet",
        f"/study/{elder.number}/response",
        f"/study/{elder.number}/courses/1/whatif",
        f"/patients/{p}",
        f"/patients/{p}/flowsheet",
        f"/patients/{p}/response",
        f"/patients/{p}/screening",
        f"/patients/{p}/courses/new",
        f"/patients/{p}/courses/{c}",
        f"/patients/{p}/courses/{c}/schedule",
        f"/patients/{p}/courses/{c}/whatif",
        f"/patients/{p}/follow-ups/new",
        f"/patients/{p}/entries/{elder.entry}/correct",
        f"/patients/{p}/courses/{c}/doses/1/2",
        f"/patients/{p}/studies/{elder.study}",
        f"/patients/{p}/courses/{elder.diary}",
        f"/patients/{p}/courses/{elder.diary}/diary/{elder.diary_entry}/correct",
    ]


def web_posts(elder: Elder) -> list[str]:
    """Every POST of the web routers about a patient: refused to a researcher, or a preview
    of what was typed; the answer shows none of the patient's data either way."""
    p, c, dose = elder.id, elder.course, f"/patients/{elder.id}/courses/{elder.course}/doses/1/2"
    return [
        "/patients",
        "/account/password",
        "/admin/users",
        "/admin/users/researcher",
        f"/patients/{p}/screening",
        f"/patients/{p}/courses/preview",
        f"/patients/{p}/courses",
        f"/patients/{p}/toxicities",
        f"/patients/{p}/responses",
        f"/patients/{p}/follow-ups",
        f"/patients/{p}/entries/{elder.entry}/corrections",
        dose,
        f"{dose}/preview",
        f"{dose}/recheck",
        f"{dose}/rechecks/{elder.entry}/corrections",
        f"{dose}/infusion",
        f"{dose}/ehr",
        "/patients/new/ehr",
        f"/patients/{p}/courses/{c}/doses/1/3",
        f"/patients/{p}/courses/{c}/verify",
        f"/patients/{p}/discharges",
        f"/patients/{p}/studies/{elder.study}",
        "/studies",
        "/research/simulator",  # the walk posts no arms: refused (422), nothing is simulated
        f"/patients/{p}/courses/{elder.diary}/diary",
        f"/patients/{p}/courses/{elder.diary}/diary/{elder.diary_entry}/corrections",
    ]


def api_paths(elder: Elder) -> list[str]:
    """Every GET read of the API routers (those a researcher may not read answer 403)."""
    return [
        f"/api/study/{elder.number}",
        f"/api/patients/{elder.id}",
        f"/api/courses/{elder.course}",
        f"/api/courses/{elder.diary}/diary",
        f"/api/courses/{elder.course}/doses/1/1/infusion",
        "/api/worklist",
        "/api/worklist?limit=200",
        "/api/outcomes",
        "/api/outcomes?as_of=2027-06-01",
        f"/api/outcomes?study_id={elder.study}",
        "/api/studies",
        f"/api/studies/{elder.study}/assignments",
        "/api/patients?q=Quimby",
        "/api/audit",
        "/api/audit/export",
        "/api/users",
        "/health",
    ]


def api_posts(elder: Elder) -> list[str]:
    """Every POST of the API routers but signing in and out: refused to a researcher, or an
    engine's answer about what was sent; none shows the patient's data."""
    p = elder.id
    return [
        "/api/patients",
        f"/api/patients/{p}/screenings",
        f"/api/patients/{p}/courses",
        f"/api/patients/{p}/toxicities",
        f"/api/patients/{p}/responses",
        f"/api/patients/{p}/follow-ups",
        f"/api/patients/{p}/discharges",
        f"/api/patients/{p}/entries/{elder.entry}/corrections",
        f"/api/courses/{elder.course}/doses",
        f"/api/courses/{elder.diary}/diary",
        f"/api/courses/{elder.diary}/diary/{elder.diary_entry}/corrections",
        f"/api/courses/{elder.course}/doses/1/1/infusion",
        "/api/engine/screen",
        "/api/engine/plan",
        "/api/engine/bedside",
        "/api/engine/grade",
        "/api/engine/recist",
        "/api/users/me/password",
        "/api/users/researcher/deactivate",
        "/api/users/researcher/reactivate",
        "/api/users/researcher/role",
        "/api/users/researcher/password",
        "/api/studies",
        f"/api/studies/{elder.study}/assignments",
        f"/api/studies/{elder.study}/withdrawals",
    ]


# Routes the walks leave out, each with why it cannot show a patient.
NOT_WALKED = {
    ("POST", "/sign-in"): "signs in: answers the sign-in form or a redirect, never a record",
    ("POST", "/sign-out"): "signs out: would end the walk's session",
    ("POST", "/api/token"): "signs in: answers a token or a refusal",
    ("POST", "/api/sign-out"): "signs out: would end the walk's token",
    **{
        ("GET", path): "the API's documentation, the same for everyone and no record in it (its "
        "examples carry dates that are no patient's)"
        for path in ("/openapi.json", "/docs", "/redoc")
    },
}


def _routes(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, through the routers included in routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                yield method, prefix + route.path


def _matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    return re.fullmatch(pattern, path.split("?", maxsplit=1)[0]) is not None


def test_the_walks_cover_every_route_of_the_pages_and_the_api(app: App, elder: Elder) -> None:
    """A route added to the pages or the API is walked as a researcher, or named here with why
    not: the walks are lists, and this keeps them whole."""
    walked = (
        [("GET", path) for path in web_paths(elder) + api_paths(elder)]
        + [("POST", path) for path in web_posts(elder) + api_posts(elder)]
    )  # fmt: skip
    every = set(_routes(web_router(app).routes)) | set(_routes(create_api(app).routes))
    assert len(every) > 60  # the enumeration reaches into the included routers
    unwalked = sorted(
        (method, template)
        for method, template in every
        if (method, template) not in NOT_WALKED
        and not any(m == method and _matches(template, path) for m, path in walked)
    )
    assert unwalked == [], f"routes no researcher walk visits: {unwalked}"


def test_no_researcher_page_shows_identifiers_exact_dates_free_text_or_age_over_89(
    web: TestClient, elder: Elder
) -> None:
    shown = 0
    for path in web_paths(elder):
        page = web.get(path)
        if page.status_code == 303:  # a landing page sends the researcher on, within il2
            target = page.headers["location"]
            assert target.startswith("/"), target
            assert not target.startswith("/patients/"), target
            page = web.get(target)
        assert page.status_code in (200, 403, 404), (path, page.status_code)
        leaks = elder.leaks(page.text)
        assert leaks == [], (path, around(page.text, leaks))
        shown += page.status_code == 200
        if path.startswith("/patients/"):  # addressed by database id: no page of theirs
            assert page.status_code == 404, (path, page.status_code)
    for path in web_posts(elder):
        answer = web.post(path, data={"notes": "x", "observed_on": "2026-12-07"})
        assert answer.status_code in (200, 403, 404, 422), (path, answer.status_code)
        assert elder.leaks(answer.text) == [], (path, around(answer.text, elder.leaks(answer.text)))
    chart = web.get(f"/study/{elder.number}").text
    assert elder.number in chart
    assert "90 or older" in chart
    assert "day 0" in chart
    assert f'href="/study/{elder.number}"' in web.get("/worklist").text
    assert f'href="/study/{elder.number}/flowsheet"' in chart
    assert f'href="/study/{elder.number}/response"' in chart
    assert shown >= 7
    enrolment = web.get(f"/studies/{elder.study}").text
    assert f'href="/study/{elder.number}"' in enrolment  # the arm's patient, by study number
    assert "SBRT then HD IL-2" in web.get("/outcomes").text


def test_no_researcher_api_answer_shows_identifiers_exact_dates_free_text_or_age_over_89(
    api: tuple[TestClient, dict[str, str]], elder: Elder
) -> None:
    client, researcher = api
    for path in api_paths(elder):
        answer = client.get(path, headers=researcher)
        assert answer.status_code in (200, 403, 404), (path, answer.status_code)
        leaks = elder.leaks(answer.text)
        assert leaks == [], (path, around(answer.text, leaks))
    for path in api_posts(elder):
        answer = client.post(path, json={}, headers=researcher)
        assert answer.status_code in (200, 403, 404, 422), (path, answer.status_code)
        leaks = elder.leaks(answer.text)
        assert leaks == [], (path, around(answer.text, leaks))
    assert client.get(f"/api/patients/{elder.id}", headers=researcher).status_code == 404
    record: dict[str, Any] = client.get(f"/api/study/{elder.number}", headers=researcher).json()
    assert record["patient"]["study_id"] == elder.number
    assert "id" not in record["patient"]
    assert [(c["id"], c["number"]) for c in record["courses"]] == [(1, 1), (2, 2)]
    assert [d["course_id"] for d in record["doses"]] == [1]
    assert [e["id"] for e in record["entries"]] == list(range(1, len(record["entries"]) + 1))
    assert record["patient"]["age_at_referral_years"] == "90 or older"
    course, _ = record["courses"]
    assert course["first_dose_at"] == "day 0"
    (dose,) = record["doses"]
    assert (dose["given_at"], dose["idempotency_key"]) == ("day 0", WITHHELD)
    assert dose["override_reason"] == WITHHELD
    overrides = client.get("/api/outcomes", headers=researcher).json()["overrides"]
    (listed,) = overrides["overrides"]
    assert (listed["patient"], listed["day"], listed["reason"]) == (elder.number, 0, WITHHELD)
    assert listed["prescriber"].startswith("prescriber-")
    follow_ups = [e for e in record["entries"] if e["kind"] == "follow_up"]
    assert [(e["observed_on"], e["content"]["notes"], e["reason"]) for e in follow_ups] == [
        ("day -4", WITHHELD, None),
        ("day -3", WITHHELD, WITHHELD),
    ]
    assert record["screenings"][0]["recorded_at"] == "day 0"
    diary = [(d["id"], d["course_id"], d["corrects_id"], d["current"]) for d in record["diary"]]
    assert diary == [(1, 2, None, False), (2, 2, 1, True)]
    first, fixed = record["diary"]
    assert (first["taken_at"], first["note"], first["recorded_at"]) == ("day 0", WITHHELD, "day 0")
    assert (fixed["missed_reason"], fixed["reason"], fixed["taken_at"]) == (
        WITHHELD,
        WITHHELD,
        None,
    )
    enrolled = client.get(f"/api/studies/{elder.study}/assignments", headers=researcher).json()
    assert [a["study_number"] for a in enrolled["assignments"]] == [elder.number]


def test_a_physician_still_sees_the_identified_record_as_a_positive_control(
    app: App, elder: Elder
) -> None:
    with TestClient(create_api(app)) as client:
        token = client.post(
            "/api/token", json={"username": "physician", "password": PASSWORD}
        ).json()["access_token"]
        answer = client.get(
            f"/api/patients/{elder.id}", headers={"Authorization": f"Bearer {token}"}
        )
    assert set(elder.leaks(answer.text)) >= {ELDER["name"], ELDER["mrn"], MARKER, "2026-12-07"}
    assert datetime.fromisoformat(answer.json()["courses"][0]["first_dose_at"]).year == 2026
