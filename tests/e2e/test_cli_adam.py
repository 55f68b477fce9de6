"""`il2 adam` on a real SQLite file: ADRS and ADTTE written as CSV and Parquet, read back to
the figures `il2 report --json` prints, and bad options refused naming the field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from tests.e2e.test_cli_records import run


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("adam") / "adam.sqlite3"
    done = run("demo", "--patients", "20", "--years", "2", "--until", "2026-11-01",
               database=path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def test_adam_writes_adrs_as_csv_and_adtte_as_parquet_that_agree_with_the_report(
    database: Path, tmp_path: Path
) -> None:
    report = run("report", "--as-of", "2026-11-01", "--json", database=database)
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)["by_diagnosis"]
    adrs, adtte = tmp_path / "adrs.csv", tmp_path / "adtte.parquet"
    wrote = run("adam", "--dataset", "adrs", "--format", "csv", "--output", str(adrs),
                "--as-of", "2026-11-01", database=database)  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    assert "ADRS written to" in wrote.stdout
    assert "dates withheld" in wrote.stdout
    with adrs.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wrote = run("adam", "--dataset", "adtte", "--format", "parquet", "--output", str(adtte),
                "--as-of", "2026-11-01", database=database)  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    events = pq.read_table(adtte).to_pylist()
    for diagnosis, block in figures.items():
        counted = [r for r in rows if r["DIAGNOS"] == diagnosis and r["ANL01FL"] == "Y"]
        assert len(counted) == block["assessed"]
        assert sum(r["AVALC"] == "CR" for r in counted) == block["best_overall_response"]["CR"]
        survival = [r for r in events if r["DIAGNOS"] == diagnosis and r["PARAMCD"] == "OS"]
        assert sum(r["CNSR"] == 0 for r in survival) == block["overall_survival"]["events"]
    assert {r["CNSR"] for r in events} <= {0, 1}
    assert all(r["ADT"] is None for r in events)  # the default user is a researcher


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [("--dataset", "adsl", "dataset"), ("--as-of", "soon", "as_of")],
)
def test_adam_refuses_a_bad_option_naming_the_field(
    tmp_path: Path, option: str, value: str, field: str
) -> None:
    given = {"--dataset": "adrs", "--format": "csv", "--as-of": "2026-11-01", option: value}
    output = tmp_path / "out"
    refused = run("adam", *[x for pair in given.items() for x in pair], "--output", str(output),
                  database=tmp_path / "empty.sqlite3")  # fmt: skip
    assert refused.returncode == 2
    assert field in refused.stderr
    assert not output.exists()
