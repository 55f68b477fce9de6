"""The JSON API over loopback: GET /health against recording a dose, 16 concurrent clients.

Starts `il2 serve` on SQLite (a temporary file) and on PostgreSQL (a throwaway cluster from
tests/integration/postgres.py; skipped with a note when no server binaries are installed), and
drives each with threads, one keep-alive connection each, for a fixed time: first `GET /health`,
then `POST /api/courses/{id}/doses` recording a before-dose assessment with its decision (every
request a new dose slot, in dose order within a course).

The clients share the machine with the server, so they must cost it little: they speak HTTP
through the standard library's `http.client`, which took a third (writes) to a seventh (/health)
of httpx's CPU a request here. With httpx the clients used a whole core on /health and capped its
rate at about 1,400 a second, hiding the server's capacity (5,000-7,400 a second on the same
machine); and a busy client slows the server as well (on this 2-vCPU virtual machine, a busy
loop on the other vCPU made the same dose writes take 70% more CPU).

The server runs as deployed: one process on SQLite (one writer at a time), one process a CPU
core on PostgreSQL (`--workers`).

Every acknowledged write waits for the disk to confirm it (SQLite synchronous=FULL, PostgreSQL
fsync and synchronous_commit on), so a disk whose flushes sometimes stall holds up every
request in flight. The benchmark therefore measures the disk first (a flush after each small
append, as a commit does) and runs each database twice: with its files on that disk, and on
a RAM disk (/dev/shm, where a flush returns at once), which shows the software alone.

Targets (printed beside the figures): write throughput at least 1/3 of /health's; write p99
under 50 ms at 16 clients. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/api.py [--seconds 10] [--clients 16] [--only sqlite|postgresql]
                                       [--workers N] [--where disk|ram|both]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.services.accounts import actor_for_username, add_user
from il2.services.courses import plan_course
from il2.services.patients import create_patient

ROOT = Path(__file__).parents[1]
IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"
PASSWORD = "benchmark password only"  # noqa: S105 - a throwaway account on a throwaway database
FIRST_DOSE = "2026-12-07T08:00:00-08:00"
SLOTS_PER_COURSE = 28  # hd-label: two cycles of 14 doses
MOST_WRITES_A_SECOND = 1000  # plan for this many, so no client plans a course while timed
WARM_UP_SECONDS = 1.0
WRITE_TO_HEALTH_TARGET = 1 / 3
P99_TARGET_MS = 50.0
CLIENT_BOUND = 0.85  # share of a core; above it the load generator, not the server, is the limit
RAM_DISK = Path("/dev/shm")  # noqa: S108 - a tmpfs on Linux: where a flush costs nothing
PROBE_SECONDS = 5.0
PROBE_COMMITS_A_SECOND = 500  # about the rate of the write phase
STALL_MS = (20.0, 50.0)


def _assessment() -> dict[str, Any]:
    """The stable patient's before-dose assessment (examples/bedside/stable-give.json)."""
    return {
        "baseline": {"weight_kg": 70, "creatinine_mg_dl": 1.0}, "held_for": [],
        "vitals": {"sbp_mmhg": 104, "heart_rate_bpm": 96, "spo2_pct": 96,
                   "temperature_c": 37.8, "rhythm": "sinus"},
        "weight_kg": 74.5, "urine_output_ml_last_8h": 300,
        "labs": {"creatinine_mg_dl": 1.8, "bilirubin_mg_dl": 1.2, "platelets_per_ul": 90000,
                 "bicarbonate_mmol_l": 21, "hours_since_drawn": 6},
        "vasopressors": [{"agent": "phenylephrine", "now_ug_kg_min": 0.2,
                          "max_since_last_dose_ug_kg_min": 0.6}],
        "oxygen_l_min": 2, "mental_status": "normal", "coma_hours": 0, "intubated_hours": 0,
        "dialysis_hours": 0, "findings": [],
    }  # fmt: skip


Slot = tuple[int, int, int, str]  # course id, cycle, dose number, due at


@dataclass
class Tally:
    """One client's latencies (seconds) and answers that were not the expected status."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, seconds: float, status: int, expected: int) -> None:
        if status == expected:
            self.latencies.append(seconds)
        else:
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1


@dataclass(frozen=True)
class Figures:
    """Throughput and latency of one phase."""

    rate: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    client_cpu: float
    server_cpu: float
    server_ms_each: float


class Connection:
    """One client's keep-alive HTTP/1.1 connection; each call answers (status, body)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self._http = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                timeout=30)  # fmt: skip
        self._headers = {"Content-Type": "application/json", **(headers or {})}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self._http.request(method, path, body=body, headers=self._headers)
        answer = self._http.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self._http.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children, e.g. server workers (/proc)."""
    total, parents = 0, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    for candidate, (parent, ticks) in parents.items():
        if pid in {candidate, parent}:
            total += ticks
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(database_url: str, workdir: Path, workers: int) -> Iterator[tuple[str, int]]:
    """`il2 serve --workers N` on a free loopback port; yields its base URL and process id."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["IL2_DATABASE_URL"] = database_url
    log = workdir / "serve.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command with fixed arguments
            [
                IL2,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"il2 serve did not start:\n{log.read_text()[-2000:]}")
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@dataclass(frozen=True)
class Flushes:
    """How long the disk took to confirm small appends (fdatasync after each, as a commit)."""

    count: int
    p50_ms: float
    p99_ms: float
    longest_ms: float
    stalls: dict[float, int]  # flushes over each of STALL_MS

    def __str__(self) -> str:
        over = ", ".join(f"{n} over {ms:g} ms" for ms, n in self.stalls.items())
        return (
            f"{self.count:,} flushes in {PROBE_SECONDS:g} s: p50 {self.p50_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, longest {self.longest_ms:.1f} ms; {over}"
        )


def probe_flushes(directory: Path) -> Flushes:
    """Append 8 KiB and fdatasync, PROBE_COMMITS_A_SECOND times a second, for PROBE_SECONDS."""
    took: list[float] = []
    path = directory / "flush-probe"
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        end = time.perf_counter() + PROBE_SECONDS
        while (start := time.perf_counter()) < end:
            os.write(descriptor, b"\0" * 8192)
            os.fdatasync(descriptor)
            took.append(time.perf_counter() - start)
            time.sleep(max(0.0, 1 / PROBE_COMMITS_A_SECOND - (time.perf_counter() - start)))
    finally:
        os.close(descriptor)
        path.unlink()
    took.sort()
    return Flushes(
        count=len(took),
        p50_ms=_percentile(took, 0.50),
        p99_ms=_percentile(took, 0.99),
        longest_ms=took[-1] * 1000,
        stalls={ms: sum(1 for t in took if t * 1000 > ms) for ms in STALL_MS},
    )


def prepare(database_url: str, courses: int) -> list[list[Slot]]:
    """Migrate, add the accounts, plan `courses` courses; each course's slots in dose order."""
    app = build_app(Settings(database_url=database_url))
    upgrade_database(app)
    for username, role in (("nurse", "nurse"), ("nurse2", "nurse"), ("physician", "physician")):
        add_user(app.services, None, username=username, display_name=username, role=role,
                 password=PASSWORD)  # fmt: skip
    physician = actor_for_username(app.services, "physician")
    planned = []
    for number in range(courses):
        patient = create_patient(app.services, physician, {
            "mrn": f"BENCH-{number:05d}", "name": "Benchmark Patient", "birth_date": "1968-04-02",
            "sex": "female", "diagnosis": "melanoma", "referred_on": "2026-11-02"})  # fmt: skip
        course = plan_course(app.services, physician, patient.id, regimen="hd-label",
                             weight_kg=70, first_dose=FIRST_DOSE)  # fmt: skip
        planned.append([
            (course.id, cycle["cycle"], dose["number"], dose["due_at"])
            for cycle in course.plan["cycles"]
            for dose in cycle["doses"]
        ])  # fmt: skip
    app.engine.dispose()
    return planned


def sign_in(url: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{url}/api/token", json={"username": username, "password": PASSWORD},
                        timeout=30)  # fmt: skip
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def drive(
    clients: int, seconds: float, pid: int, work: Callable[[int, Tally, float], None]
) -> Figures:
    """Run `work(client index, tally, stop at)` on `clients` threads for `seconds`."""
    tallies = [Tally() for _ in range(clients)]
    stop_at = time.perf_counter() + seconds
    threads = [threading.Thread(target=work, args=(i, tallies[i], stop_at)) for i in range(clients)]
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_seconds(pid)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.perf_counter() - started
    client_share = (time.process_time() - cpu) / elapsed
    server_share = (_cpu_seconds(pid) - server_cpu) / elapsed
    latencies = sorted(x for t in tallies for x in t.latencies)
    answered = sum(len(t.latencies) + sum(t.errors.values()) for t in tallies)
    errors: dict[str, int] = {}
    for tally in tallies:
        for status, count in tally.errors.items():
            errors[status] = errors.get(status, 0) + count
    return Figures(
        rate=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        errors=errors,
        client_cpu=client_share,
        server_cpu=server_share,
        server_ms_each=server_share * elapsed / max(answered, 1) * 1000,
    )


def health_work(url: str) -> Callable[[int, Tally, float], None]:
    def work(_: int, tally: Tally, stop_at: float) -> None:
        connection = Connection(url)
        while (start := time.perf_counter()) < stop_at:
            status, _body = connection.call("GET", "/health")
            tally.add(time.perf_counter() - start, status, 200)
        connection.close()

    return work


def courses_per_client(seconds: float, clients: int) -> int:
    """Enough planned courses that no client runs out of dose slots while it is timed."""
    return math.ceil(seconds * MOST_WRITES_A_SECOND / clients / SLOTS_PER_COURSE) + 1


def dose_work(
    url: str,
    headers: dict[str, str],
    slots: list[list[Slot]],
    physician: dict[str, str],
    clients: int,
) -> Callable[[int, Tally, float], None]:
    """Each client records the doses of its own courses in order.

    The courses are planned before the clock starts; should a client still run out, it
    plans another over the API (counted in the time, not in the figures).
    """
    queues = [iter([s for course in slots[i::clients] for s in course]) for i in range(clients)]
    extra = itertools.count()

    def more(planner: Connection) -> list[Slot]:
        mrn = f"BENCH-MORE-{next(extra)}"  # count() hands out each number once, across threads
        _, patient = planner.call("POST", "/api/patients", json.dumps({
            "mrn": mrn, "name": "Benchmark Patient", "birth_date": "1968-04-02",
            "diagnosis": "melanoma"}).encode())  # fmt: skip
        _, course = planner.call("POST", f"/api/patients/{json.loads(patient)['id']}/courses",
                                 json.dumps({"regimen": "hd-label", "weight_kg": 70,
                                             "first_dose": FIRST_DOSE}).encode())  # fmt: skip
        planned = json.loads(course)
        return [(planned["id"], c["cycle"], d["number"], d["due_at"])
                for c in planned["plan"]["cycles"] for d in c["doses"]]  # fmt: skip

    def work(index: int, tally: Tally, stop_at: float) -> None:
        queue = queues[index]
        nurse, planner = Connection(url, headers), Connection(url, physician)
        while time.perf_counter() < stop_at:
            slot = next(queue, None)
            if slot is None:
                queue = iter(more(planner))
                continue
            course_id, cycle, number, due_at = slot
            body = json.dumps({"cycle": cycle, "dose_number": number, "assessment": _assessment(),
                               "given_at": due_at, "verified_by": "nurse2"}).encode()  # fmt: skip
            start = time.perf_counter()
            status, _ = nurse.call("POST", f"/api/courses/{course_id}/doses", body)
            tally.add(time.perf_counter() - start, status, 201)
        nurse.close()
        planner.close()

    return work


def line(label: str, figures: Figures) -> str:
    errors = f"   not as expected: {figures.errors}" if figures.errors else ""
    return (
        f"  {label:<28}{figures.rate:>9,.0f} req/s   p50 {figures.p50_ms:>7.1f} ms"
        f"   p99 {figures.p99_ms:>7.1f} ms   server CPU {figures.server_ms_each:>5.2f} ms a request"
        f" (busy {figures.server_cpu:>4.0%}), client CPU busy {figures.client_cpu:>4.0%}{errors}"
    )


def bench(name: str, database_url: str, seconds: float, clients: int, workers: int) -> None:
    """Prepare, serve, and print both phases' figures for one database."""
    slots = prepare(database_url, clients * courses_per_client(seconds, clients))
    with (
        tempfile.TemporaryDirectory(prefix="il2-bench-") as workdir,
        serving(database_url, Path(workdir), workers) as (url, pid),
    ):
        nurse, physician = sign_in(url, "nurse"), sign_in(url, "physician")
        drive(clients, WARM_UP_SECONDS, pid, health_work(url))
        health = drive(clients, seconds, pid, health_work(url))
        writes = drive(clients, seconds, pid, dose_work(url, nurse, slots, physician, clients))
    ratio = writes.rate / health.rate if health.rate else float("nan")
    print(f"{name}")
    print(line("GET /health", health))
    print(line("POST /api/courses/{id}/doses", writes))
    ratio_ok = "met" if ratio >= WRITE_TO_HEALTH_TARGET else "NOT met"
    p99_ok = "met" if writes.p99_ms < P99_TARGET_MS else "NOT met"
    print(f"  write/health {ratio:.2f} (target >= {WRITE_TO_HEALTH_TARGET:.2f}: {ratio_ok}); "
          f"write p99 {writes.p99_ms:.1f} ms (target < {P99_TARGET_MS:.0f} ms: "
          f"{p99_ok})")  # fmt: skip
    if health.client_cpu > CLIENT_BOUND:
        print("  note: the clients were CPU-bound on /health, so its rate understates the server;"
              " compare the server CPU per request")  # fmt: skip
    if health.server_ms_each > 0:
        print(f"  by server CPU, one write costs as much as "
              f"{writes.server_ms_each / health.server_ms_each:.1f} /health requests")  # fmt: skip


def places(where: str) -> list[tuple[str, Path | None]]:
    """Where the databases' files go: the system's temporary directory (a disk) or RAM."""
    found: list[tuple[str, Path | None]] = []
    if where in {"disk", "both"}:
        found.append((f"on disk ({tempfile.gettempdir()})", None))
    if where in {"ram", "both"}:
        if RAM_DISK.is_dir():
            found.append((f"on a RAM disk ({RAM_DISK})", RAM_DISK))
        else:
            print(f"RAM disk: skipped, {RAM_DISK} does not exist")
    return found


def main() -> None:
    """Run the benchmark on each database and place, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--workers", type=int, help="PostgreSQL server processes (CPU count)")
    parser.add_argument("--where", choices=("disk", "ram", "both"), default="both",
                        help="where the database files go")  # fmt: skip
    options = parser.parse_args()
    print(f"il2 API over loopback: {options.clients} clients, {options.seconds:g} s a phase, "
          f"{os.cpu_count()} CPUs; server and clients share them")  # fmt: skip
    sys.path.insert(0, str(ROOT))  # the throwaway cluster recipe lives with the tests
    postgres = importlib.import_module("tests.integration.postgres")
    for place, directory in places(options.where):
        print(f"\n== Databases {place}")
        if directory is None:
            with tempfile.TemporaryDirectory(prefix="il2-probe-") as probe:
                print(f"  the disk: {probe_flushes(Path(probe))}")
        if options.only in {None, "sqlite"}:
            with tempfile.TemporaryDirectory(prefix="il2-bench-db-", dir=directory) as folder:
                url = f"sqlite:///{Path(folder) / 'il2.sqlite3'}"
                bench("SQLite (WAL, synchronous=FULL; one server process)", url,
                      options.seconds, options.clients, workers=1)  # fmt: skip
        if options.only in {None, "postgresql"}:
            if postgres.server_binaries() is None:
                print("PostgreSQL: skipped, no server binaries (apt-get install postgresql)")
                continue
            with postgres.cluster(directory) as base:
                workers = options.workers or os.cpu_count() or 1
                bench(f"PostgreSQL (fsync on; {workers} server processes)", f"{base}/postgres",
                      options.seconds, options.clients, workers)  # fmt: skip


if __name__ == "__main__":
    main()
