"""Outcome analysis survives odd records: it lists each one and leaves its patient out of
exactly the figures the record would corrupt (ward walkthrough D20), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.deidentify import study_number
from il2.domain.records import Actor, Role
from il2.science.dataset import Program
from il2.science.plots import ReportFigures
from il2.services import quality
from il2.services.outcomes import examined, report
from il2.web.core import templates
from il2.web.report import render_report
from tests.integration.builders import staff
from tests.integration.odd_records import OddRecords, at, due_time

IL2 = str(Path(sys.executable).parent / "il2")
AS_OF = date(2026, 12, 7)
FIRST = date(2026, 2, 2)


@dataclass
class Odd:
    """One program: a clean patient beside one patient per kind of odd record."""

    researcher: Actor
    ids: dict[str, int]
    courses: dict[str, int]


def _treated(odd: OddRecords, mrn: str, *, cycle_1: int = 2) -> tuple[int, Any]:
    patient = odd.patient(mrn)
    course = odd.course(patient, at(FIRST))
    odd.doses_as_planned(course, 1, cycle_1)
    return patient, course


@pytest.fixture
def program(app: App) -> Odd:
    odd = OddRecords(app)
    ids: dict[str, int] = {}
    courses: dict[str, int] = {}

    ids["clean"], course = _treated(odd, "CLEAN", cycle_1=10)
    courses["clean"] = course.id
    odd.doses_as_planned(course, 2, 8)
    odd.response(ids["clean"], "PR", baseline_on=date(2026, 1, 20),
                 assessed_on=date(2026, 4, 1), response_on=date(2026, 4, 1))  # fmt: skip
    odd.toxicity(ids["clean"], course.id, date(2026, 2, 3), [("hypotension", 3)])

    # D20: cycle 2's first dose given a minute after cycle 1's second dose.
    ids["early_cycle"], course = _treated(odd, "EARLY-CYCLE")
    courses["early_cycle"] = course.id
    cycle_1_dose_2 = due_time(course, 1, 2)
    odd.dose(course, 2, 1, cycle_1_dose_2 + timedelta(minutes=1))

    ids["untimed"], course = _treated(odd, "UNTIMED")
    courses["untimed"] = course.id
    odd.dose(course, 1, 3, None)

    ids["early_response"], course = _treated(odd, "EARLY-RESPONSE")
    courses["early_response"] = course.id
    odd.response(ids["early_response"], "CR", baseline_on=date(2025, 12, 1),
                 assessed_on=date(2026, 1, 10), response_on=date(2026, 1, 10))  # fmt: skip

    ids["before_baseline"], course = _treated(odd, "BEFORE-BASELINE")
    courses["before_baseline"] = course.id
    odd.response(ids["before_baseline"], "PD", baseline_on=date(2026, 5, 1),
                 assessed_on=date(2026, 6, 1), progression_on=date(2026, 3, 1),
                 change_pct=30.0)  # fmt: skip

    ids["early_death"], course = _treated(odd, "EARLY-DEATH")
    courses["early_death"] = course.id
    odd.death(ids["early_death"], FIRST - timedelta(days=1))

    ids["grade_7"], course = _treated(odd, "GRADE-7")
    courses["grade_7"] = course.id
    odd.toxicity(ids["grade_7"], course.id, date(2026, 2, 3), [("hypotension", 7), ("fever", 2)])

    ids["unknown_diagnosis"] = odd.patient("SARCOMA", diagnosis="sarcoma")
    return Odd(staff(app)[Role.RESEARCHER], ids, courses)


def _rendered(app: App, found: tuple[dict[str, Any], ReportFigures]) -> tuple[dict[str, Any], str]:
    """The summary and the report page as `il2 report` writes it."""
    summary, figures = found
    return summary, render_report(templates(app.services.rules), summary, figures)


def _listed(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    listed: dict[str, list[dict[str, Any]]] = {}
    for problem in summary["data_quality"]["problems"]:
        listed.setdefault(problem["study_id"], []).append(problem)
    return listed


def test_the_report_renders_and_lists_every_odd_record(app: App, program: Odd) -> None:
    summary, html = _rendered(app, report(app.services, program.researcher, as_of=AS_OF))
    listed = _listed(summary)
    odd = {
        name: study_number(key, key=app.services.study_key)
        for name, key in program.ids.items()
        if name != "clean"
    }
    assert set(listed) == set(odd.values())
    assert summary["data_quality"]["patients_with_problems"] == len(odd)
    assert listed[odd["early_cycle"]][0]["record"] == "course 1, cycle 2"
    assert "before the cycle's first planned day" in listed[odd["early_cycle"]][0]["problem"]
    assert "without the time given" in listed[odd["untimed"]][0]["problem"]
    assert "before the first dose" in listed[odd["early_response"]][0]["problem"]
    assert "before its baseline scan" in listed[odd["before_baseline"]][0]["problem"]
    assert (  # dates as days from the patient's first dose (Safe Harbor), not 2026-02-01
        listed[odd["early_death"]][0]["problem"]
        == "Death is recorded on day -1, before a dose of course 1 on day 0."
    )
    assert not re.search(r"\d{4}-\d{2}-\d{2}", json.dumps(summary["data_quality"]))
    assert "graded 7" in listed[odd["grade_7"]][0]["problem"]
    assert listed[odd["unknown_diagnosis"]][0]["excluded_from"] == [quality.EVERYTHING]
    assert "<h2>Data quality</h2>" in html
    for number in odd.values():
        assert number in html
    assert "datetime.date(" not in html
    assert "Odd " not in html  # names never reach the report


def _cycles(data: Program) -> set[tuple[int, int]]:
    return {(c.course_id, c.cycle) for c in data.cycles}


def test_each_patient_is_left_out_of_exactly_the_figures_the_record_corrupts(
    app: App, program: Odd
) -> None:
    data, _ = examined(app.services, program.researcher, as_of=AS_OF)
    ids, courses = program.ids, program.courses
    # Beds and cycles: the two odd cycles are left out, every other cycle counts.
    expected = {(course, 1) for name, course in courses.items() if name != "untimed"}
    expected.add((courses["clean"], 2))
    assert _cycles(data) == expected
    # Every patient with a known diagnosis is still referred and treated.
    assert {p.patient_id for p in data.patients} == set(ids.values()) - {ids["unknown_diagnosis"]}
    assert all(p.treated for p in data.patients)
    # Responses: the two odd ones are out of the rates, and out of PFS and the swimmer plot.
    assert {r.patient_id for r in data.responses} == {ids["clean"]}
    assert data.unprogressed == {ids["early_response"], ids["before_baseline"]}
    # Survival: only the patient whose death comes before a dose is out of every curve.
    assert data.unfollowed == {ids["early_death"]}
    # Toxicity: the grade 7 is out, the fever of the same entry counts.
    toxicities = {(t.patient_id, t.term, t.grade) for t in data.toxicities}
    assert toxicities == {(ids["clean"], "hypotension", 3), (ids["grade_7"], "fever", 2)}


def test_the_summary_counts_follow_the_exclusions(app: App, program: Odd) -> None:
    summary, _ = report(app.services, program.researcher, as_of=AS_OF)
    melanoma = summary["by_diagnosis"]["melanoma"]
    assert melanoma["patients"] == len(program.ids) - 1
    assert melanoma["treated"] == len(program.ids) - 1
    assert melanoma["assessed"] == 1
    treated = len(program.ids) - 1
    assert melanoma["overall_survival"]["patients"] == treated - 1
    assert melanoma["progression_free_survival"]["patients"] == treated - 3
    assert summary["patients"]["cycles"] == len(program.courses) - 1 + 1


def test_each_exclusion_is_audited_with_the_patient(app: App, program: Odd) -> None:
    report(app.services, program.researcher, as_of=AS_OF)
    with app.services.uow() as uow:
        entries = [e for e in uow.audit.entries() if e.action == "leave_out_of_outcomes"]
    odd = {key for name, key in program.ids.items() if name != "clean"}
    assert {e.patient_id for e in entries} == odd
    assert all(e.username == "researcher" for e in entries)
    by_patient = {e.patient_id: e.after for e in entries}
    problems = by_patient[program.ids["early_cycle"]]
    assert problems is not None
    assert problems["problems"][0]["study_id"] == study_number(
        program.ids["early_cycle"], key=app.services.study_key
    )


def test_a_clean_program_says_every_record_fits(app: App) -> None:
    odd = OddRecords(app)
    patient = odd.patient("ONLY")
    course = odd.course(patient, at(FIRST))
    odd.doses_as_planned(course, 1, 3)
    assert due_time(course, 1).date() == FIRST
    summary, html = _rendered(app, report(app.services, staff(app)[Role.RESEARCHER], as_of=AS_OF))
    assert summary["data_quality"]["problems"] == []
    assert "Every record fits the analysis" in html


def test_il2_report_writes_the_report_and_a_line_per_problem(
    app: App, program: Odd, database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "IL2_DATABASE_URL": database_url,
        "IL2_STUDY_KEY": app.services.study_key.decode("ascii"),
    }
    output = tmp_path / "report.html"
    done = subprocess.run(  # noqa: S603 - our own command
        [IL2, "report", "--as-of", AS_OF.isoformat(), "--user", "researcher",
         "--output", str(output)],
        capture_output=True, text=True, check=False, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    odd = [
        study_number(key, key=app.services.study_key)
        for name, key in program.ids.items()
        if name != "clean"
    ]
    assert f"data quality: {len(odd)} patient(s) left out of some figures" in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("  S-")]
    assert sorted(line.split()[0] for line in lines) == sorted(odd)
    assert "Data quality" in output.read_text(encoding="utf-8")
    as_json = subprocess.run(  # noqa: S603 - our own command
        [IL2, "report", "--as-of", AS_OF.isoformat(), "--user", "researcher", "--json"],
        capture_output=True, text=True, check=False, env=env, timeout=300,
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["data_quality"]["patients_with_problems"] == len(odd)
