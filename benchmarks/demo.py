"""How long `il2 demo` takes to write a program through the services, and the report on it.

Prints figures; asserts nothing. The 10-year program is written for real; a 100,000-patient
program is not (it would take hours through the audited services): its time is extrapolated
from the measured rate and printed as an estimate. benchmarks/report.py times the report on
100,000 synthetic patients built in memory.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.services.accounts import actor_for_username
from il2.services.demo import build_demo
from il2.services.outcomes import report

UNTIL = date(2026, 11, 1)


def main() -> None:
    """Write a 10-year demo on SQLite, then report on it."""
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(database_url=f"sqlite:///{Path(folder) / 'demo.sqlite3'}"))
        upgrade_database(app)
        start = time.perf_counter()
        summary = build_demo(app.services, seed=1, years=10, until=UNTIL)
        demo_s = time.perf_counter() - start
        rate = summary.patients / demo_s
        print(
            f"il2 demo, 10 years (SQLite):  {demo_s:8.1f} s  ({summary.patients} patients, "
            f"{summary.courses} courses, {summary.doses} doses; {rate:.1f} patients/s)"
        )
        print(
            f"il2 demo, 100,000 patients:   ~{100_000 / rate / 3600:6.1f} h  "
            "(estimate from that rate)"
        )
        actor = actor_for_username(app.services, "demo-researcher")
        start = time.perf_counter()
        _, html = report(app.services, actor, as_of=UNTIL)
        print(
            f"il2 report on the 10 years:   {time.perf_counter() - start:8.2f} s  "
            f"({len(html):,} bytes)"
        )
        app.engine.dispose()


if __name__ == "__main__":
    main()
