"""How long `il2 demo` takes, through the services and in bulk, and the report on 100,000 patients.

Measured, not estimated, on SQLite:
- `il2 demo` for 10 years through the audited services (one transaction per record);
- `il2 demo --patients 100000` through the bulk writer (batches of 500 patients): seconds,
  rows written, database size;
- the outcome report on that database (`outcomes.report`: read the program, summarize, render
  the HTML page), split into load, summarize and render. Target: under 10 s.

Prints figures; asserts nothing. The bulk program takes a quarter of an hour or more; for a
quicker look: `.venv/bin/python benchmarks/demo.py --patients 5000 --skip-services`.
`--database PATH` keeps the bulk database there, and reuses it (no rebuild) when it already
holds a program.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.science.plots import Thresholds, report_figures
from il2.science.report import summarize
from il2.services.accounts import actor_for_username
from il2.services.bulk import BulkWriter
from il2.services.demo import build_demo
from il2.services.outcomes import cycle_collection_paused, program
from il2.services.patients import patient_count
from il2.web.core import templates
from il2.web.report import render_report

UNTIL = date(2026, 11, 1)
TARGET_S = 10.0
TABLES = ("patients", "screenings", "courses", "doses", "entries", "audit")
OUTLINES = ("course_outlines", "entry_outlines", "cycle_tallies")  # derived, for the report
T = TypeVar("T")


def _app(path: Path) -> App:
    app = build_app(Settings(database_url=f"sqlite:///{path}"))
    upgrade_database(app)
    return app


def _timed(run: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def through_services(folder: Path) -> None:
    """The 10-year demo, record by record through the use cases."""
    app = _app(folder / "services.sqlite3")
    summary, seconds = _timed(lambda: build_demo(app.services, seed=1, years=10, until=UNTIL))
    print(
        f"il2 demo, 10 years, services:   {seconds:8.1f} s   ({summary.patients:,} patients, "
        f"{summary.courses:,} courses, {summary.doses:,} doses; "
        f"{summary.doses / seconds:,.0f} doses/s)"
    )
    app.engine.dispose()


def _progress() -> Callable[[int, int], None]:
    said: set[int] = set()

    def hear(done: int, total: int) -> None:
        tenth = done * 10 // total
        if tenth not in said:
            said.add(tenth)
            print(f"  ... {done:,} of {total:,} patients written", file=sys.stderr, flush=True)

    return hear


def _size_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def _rows(app: App) -> dict[str, int]:
    engine = create_engine(app.settings.database_url)
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))  # the size without a log
        counts = {
            table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names
            for table in (*TABLES, *OUTLINES)
        }
    engine.dispose()
    return counts


def in_bulk(path: Path, patients: int) -> App:
    """The bulk demo of `patients` referrals over 10 years (skipped if `path` holds one)."""
    app = _app(path)
    if patient_count(app.services):
        print(f"il2 demo --patients: reusing {path} ({patient_count(app.services):,} patients)")
        return app
    summary, seconds = _timed(
        lambda: build_demo(
            app.services,
            seed=1,
            years=10,
            until=UNTIL,
            patients=patients,
            writer=BulkWriter,
            progress=_progress(),
        )
    )
    rows = _rows(app)
    print(
        f"il2 demo --patients {patients}, bulk: {seconds:8.1f} s   ({summary.treated:,} "
        f"treated, {summary.courses:,} courses, {summary.doses:,} doses; "
        f"{summary.doses / seconds:,.0f} doses/s)"
    )
    written = sum(rows.values())
    print(
        f"  rows written: {written:,} ("
        + ", ".join(f"{table} {count:,}" for table, count in rows.items())
        + f"); database {_size_mb(path):,.0f} MB"
    )
    return app


def report_on(app: App) -> None:
    """outcomes.report on the bulk database, as its three steps, each timed."""
    researcher = actor_for_username(app.services, "demo-researcher")
    with cycle_collection_paused():  # as outcomes.report runs these three steps
        data, load_s = _timed(lambda: program(app.services, researcher, as_of=UNTIL))
        summary, summarize_s = _timed(lambda: summarize(data))
        lines = Thresholds.of(app.services.rules.recist)
        page, render_s = _timed(
            lambda: render_report(
                templates(app.services.rules), summary, report_figures(data, lines)
            )
        )
    total = load_s + summarize_s + render_s
    verdict = "within" if total < TARGET_S else "OVER"
    print(f"report (outcomes.report):       {total:8.2f} s   target < {TARGET_S:.0f} s: {verdict}")
    print(
        f"  load {load_s:.2f} s ({len(data.patients):,} patients, {len(data.courses):,} courses, "
        f"{len(data.cycles):,} cycles, {len(data.toxicities):,} toxicities, "
        f"{len(data.responses):,} responses); summarize {summarize_s:.2f} s; "
        f"render {render_s:.2f} s ({len(page) / 1e6:.2f} MB HTML)"
    )


def main() -> None:
    """Run the demo benchmarks and the report on the bulk program."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000, help="bulk demo referrals")
    parser.add_argument(
        "--skip-services", action="store_true", help="skip the 10-year demo through services"
    )
    parser.add_argument("--database", type=Path, help="keep (or reuse) the bulk database here")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if not options.skip_services:
            through_services(Path(folder))
        path = options.database or Path(folder) / "bulk.sqlite3"
        app = in_bulk(path, options.patients)
        report_on(app)
        app.engine.dispose()


if __name__ == "__main__":
    main()
