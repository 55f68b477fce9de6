"""ADaM exports of a stored program: who may take them, what a researcher's holds (no name,
MRN, birth date or calendar date), the audit, the report's counts, and the outcomes page's
downloads."""

from __future__ import annotations

import csv
import io
import re
import shutil
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI

from il2.bootstrap import App, build_app
from il2.config import Settings
from il2.domain.errors import PermissionDeniedError
from il2.services.accounts import actor_for_username
from il2.services.adam import adam_export, to_csv
from il2.services.bulk import BulkWriter
from il2.services.demo import DEMO_PASSWORD, build_demo
from il2.services.outcomes import outcome_summary
from il2.web.app import web_router
from tests.web_client import FormClient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

UNTIL = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """A small demo program (two years, 40 referrals) on a copy of the migrated database."""
    path = tmp_path_factory.mktemp("adam") / "il2.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    app = build_app(Settings(database_url=f"sqlite:///{path}"))
    build_demo(app.services, seed=5, years=2, until=UNTIL, patients=40,
               writer=lambda services: BulkWriter(services, batch=40))  # fmt: skip
    yield app
    app.engine.dispose()


def _identifiers(app: App) -> list[str]:
    with app.services.uow() as uow:
        patients = uow.patients.page(limit=1000, offset=0)
    assert patients
    return [text for p in patients for text in (p.mrn, p.name, p.birth_date.isoformat())]


def test_a_researchers_export_has_study_numbers_and_no_identifier_or_calendar_date(
    demo: App,
) -> None:
    researcher = actor_for_username(demo.services, "demo-researcher")
    for dataset in ("adrs", "adtte"):
        export = adam_export(demo.services, researcher, dataset=dataset, as_of=UNTIL)
        assert export.deidentified
        text = to_csv(export).decode()
        assert [found for found in _identifiers(demo) if found in text] == []
        assert re.search(r"\d{4}-\d{2}-\d{2}", text) is None
        assert all(str(r["SUBJID"]).startswith("S-") for r in export.rows)


def test_a_physicians_export_has_the_dates_and_still_no_name_or_mrn(demo: App) -> None:
    physician = actor_for_username(demo.services, "demo-physician")
    export = adam_export(demo.services, physician, dataset="adtte", as_of=UNTIL)
    assert not export.deidentified
    assert all(isinstance(r["STARTDT"], date) for r in export.rows)
    text = to_csv(export).decode()
    with demo.services.uow() as uow:
        patients = uow.patients.page(limit=1000, offset=0)
    assert not [p for p in patients if p.mrn in text or p.name in text]


def test_whoever_may_not_read_outcomes_may_not_export(demo: App) -> None:
    nurse = actor_for_username(demo.services, "demo-nurse")
    with pytest.raises(PermissionDeniedError):
        adam_export(demo.services, nurse, dataset="adrs", as_of=UNTIL)


def test_each_export_is_audited_with_its_dataset_and_size(demo: App) -> None:
    researcher = actor_for_username(demo.services, "demo-researcher")
    with demo.services.uow() as uow:
        since = len(uow.audit.entries())
    export = adam_export(demo.services, researcher, dataset="adtte", as_of=UNTIL)
    with demo.services.uow() as uow:
        added = uow.audit.entries()[since:]
    assert [(e.action, e.after) for e in added if e.action == "export_adam"] == [
        ("export_adam", {"dataset": "ADTTE", "rows": len(export.rows), "dates": False})
    ]
    assert "read_outcomes" in [e.action for e in added]


def test_the_stored_programs_adrs_gives_the_reports_response_counts(demo: App) -> None:
    researcher = actor_for_username(demo.services, "demo-researcher")
    summary = outcome_summary(demo.services, researcher, as_of=UNTIL)["by_diagnosis"]
    export = adam_export(demo.services, researcher, dataset="adrs", as_of=UNTIL)
    rows = list(csv.DictReader(io.StringIO(to_csv(export).decode())))
    for diagnosis, figures in summary.items():
        counted = [r for r in rows if r["DIAGNOS"] == diagnosis and r["ANL01FL"] == "Y"]
        assert len(counted) == figures["assessed"]
        objective = sum(r["AVALC"] in ("CR", "PR") for r in counted)
        assert objective == (figures["orr"]["count"] if figures["orr"] else 0)


@pytest.fixture(scope="module")
def researcher_web(demo: App) -> Iterator[TestClient]:
    site = FastAPI()
    site.include_router(web_router(demo))
    with FormClient(site, follow_redirects=False) as client:
        answer = client.post(
            "/sign-in", data={"username": "demo-researcher", "password": DEMO_PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        yield client


def test_the_outcomes_page_links_the_four_adam_downloads_and_each_downloads(
    researcher_web: TestClient,
) -> None:
    page = researcher_web.get("/outcomes")
    assert page.status_code == 200, page.text
    for name in ("adrs.csv", "adrs.parquet", "adtte.csv", "adtte.parquet"):
        assert f'href="/outcomes/adam/{name}"' in page.text
        answer = researcher_web.get(f"/outcomes/adam/{name}")
        assert answer.status_code == 200, (name, answer.text)
        assert name in answer.headers["content-disposition"]
        if name.endswith(".csv"):
            assert answer.headers["content-type"].startswith("text/csv")
            assert answer.text.startswith("STUDYID,USUBJID,SUBJID,")
        else:
            table = pq.read_table(io.BytesIO(answer.content))
            assert table.num_rows > 0
            assert table.column_names[:3] == ["STUDYID", "USUBJID", "SUBJID"]


def test_an_unknown_adam_download_is_refused_naming_the_field(researcher_web: TestClient) -> None:
    answer = researcher_web.get("/outcomes/adam/adsl.csv")
    assert answer.status_code == 422
    assert "dataset" in answer.text
    assert researcher_web.get("/outcomes/adam/adrs.xlsx").status_code == 422
