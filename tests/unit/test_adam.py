"""ADaM exports re-analysed from the files they write give il2's own figures: response counts
from ADRS, and the Kaplan-Meier curves of OS, PFS and duration of response from ADTTE."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import replace
from datetime import date
from functools import cache

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.adam import adrs, adtte, parse_spec, spec, study_day
from il2.science.dataset import DIAGNOSES, Program
from il2.science.report import summarize
from il2.science.survival import ENDPOINTS, fit
from il2.science.synthetic import synthetic_program
from il2.services.adam import Export, dataset_of, format_of, to_csv, to_parquet

AS_OF = date(2025, 6, 30)
PARAMS = {
    "OS": "overall_survival",
    "PFS": "progression_free_survival",
    "RSD": "duration_of_response",
}
DATES = {"adrs": ("TRTSDT", "ADT"), "adtte": ("TRTSDT", "STARTDT", "ADT")}


@cache
def program() -> Program:
    """A synthetic program, with some patients left out of time-to-event figures as the
    reader leaves them out (follow-up not trusted; a response record left out)."""
    made = synthetic_program(patients=300, rng=np.random.default_rng(3), as_of=AS_OF)
    ids = sorted(p.patient_id for p in made.patients if p.treated)
    dropped = {r.patient_id for r in made.responses if r.patient_id in set(ids[20:30])}
    return replace(
        made,
        responses=tuple(r for r in made.responses if r.patient_id not in dropped),
        unfollowed=frozenset(ids[:10]),
        unprogressed=frozenset(ids[20:30]),
    )


def _ids(data: Program) -> dict[int, str]:
    return {p.patient_id: f"S-{p.patient_id:06d}" for p in data.patients}


def _export(dataset: str, *, dates: bool = True, data: Program | None = None) -> Export:
    data = data or program()
    build = adrs if dataset == "adrs" else adtte
    rows = build(data, _ids(data), dates=dates)
    chosen = dataset_of(dataset)
    return Export(chosen, spec().variables[chosen], rows, not dates, data.as_of)


def _from_parquet(export: Export) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(io.BytesIO(to_parquet(export))).to_pylist()
    return rows


def _from_csv(export: Export) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(export).decode("utf-8"))))


def test_adrs_read_back_from_parquet_and_csv_gives_the_reports_response_counts() -> None:
    summary = summarize(program())["by_diagnosis"]
    export = _export("adrs")
    for rows in (_from_parquet(export), _from_csv(export)):
        for diagnosis in DIAGNOSES:
            counted = [r for r in rows if r["DIAGNOS"] == diagnosis and r["ANL01FL"] == "Y"]
            best = Counter(str(r["AVALC"]) for r in counted)
            figures = summary[diagnosis]
            assert len(counted) == figures["assessed"]
            assert best["CR"] == figures["best_overall_response"]["CR"]
            assert best["CR"] + best["PR"] == figures["orr"]["count"]
            assert len(counted) == figures["orr"]["total"]
            assert best["CR"] == figures["cr_rate"]["count"]
            assert {k: best[k] for k in figures["best_overall_response"]} == dict(
                figures["best_overall_response"]
            )


def test_adrs_has_one_bor_record_per_treated_patient_with_missing_for_no_response() -> None:
    rows = _export("adrs").rows
    treated = {p.patient_id for p in program().patients if p.treated}
    assert len(rows) == len(treated) == len({r["USUBJID"] for r in rows})
    assert {r["PARAMCD"] for r in rows} == {"BOR"}
    missing = [r for r in rows if r["AVALC"] == "MISSING"]
    assert len(missing) == len(treated) - len(program().responses)
    assert all(r["ANL01FL"] is None and r["AVAL"] == 7.0 for r in missing)
    aval = spec().response_aval
    assert all(r["AVAL"] == float(aval[str(r["AVALC"])]) for r in rows)


def test_adrs_dates_a_response_at_its_first_cr_or_pr_and_counts_study_days_from_day_one() -> None:
    responses = {f"S-{r.patient_id:06d}": r for r in program().responses}
    for row in _export("adrs").rows:
        response = responses.get(str(row["SUBJID"]))
        if response is not None and response.best_overall_response in ("CR", "PR"):
            assert row["ADT"] == response.response_on
        if row["ADT"] is not None:
            assert isinstance(row["TRTSDT"], date)
            assert isinstance(row["ADT"], date)
            assert row["ADY"] == study_day(row["ADT"], row["TRTSDT"])
    assert study_day(date(2025, 1, 1), date(2025, 1, 1)) == 1
    assert study_day(date(2024, 12, 31), date(2025, 1, 1)) == -1


@pytest.mark.parametrize("paramcd", list(PARAMS))
def test_adtte_read_back_gives_the_reports_kaplan_meier_medians(paramcd: str) -> None:
    """lifelines on AVAL and 1 - CNSR, per diagnosis, gives the report's median and events."""
    summary = summarize(program())["by_diagnosis"]
    endpoint = PARAMS[paramcd]
    rows = [r for r in _from_parquet(_export("adtte")) if r["PARAMCD"] == paramcd]
    for diagnosis in DIAGNOSES:
        mine = [r for r in rows if r["DIAGNOS"] == diagnosis]
        durations = ENDPOINTS[endpoint](program())[diagnosis]
        expected = fit(durations)
        assert len(mine) == expected.n_
        days = np.array([r["AVAL"] for r in mine], dtype=float)
        events = np.array([r["CNSR"] == 0 for r in mine])
        assert sorted(zip(days, events, strict=True)) == sorted(
            zip(durations.days, durations.events, strict=True)
        )
        fitter = KaplanMeierFitter().fit(days, event_observed=events)
        median = float(fitter.median_survival_time_)
        assert (median if np.isfinite(median) else None) == expected.median_
        assert int(events.sum()) == summary[diagnosis][endpoint]["events"]


def test_adtte_has_one_record_per_subject_per_parameter_and_leaves_out_whom_the_report_does() -> (
    None
):
    rows = _export("adtte").rows
    keys = [(r["USUBJID"], r["PARAMCD"]) for r in rows]
    assert len(keys) == len(set(keys))
    by_param = {code: {r["SUBJID"] for r in rows if r["PARAMCD"] == code} for code in PARAMS}
    unfollowed = {f"S-{p:06d}" for p in program().unfollowed}
    unprogressed = {f"S-{p:06d}" for p in program().unprogressed}
    assert not unfollowed & (by_param["OS"] | by_param["PFS"] | by_param["RSD"])
    assert unprogressed - unfollowed <= by_param["OS"]
    assert not unprogressed & (by_param["PFS"] | by_param["RSD"])
    assert by_param["RSD"] <= by_param["PFS"] <= by_param["OS"]


def test_adtte_events_and_censorings_say_what_and_where_from() -> None:
    for row in _export("adtte").rows:
        assert isinstance(row["ADT"], date)
        assert isinstance(row["STARTDT"], date)
        assert row["AVAL"] == max((row["ADT"] - row["STARTDT"]).days, 0)
        assert row["ADT"] <= AS_OF
        if row["CNSR"] == 0:
            assert row["EVNTDESC"] in ("Death", "Disease Progression")
            assert row["CNSDTDSC"] is None
        else:
            assert row["CNSDTDSC"] in ("Alive During Study", "Data Cut-off")
        assert (row["SRCDOM"], row["SRCVAR"]) in spec().sources.values()
        if row["PARAMCD"] == "OS":
            assert row["EVNTDESC"] != "Disease Progression"


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), patients=st.integers(1, 40), cut=st.integers(0, 3000))
def test_cnsr_is_only_0_or_1_and_aval_never_negative_whatever_the_program_and_cut_off(
    seed: int, patients: int, cut: int
) -> None:
    made = synthetic_program(patients=patients, rng=np.random.default_rng(seed), years=5)
    data = replace(made, as_of=date.fromordinal(AS_OF.toordinal() - cut))
    for row in adtte(data, _ids(data)):
        assert row["CNSR"] in (0, 1)
        assert isinstance(row["AVAL"], float)
        assert row["AVAL"] >= 0


@pytest.mark.parametrize("dataset", ["adrs", "adtte"])
def test_without_dates_no_calendar_date_is_written_and_days_are_kept(dataset: str) -> None:
    export = _export(dataset, dates=False)
    assert export.rows
    for row in export.rows:
        assert all(row[name] is None for name in DATES[dataset])
        assert not any(isinstance(value, date) for value in row.values())
    dated = _export(dataset).rows
    kept = "ADY" if dataset == "adrs" else "AVAL"
    assert [r[kept] for r in export.rows] == [r[kept] for r in dated]
    text = to_csv(export).decode()
    assert re.search(r"\d{4}-\d{2}-\d{2}", text) is None
    assert pq.read_schema(io.BytesIO(to_parquet(export))).metadata[b"as_of"] == b"2025"


@pytest.mark.parametrize("dataset", ["adrs", "adtte"])
def test_csv_and_parquet_hold_the_same_records_under_the_same_header(dataset: str) -> None:
    export = _export(dataset)
    from_csv, from_parquet = _from_csv(export), _from_parquet(export)
    names = [v.name for v in export.variables]
    assert list(from_csv[0]) == names == list(from_parquet[0])

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value.isoformat() if isinstance(value, date) else str(value)

    assert [{k: text(v) for k, v in row.items()} for row in from_parquet] == from_csv


def test_parquet_columns_are_typed_and_carry_their_adam_labels() -> None:
    export = _export("adtte")
    schema = pq.read_schema(io.BytesIO(to_parquet(export)))
    assert schema.field("AVAL").type == pa.float64()
    assert schema.field("CNSR").type == pa.int64()
    assert schema.field("ADT").type == pa.date32()
    assert schema.field("USUBJID").type == pa.string()
    for variable in export.variables:
        assert schema.field(variable.name).metadata[b"label"] == variable.label.encode()
    assert schema.metadata[b"dataset"] == b"ADTTE"
    assert b"ADaM" in schema.metadata[b"standard"]


def test_the_specification_refuses_a_variable_name_adam_does_not_allow() -> None:
    text = (
        __import__("importlib.resources", fromlist=["files"])
        .files("il2.science")
        .joinpath("data", "adam.toml")
        .read_text(encoding="utf-8")
    )
    assert parse_spec(text) == spec()
    with pytest.raises(RuleTableError, match=r"adrs\.variables\[0\]\.name"):
        parse_spec(text.replace('name = "STUDYID"', 'name = "studyIdentifier"', 1))


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [(dataset_of, "adsl", "dataset"), (format_of, "xlsx", "format")],
)
def test_an_unknown_dataset_or_format_is_refused_naming_the_field(
    check: object, value: str, field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check(value)  # type: ignore[operator]
    assert refused.value.field == field


def test_a_patient_without_a_subject_id_is_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        adrs(program(), {})
    assert refused.value.field == "subject_ids"
