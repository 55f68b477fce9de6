"""FHIR Bulk Data `$export` of the whole program: kick-off, polling, manifest, files, who may,
cancelling, expiry, the audit, and reading in batches; every line validated by fhir.resources.

The program is a small bulk demo (screenings, courses, doses, entries) plus patients registered
through the API, so every type in the facade's registry has records to map; the tests iterate
the exportable types of `TYPES`, so a type added to the registry is exported, validated and
compared here too.
"""

from __future__ import annotations

import importlib
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import event

from il2.bootstrap import App, build_app, export_folder
from il2.config import Settings
from il2.domain.exports import ExportStatus
from il2.interop.fhir.export import decision_keys, exportable, mapper
from il2.interop.fhir.model import MRN_SYSTEM, STUDY_SYSTEM, ResourceType
from il2.interop.fhir.resources import TYPES
from il2.interop.fhir.resources.medication_administration import RULE_SYSTEM
from il2.server import create_server
from il2.services.accounts import actor_for_username, add_user
from il2.services.bulk import BulkWriter
from il2.services.demo import add_outpatients, build_demo
from il2.services.exports import export_status, program_pages, start_export
from il2.services.patients import read_patient, read_study_record, record_screening
from il2.services.ports import AuditQuery
from tests.e2e.test_api import sign_in
from tests.integration.builders import PASSWORD, PATIENT, eligible_findings, staff
from tests.integration.conftest import FixedClock

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
REGISTERED = 3


def _program(app: App) -> None:
    """A small bulk demo and three patients registered through the services' accounts."""
    build_demo(app.services, seed=6, years=1, until=date(2026, 11, 1), patients=6,
               writer=BulkWriter, study=False)  # fmt: skip
    staff(app)
    add_user(app.services, None, username="physician2", display_name="Other", role="physician",
             password=PASSWORD)  # fmt: skip


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    _program(app)
    with TestClient(create_server(app)) as test_client:
        physician = sign_in(test_client, "physician")
        for n in range(REGISTERED):
            person = {**PATIENT, "mrn": f"MRN-X{n}", "name": f"Ada Export{n}"}
            answer = test_client.post("/api/patients", json=person, headers=physician)
            assert answer.status_code == 201, answer.text
        yield test_client


def _patients(app: App) -> int:
    with app.services.uow() as uow:
        return uow.patients.count()


def _kick_off(client: TestClient, who: str = "physician", **params: str) -> Any:
    return client.get("/fhir/$export", params=params, headers={**ASYNC, **sign_in(client, who)})


def _finished(client: TestClient, location: str, headers: dict[str, str]) -> Any:
    """Poll the status until it is no longer 202 (each 202 says how far the export is)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = client.get(location, headers=headers)
        if answer.status_code != 202:
            return answer
        assert answer.headers["X-Progress"].endswith("patients")
        assert int(answer.headers["Retry-After"]) > 0
        time.sleep(0.05)
    raise AssertionError("the export did not finish within a minute")


def _export(client: TestClient, who: str = "physician", **params: str) -> tuple[str, Any]:
    """Kick off, poll to the end: the polling URL and the completed manifest."""
    started = _kick_off(client, who, **params)
    assert started.status_code == 202, started.text
    location = started.headers["Content-Location"]
    done = _finished(client, location, sign_in(client, who))
    assert done.status_code == 200, done.text
    assert done.headers["content-type"].startswith("application/json")
    assert "Expires" in done.headers
    return location, done.json()


def _model(type_name: str) -> Any:
    """The fhir.resources R4B model of a resource type."""
    return getattr(importlib.import_module(f"fhir.resources.R4B.{type_name.lower()}"), type_name)


def _download(client: TestClient, manifest: dict[str, Any], who: str) -> dict[str, list[Any]]:
    """Every output file, each line validated as its type; the resources by type."""
    found: dict[str, list[Any]] = {}
    headers = {**sign_in(client, who), "Accept": "application/fhir+ndjson"}
    for output in manifest["output"]:
        answer = client.get(output["url"], headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/fhir+ndjson")
        lines = answer.content.splitlines()
        assert answer.content.endswith(b"\n")
        assert len(lines) == output["count"]
        for line in lines:
            resource = orjson.loads(line)
            assert resource["resourceType"] == output["type"]
            _model(output["type"]).model_validate(resource)
            found.setdefault(output["type"], []).append(resource)
    return found


def test_the_whole_program_exports_as_valid_ndjson_with_counts_that_match_the_lines(
    app: App, client: TestClient
) -> None:
    _, manifest = _export(client)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/$export")
    assert manifest["error"] == []
    assert manifest["transactionTime"].startswith("2026-12-07T16:00")
    found = _download(client, manifest, "physician")
    assert set(found) <= set(exportable())
    patients = found["Patient"]
    assert len(patients) == _patients(app) == 6 + REGISTERED
    assert {p["identifier"][0]["system"] for p in patients} == {MRN_SYSTEM}
    assert "Ada Export0" in {p["name"][0]["text"] for p in patients}


def test_each_type_exports_exactly_what_reading_each_patient_answers(
    app: App, client: TestClient
) -> None:
    _, manifest = _export(client)
    exported = _download(client, manifest, "physician")
    headers = sign_in(client, "physician")
    for name in exportable():
        read: list[Any] = []
        for patient in exported["Patient"]:
            if name == "Patient":
                answer = client.get(f"/fhir/Patient/{patient['id']}", headers=headers)
                read.append(answer.json())
                continue
            query = {"patient": f"Patient/{patient['id']}", "_count": "500"}
            bundle = client.get(f"/fhir/{name}", params=query, headers=headers).json()
            read += [entry["resource"] for entry in bundle.get("entry", [])]
        key = orjson.dumps
        assert sorted(map(key, exported.get(name, []))) == sorted(map(key, read)), name


def test_the_records_read_in_batches_are_the_records_read_one_by_one(app: App) -> None:
    _program(app)
    add_outpatients(app.services, seed=1)  # their self-injection diaries
    physician = actor_for_username(app.services, "physician")
    researcher = actor_for_username(app.services, "researcher")
    moment = app.services.clock()
    total, through = 0, 0
    with app.services.uow() as uow:
        total, through = uow.patients.span()
    for identified in (True, False):
        pages = program_pages(
            app.services, identified=identified, through=through, as_of=moment, batch=4
        )
        records = [pair for page in pages for pair in page]
        assert len(records) == total
        assert any(record["diary"] for _, record in records)
        assert any(record["doses"] for _, record in records)
        for key, record in records:
            if identified:
                assert record == read_patient(app.services, physician, int(key))
            else:
                assert record == read_study_record(app.services, researcher, key)


def _files_of_export(app: App, who: str) -> dict[str, bytes]:
    """An export of every type run as the server runs it (in the foreground): each file's bytes."""
    actor = actor_for_username(app.services, who)
    types = exportable()
    job = start_export(
        app.services,
        actor,
        request_url="test",
        types=types,
        build=mapper(app.services, types, "http://test/fhir"),
        decisions=decision_keys(types),
        spawn=lambda work: work(),
    )
    done = export_status(app.services, actor, job.id)
    assert done.status is ExportStatus.COMPLETED
    folder = export_folder(app.settings) / job.id
    return {f.name: (folder / f.name).read_bytes() for f in done.outputs}


def _files_of_reads(app: App, who: str, keys: list[str]) -> dict[str, bytes]:
    """The files an export would hold, from each patient's whole record as a read answers it,
    mapped patient by patient in the export's order (every file is the first of its type)."""
    actor = actor_for_username(app.services, who)
    identified = who == "physician"
    build = mapper(app.services, exportable(), "http://test/fhir")
    files: dict[str, bytes] = {}
    for key in keys:
        if identified:
            record = read_patient(app.services, actor, int(key))
        else:
            record = read_study_record(app.services, actor, key)
        mode = "identified" if identified else "deidentified"
        for kind, line in build(record, key, mode):
            name = f"{kind}.1.ndjson"
            files[name] = files.get(name, b"") + line
    return files


def test_the_export_writes_byte_for_byte_what_mapping_each_whole_record_read_writes(
    app: App,
) -> None:
    """The export reads only what the mapping reads of each dose's decision, and builds records
    without copying their stored documents; its files must not change for it."""
    _program(app)
    add_outpatients(app.services, seed=1)
    with app.services.uow() as uow:
        _, through = uow.patients.span()
        courses = list(range(1, 100))
        whole = uow.doses.for_courses(courses)
        picked = uow.doses.for_courses(courses, decisions=frozenset({"reasons", "no-such-key"}))
    assert whole.keys() == picked.keys()
    assert any(dose.decision["reasons"] for doses in whole.values() for dose in doses)
    for course, doses in whole.items():
        for dose, lean in zip(doses, picked[course], strict=True):
            assert lean == replace(dose, decision={"reasons": dose.decision["reasons"]})
    for who in ("physician", "researcher"):
        pages = program_pages(
            app.services,
            identified=who == "physician",
            through=through,
            as_of=app.services.clock(),
            batch=50,
            decisions=False,
        )
        keys = [key for page in pages for key, _ in page]
        expected = _files_of_reads(app, who, keys)
        assert RULE_SYSTEM.encode() in expected["MedicationAdministration.1.ndjson"]  # reasons
        assert b"self-injection diary" in expected["MedicationAdministration.1.ndjson"]
        assert "OperationOutcome.1.ndjson" not in expected
        assert _files_of_export(app, who) == expected, who


def test_records_kept_after_the_transaction_time_are_left_out(app: App) -> None:
    """Records are only ever added, so the export reads the program as it was at kick-off."""
    _program(app)
    physician = actor_for_username(app.services, "physician")
    moment = app.services.clock()
    with app.services.uow() as uow:
        _, through = uow.patients.span()
    record_screening(app.services, physician, through, eligible_findings())

    def screenings(as_of: datetime) -> int:
        pages = program_pages(app.services, identified=True, through=through, as_of=as_of, batch=50)
        return sum(len(r["screenings"]) for page in pages for key, r in page if key == str(through))

    assert screenings(moment) == screenings(moment - timedelta(seconds=1)) + 1


def test_type_patient_exports_only_patients(client: TestClient) -> None:
    _, manifest = _export(client, _type="Patient", _outputFormat="ndjson")
    assert {output["type"] for output in manifest["output"]} == {"Patient"}
    assert "_type=Patient" in manifest["request"]


@pytest.mark.parametrize("name", exportable())
def test_each_type_alone_exports_only_that_type(client: TestClient, name: str) -> None:
    _, manifest = _export(client, _type=name)
    assert {output["type"] for output in manifest["output"]} <= {name}


def test_a_researchers_export_has_study_numbers_and_no_names(client: TestClient) -> None:
    _, manifest = _export(client, "researcher")
    found = _download(client, manifest, "researcher")
    for patient in found["Patient"]:
        assert [i["system"] for i in patient["identifier"]] == [STUDY_SYSTEM]
        assert "name" not in patient
        assert "birthDate" not in patient
    text = b"".join(orjson.dumps(r) for rows in found.values() for r in rows)
    assert b"Ada Export" not in text
    assert b"MRN-X" not in text


def _refused(answer: Any, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    outcome = OperationOutcome.model_validate(answer.json())
    assert words in (outcome.issue[0].diagnostics or "")


def test_without_prefer_respond_async_the_kick_off_is_refused(client: TestClient) -> None:
    headers = {"Accept": "application/fhir+json", **sign_in(client, "physician")}
    _refused(client.get("/fhir/$export", headers=headers), 400, "respond-async")
    _refused(client.get("/fhir/Patient/$export", headers=headers), 400, "respond-async")


def test_patient_level_export_is_the_whole_program(client: TestClient) -> None:
    headers = {**ASYNC, **sign_in(client, "physician")}
    started = client.get("/fhir/Patient/$export", headers=headers)
    assert started.status_code == 202, started.text
    assert _finished(client, started.headers["Content-Location"], headers).status_code == 200


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"_type": "Patient,Spaceship"}, "Spaceship"),
        ({"_type": "AuditEvent"}, "AuditEvent"),  # the trail: administrators, by search
        ({"_since": "2026-01-01T00:00:00Z"}, "not supported"),
        ({"_outputFormat": "text/csv"}, "application/fhir+ndjson"),
        ({"_typeFilter": "Patient?gender=female"}, "_typeFilter"),
    ],
)
def test_unsupported_parameters_are_refused_by_name(
    client: TestClient, params: dict[str, str], words: str
) -> None:
    _refused(_kick_off(client, **params), 400, words)


def test_a_role_that_may_not_export_is_refused(client: TestClient) -> None:
    _refused(_kick_off(client, "nurse"), 403, "program.export")
    _refused(_kick_off(client, "administrator"), 403, "program.export")


def test_another_user_cannot_read_the_status_or_the_files(client: TestClient) -> None:
    """404, not 403: the job's id is its only name, and answering "forbidden" would tell
    another user that a job with this id exists."""
    location, manifest = _export(client)
    for who in ("physician2", "researcher", "coordinator"):
        headers = sign_in(client, who)
        assert client.get(location, headers=headers).status_code == 404
        assert client.get(manifest["output"][0]["url"], headers=headers).status_code == 404
        assert client.delete(location, headers=headers).status_code == 404
    assert client.get(location, headers=sign_in(client, "physician")).status_code == 200
    assert client.get(manifest["output"][0]["url"]).status_code == 401


def _folder(app: App, location: str) -> Path:
    return export_folder(app.settings) / location.rsplit("/", 1)[1]


def test_delete_cancels_the_export_and_removes_its_files(app: App, client: TestClient) -> None:
    location, manifest = _export(client)
    headers = sign_in(client, "physician")
    assert _folder(app, location).is_dir()
    answer = client.delete(location, headers=headers)
    assert answer.status_code == 202
    assert not _folder(app, location).exists()
    assert client.get(location, headers=headers).status_code == 404
    assert client.get(manifest["output"][0]["url"], headers=headers).status_code == 404


def test_files_expire_after_the_site_setting(
    app: App, client: TestClient, clock: FixedClock
) -> None:
    location, _ = _export(client)
    clock.now += timedelta(hours=app.rules.exports.expiry_h) - timedelta(seconds=1)
    headers = sign_in(client, "physician")
    assert client.get(location, headers=headers).status_code == 200
    clock.now += timedelta(seconds=2)
    _refused(client.get(location, headers=headers), 404, "expired")
    assert not _folder(app, location).exists()


def test_a_job_whose_worker_stopped_is_marked_failed_on_the_next_status(
    app: App, clock: FixedClock
) -> None:
    """As after a restart: the job was accepted but its thread never ran."""
    _program(app)
    physician = actor_for_username(app.services, "physician")
    job = start_export(
        app.services,
        physician,
        request_url="x",
        types=("Patient",),
        build=lambda *_: [],
        spawn=lambda _: None,
    )
    assert export_status(app.services, physician, job.id).status is ExportStatus.RUNNING
    clock.now += timedelta(minutes=11)
    stopped = export_status(app.services, physician, job.id)
    assert stopped.status is ExportStatus.FAILED
    assert "restart" in (stopped.error or "")
    assert not (export_folder(app.settings) / job.id).exists()


def test_the_export_leaves_one_audit_entry(app: App, client: TestClient) -> None:
    _export(client, "researcher", _type="Patient")
    administrator = actor_for_username(app.services, "administrator")
    with app.services.uow() as uow:
        entries = [e for e in uow.audit.entries() if e.action.startswith("export")]
    assert administrator is not None
    assert len(entries) == 1
    entry = entries[0]
    assert entry.username == "researcher"
    assert entry.action == "export_deidentified"
    assert entry.patient_id is None
    assert entry.after == {
        "types": ["Patient"],
        "patients": _patients(app),
        "mode": "deidentified",
    }
    with app.services.uow() as uow:
        reads = uow.audit.count(AuditQuery(username="researcher", action="read_deidentified"))
    assert reads == 0


def test_the_program_is_read_in_batches_not_patient_by_patient(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    batch = 4
    policy = tmp_path / "site.toml"
    policy.write_text(f"[policy]\nexport_batch_patients = {batch}\n", encoding="utf-8")
    small = build_app(
        Settings(database_url=app.settings.database_url, site_policy=policy), clock=clock
    )
    assert small.rules.exports.batch_patients == batch
    _program(small)
    with TestClient(create_server(small)) as test_client:
        reads: list[str] = []

        def count(*args: Any) -> None:
            statement = str(args[2]).lower()
            if statement.lstrip().startswith("select") and "from screenings" in statement:
                reads.append(statement)

        event.listen(small.engine, "before_cursor_execute", count)
        _export(test_client)
        event.remove(small.engine, "before_cursor_execute", count)
    patients = _patients(small)
    assert patients > batch
    assert len(reads) == math.ceil(patients / batch)
    small.engine.dispose()


def test_a_record_that_cannot_be_mapped_is_an_error_line_and_the_rest_goes_on(
    app: App, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(record: Any, context: Any) -> Any:
        if record["patient"]["name"].startswith("Ada Export"):
            raise ValueError(record["patient"]["name"])  # its words must not reach the file
        return TYPES["Patient"].build(record, context)

    monkeypatch.setitem(TYPES, "Broken", ResourceType(name="Broken", profiles=(), build=broken))
    _, manifest = _export(client, _type="Broken")
    assert sum(output["count"] for output in manifest["output"]) == _patients(app) - REGISTERED
    [errors] = manifest["error"]
    assert errors["type"] == "OperationOutcome"
    answer = client.get(errors["url"], headers=sign_in(client, "physician"))
    lines = answer.content.splitlines()
    assert len(lines) == errors["count"] == REGISTERED
    for line in lines:
        outcome = OperationOutcome.model_validate(orjson.loads(line))
        assert "could not be mapped (ValueError)" in (outcome.issue[0].diagnostics or "")
        assert b"Ada" not in line


def test_a_scoped_token_exports_only_the_types_its_scopes_let_it_search(
    client: TestClient,
) -> None:
    body = {"username": "physician", "password": PASSWORD, "scope": "user/Patient.rs"}
    answer = client.post("/api/token", json=body)
    assert answer.status_code == 200, answer.text
    headers = {**ASYNC, "Authorization": f"Bearer {answer.json()['access_token']}"}
    _refused(client.get("/fhir/$export", headers=headers), 403, "scope")
    started = client.get("/fhir/$export", params={"_type": "Patient"}, headers=headers)
    assert started.status_code == 202, started.text
    assert _finished(client, started.headers["Content-Location"], headers).status_code == 200
