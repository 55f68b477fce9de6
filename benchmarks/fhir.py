"""The FHIR facade's speed and the bulk export's memory, on the bulk demo program.

Prints, on SQLite:
- FHIR reads per second through the whole server stack in-process (Starlette's TestClient over
  `create_server`, one client, no network): `GET /fhir/Patient/<id>` and a compartment search
  (`GET /fhir/<type>?patient=Patient/<id>` for the first compartment type in the registry;
  with Patient alone, `GET /fhir/Patient?_id=<id>`), signed in as the demo physician;
- the bulk export (`$export` of every type, identified) at two program sizes: resources per
  second and the process's peak resident memory above what it held before the export (each
  export runs in a fresh child process, so the peaks do not mix). The export runs as a server
  runs it (services.exports.start_export with the facade's mapper), only in the foreground.

The demo program is built once (il2 demo --patients N through the bulk writer) into a SQLite
file cached under $XDG_CACHE_HOME/il2/bench (else ~/.cache/il2/bench), named by the number of
patients and a digest of the demo's code, and migrated to the newest schema on reuse. The build
writes a throwaway file (renamed only once complete), so it skips the fsync of each commit;
the rows are byte for byte those of a durable build. Last, the larger program's figures are
projected to 100,000 patients (linear: referrals are built one after the other, the export
goes in batches of a fixed size).

Measured with `--patients 5000` on a two-core machine at load 6 to 9 (other work running): the
10-year demo keeps 0.55 MB of database a patient (5,000 patients: 2,759 MB, built in 799 s
wall, 175 s of CPU); the export gave 250 to 260 resources a patient at 3,200 to 4,800 resources a
second, its peak memory the same at 1,000 and 5,000 patients (about 530 MB, 250 to 270 over
the process before it, batches of 50). 100,000 patients project to some 55 GB, about an hour
of CPU to build and 90 to 130 minutes to export on one core, so the default here is 10,000
(`--patients` to choose).

The export then got quicker, its files byte for byte the same: a record takes its rows' stored
JSON documents as read (no copy through `plain`), and the export reads only the keys of each
dose's decision that the mapping reads (`reasons`: some 240 of a decision's 20,000 bytes).
Measured with `--patients 1000` at load 1 to 2, before and after: 7,831 then 28,294 resources
a second at 1,000 patients (9,292 then 37,201 at 200); peak memory 253 then 41 MB over the
process before it. 100,000 patients then project to some 15 minutes of export (55 before, at
that load). What is left is mostly building the Observations (resources/observation.py).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event

from api import serving
from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.interop.fhir import records
from il2.interop.fhir.export import decision_keys, exportable, mapper
from il2.interop.fhir.resources import TYPES
from il2.server import create_server
from il2.services.accounts import actor_for_username
from il2.services.bulk import BulkWriter
from il2.services.demo import DEMO_PASSWORD, build_demo
from il2.services.exports import export_status, start_export
from il2.services.patients import RECORD_PARTS, patient_count

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

UNTIL = date(2026, 11, 1)
_SRC = Path(__file__).resolve().parents[1] / "src" / "il2"
_DEMO_CODE = ("services/demo.py", "services/bulk.py", "science/synthetic.py", "persistence/bulk.py")
READS = 300
PROJECTED = 100_000
_BUILT: dict[Path, tuple[float, float]] = {}
"""The programs built in this run: (seconds, seconds of CPU)."""


def demo_version() -> str:
    """A digest of the code that writes the demo and of the migrations' names: a cached
    program is rebuilt when either changes (a database migrated by another history of
    revisions would not upgrade)."""
    digest = hashlib.sha256()
    for name in _DEMO_CODE:
        path = _SRC / name
        digest.update(path.read_bytes() if path.exists() else name.encode())
    migrations = sorted(p.name for p in (_SRC / "persistence/migrations/versions").glob("0*.py"))
    digest.update("\n".join(migrations).encode())
    return digest.hexdigest()[:12]


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "il2" / "bench"


def _app(path: Path, data: Path) -> App:
    app = build_app(Settings(database_url=f"sqlite:///{path}", data_dir=data))
    upgrade_database(app)
    return app


def _unsynced(engine: Engine) -> None:
    """The build's connections skip the wait for the disk at each commit (synchronous=OFF).

    The file is thrown away unless the build completes (it is renamed only then), so the
    durability il2 asks of a real database buys nothing here; the journal stays WAL and every
    stored byte is the same. il2's own settings run first on connect; these run after them.
    """

    @event.listens_for(engine, "connect")
    def unsynced(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA synchronous=OFF")

    engine.dispose()  # the pooled connection was made with il2's settings


def program(patients: int) -> Path:
    """The cached demo database of `patients` referrals, built if missing."""
    path = _cache() / f"demo-{patients}-{demo_version()}.sqlite3"
    if path.exists():
        print(f"demo of {patients:,} patients: cached at {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    for stale in path.parent.glob(building.name + "*"):
        stale.unlink()
    app = _app(building, path.parent)
    _unsynced(app.engine)
    start, cpu = time.perf_counter(), time.process_time()
    build_demo(app.services, seed=1, years=10, until=UNTIL, patients=patients, writer=BulkWriter)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    app.engine.dispose()
    building.rename(path)
    size = path.stat().st_size / 1e6
    _BUILT[path] = (seconds, cpu)
    print(
        f"demo of {patients:,} patients: built in {seconds:,.0f} s ({cpu:,.0f} s of CPU; "
        f"{size:,.0f} MB) at {path}"
    )
    return path


def reads(path: Path) -> None:
    """FHIR reads per second through the server, in-process."""
    app = _app(path, path.parent)
    with TestClient(create_server(app)) as client:
        token = client.post(
            "/api/token", json={"username": "demo-physician", "password": DEMO_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        ids = [
            e["resource"]["id"]
            for e in client.get("/fhir/Patient", params={"_count": 100}, headers=headers).json()[
                "entry"
            ]
        ]
        compartment = next((n for n, kind in TYPES.items() if kind.in_compartment), None)

        def search(pid: str) -> str:
            if compartment is None:
                return f"/fhir/Patient?_id={pid}"
            return f"/fhir/{compartment}?patient=Patient/{pid}"

        for label, url in (
            ("GET /fhir/Patient/<id>", lambda pid: f"/fhir/Patient/{pid}"),
            (f"search {search('<id>').removeprefix('/fhir/')}", search),
        ):
            start = time.perf_counter()
            for n in range(READS):
                answer = client.get(url(ids[n % len(ids)]), headers=headers)
                assert answer.status_code == 200, answer.text  # noqa: S101 - a broken read is no figure
            seconds = time.perf_counter() - start
            print(f"  {label:44} {READS / seconds:8,.0f} reads/s ({READS} reads, TestClient)")
    _service_reads(app, ids)
    app.engine.dispose()
    _live_reads(path, ids)


def _live_reads(path: Path, ids: list[str]) -> None:
    """The same reads from `il2 serve` over loopback (one process, as SQLite is served), one
    keep-alive client speaking the standard library's http.client (cheap beside the server)."""
    with (
        tempfile.TemporaryDirectory() as work,
        serving(f"sqlite:///{path}", Path(work), 1) as (
            url,
            _,
        ),
    ):
        token = httpx.post(
            f"{url}/api/token",
            json={"username": "demo-physician", "password": DEMO_PASSWORD},
            timeout=30,
        ).json()["access_token"]
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        for label, path_of in (
            ("GET /fhir/Patient/<id>", lambda pid: f"/fhir/Patient/{pid}"),
            (
                "search Condition?patient=Patient/<id>",
                lambda pid: f"/fhir/Condition?patient=Patient/{pid}",
            ),
        ):
            start = time.perf_counter()
            for n in range(READS):
                connection.request("GET", path_of(ids[n % len(ids)]), headers=headers)
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200, answer.status  # noqa: S101 - a broken read is no figure
            seconds = time.perf_counter() - start
            print(f"  {label:44} {READS / seconds:8,.0f} reads/s ({READS} reads, il2 serve)")
        connection.close()


def _service_reads(app: App, ids: list[str]) -> None:
    """The same reads below HTTP: the record read (audited) and the mapping, by the parts a
    type names and by the whole record, so what HTTP and the record each cost shows."""
    actor = actor_for_username(app.services, "demo-physician")
    for name in ("Patient", "MedicationAdministration"):
        kind = TYPES[name]
        for label, parts in ((f"{name}'s parts", kind.parts), ("the whole record", RECORD_PARTS)):
            start = time.perf_counter()
            for n in range(READS):
                record, context = records.read(
                    app.services, actor, ids[n % len(ids)], base="", parts=parts
                )
                list(kind.build(record, context))
            seconds = time.perf_counter() - start
            print(
                f"  {name} from {label:35} {READS / seconds:8,.0f} reads/s "
                f"({READS} reads, services, no HTTP)"
            )


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Start the peak (VmHWM) afresh: ru_maxrss survives exec, so a child would report its
    parent's peak (Linux: writing 5 to clear_refs resets the high-water mark)."""
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def one_export(path: Path, policy: Path | None) -> None:
    """(Child process) export the whole program once, in the foreground; print JSON figures."""
    app = build_app(
        Settings(database_url=f"sqlite:///{path}", data_dir=path.parent, site_policy=policy)
    )
    physician = actor_for_username(app.services, "demo-physician")
    patients = patient_count(app.services)
    types = exportable()
    _reset_peak()
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    job = start_export(
        app.services,
        physician,
        request_url="benchmark",
        types=types,
        build=mapper(app.services, types, "http://bench/fhir"),
        decisions=decision_keys(types),
        spawn=lambda work: work(),
    )
    seconds = time.perf_counter() - start
    done = export_status(app.services, physician, job.id)
    folder = path.parent / "exports" / job.id
    size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    figures = {
        "patients": patients,
        "status": done.status.value,
        "resources": sum(f.count for f in done.outputs),
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_peak_mb": _status_mb("VmHWM"),
        "files_mb": size,
        "batch": app.rules.exports.batch_patients,
    }
    print(json.dumps(figures))
    app.engine.dispose()


def export(path: Path, policy: Path | None) -> dict[str, float]:
    """The export of the program at `path`, in a child process; its figures printed."""
    site = ["--site-policy", str(policy)] if policy else []
    child = subprocess.run(  # noqa: S603 - this script, with a path it made
        [sys.executable, __file__, "--one-export", str(path), *site],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    rate = figures["resources"] / figures["seconds"]
    grown = figures["rss_peak_mb"] - figures["rss_before_mb"]
    print(
        f"  $export {figures['patients']:>7,} patients: {figures['resources']:>9,} resources in "
        f"{figures['seconds']:7.1f} s = {rate:7,.0f} resources/s; peak RSS "
        f"{figures['rss_peak_mb']:.0f} MB ({grown:+.0f} MB over the {figures['rss_before_mb']:.0f} "
        f"MB before; batch {figures['batch']}); files {figures['files_mb']:.1f} MB "
        f"({figures['status']})"
    )
    return figures


def project(path: Path, figures: dict[str, float]) -> None:
    """The figures of PROJECTED patients, linear in patients from the program at `path`:
    referrals are built one after the other and exported in batches of a fixed size."""
    scale = PROJECTED / figures["patients"]
    size = path.stat().st_size / 1e9 * scale
    exporting = figures["seconds"] * scale / 60
    line = f"projected for {PROJECTED:,} patients: {size:,.0f} GB"
    if path in _BUILT:
        seconds, cpu = (x * scale / 60 for x in _BUILT[path])
        line += f"; build {seconds:,.0f} min ({cpu:,.0f} min of CPU)"
    else:
        line += " (build: not timed, the program was cached)"
    print(
        f"{line}; export {figures['resources'] * scale:,.0f} resources in {exporting:,.0f} min, "
        "at the load of this run"
    )


def main() -> None:
    """Build or reuse the demo programs, then print the read and export figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000, help="the larger program")
    parser.add_argument("--small", type=int, help="the smaller program (default a fifth)")
    parser.add_argument("--batch", type=int, help="export_batch_patients (default: the site's)")
    parser.add_argument("--one-export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--site-policy", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one_export:
        one_export(options.one_export, options.site_policy)
        return
    policy = None
    if options.batch:
        policy = _cache() / f"batch-{options.batch}.toml"
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(f"[policy]\nexport_batch_patients = {options.batch}\n", encoding="utf-8")
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    small = options.small or max(options.patients // 5, 1)
    paths = [program(small), program(options.patients)]
    print(f"FHIR reads, on the {options.patients:,}-patient program:")
    reads(paths[1])
    print("bulk export (every type, identified), each in a fresh process:")
    exported = [export(path, policy) for path in paths]
    project(paths[-1], exported[-1])
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
