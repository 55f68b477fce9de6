"""What one dose write costs il2 itself: CPU time and instructions, with no network and no clients.

benchmarks/api.py measures the server over loopback with 16 clients, and its figures move with
the host: on a shared 2-vCPU virtual machine the same code took 1.6 ms of CPU a write in one
run and 2.7 ms in the next. This benchmark drives the same request, `POST
/api/courses/{id}/doses` recording a before-dose assessment, straight through the ASGI app in
one process, one write at a time, and prints:

- CPU time a write (the median of 6 batches), which still follows the host's speed;
- with `--instructions` (needs valgrind), instructions a write, counted by callgrind as the
  difference between a run of 20 writes and one of 120 with a fixed hash seed: the count repeats
  to within a few hundred instructions, so it tells two versions of the code apart where timing
  cannot (a 5% change).

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/write_cost.py [--only sqlite|postgresql] [--writes 500]
                                              [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from api import PASSWORD, SLOTS_PER_COURSE, Slot, _assessment, prepare
from il2.api.app import create_api
from il2.bootstrap import build_app
from il2.config import Settings
from il2.services.accounts import sign_in

ROOT = Path(__file__).parents[1]
RAM_DISK = Path("/dev/shm")  # noqa: S108 - a tmpfs on Linux: the disk's flushes stay out of it
BATCHES = 6
COUNTED = (20, 120)  # writes in the two callgrind runs; their difference is what is counted


class Writer:
    """Dose writes through the ASGI app, as a signed-in nurse, one at a time."""

    def __init__(self, database_url: str) -> None:
        self.app = build_app(Settings(database_url=database_url))
        self.api = create_api(self.app)
        token, _ = sign_in(self.app.services, username="nurse", password=PASSWORD)
        self.headers = [
            (b"host", b"il2"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]

    async def write(self, slot: Slot) -> None:
        course_id, cycle, number, due_at = slot
        body = json.dumps({"cycle": cycle, "dose_number": number, "assessment": _assessment(),
                           "given_at": due_at, "verified_by": "nurse2"}).encode()  # fmt: skip
        path = f"/api/courses/{course_id}/doses"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80), "state": {},
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        sent: list[MutableMapping[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:  # the request is complete: wait as a server would for a disconnect
                await asyncio.Event().wait()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await self.api(scope, receive, send)
        if sent[0]["status"] != 201:
            raise RuntimeError(f"dose {cycle}.{number}: {sent[0]['status']} {sent[-1]['body']!r}")

    def close(self) -> None:
        self.app.engine.dispose()


def _run(main: Any) -> Any:
    """Run a coroutine on uvloop, as `il2 serve` does, or asyncio's own loop without it."""
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional, as in the server

        return uvloop.run(main)
    return asyncio.run(main)


def _slots(database_url: str, writes: int) -> list[Slot]:
    courses = prepare(database_url, writes // SLOTS_PER_COURSE + 1)
    return [slot for course in courses for slot in course][:writes]


def cpu_a_write(database_url: str, writes: int) -> tuple[float, float]:
    """The median and the least CPU milliseconds a write over BATCHES batches of `writes`."""
    slots = _slots(database_url, writes * (BATCHES + 1))
    writer = Writer(database_url)

    async def batches() -> list[float]:
        for slot in slots[:writes]:  # warm up: caches, compiled statements, the token cache
            await writer.write(slot)
        took = []
        for batch in range(1, BATCHES + 1):
            start = time.process_time()
            for slot in slots[batch * writes : (batch + 1) * writes]:
                await writer.write(slot)
            took.append((time.process_time() - start) / writes * 1000)
        return took

    try:
        took = _run(batches())
    finally:
        writer.close()
    return statistics.median(took), min(took)


def _count(database_url: str, writes: int) -> int:
    """Instructions of one child process that makes `writes` writes (callgrind)."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(writes), "--url", database_url,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    found = re.search(r"Collected\s*:\s*([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def instructions_a_write(fresh_database: Iterator[str]) -> float:
    """Instructions a write: (120 writes - 20 writes) / 100, each run on a fresh database."""
    counts = []
    for writes in COUNTED:
        url = next(fresh_database)
        prepare(url, COUNTED[-1] // SLOTS_PER_COURSE + 1)  # the same set-up for both runs
        counts.append(_count(url, writes))
    return (counts[1] - counts[0]) / (COUNTED[1] - COUNTED[0])


def child(database_url: str, writes: int) -> None:
    """The measured process: sign in, then `writes` writes (the set-up is counted in both)."""
    courses = COUNTED[-1] // SLOTS_PER_COURSE + 1
    writer = Writer(database_url)
    slots: list[Slot] = []
    with writer.app.services.uow() as uow:
        for course_id in range(1, courses + 1):
            course = uow.courses.get(course_id)
            if course is None:
                raise RuntimeError(f"course {course_id} was not prepared")
            slots += [(course_id, cycle["cycle"], dose["number"], dose["due_at"])
                      for cycle in course.plan["cycles"] for dose in cycle["doses"]]  # fmt: skip

    async def run() -> None:
        for slot in slots[:writes]:
            await writer.write(slot)

    _run(run())
    writer.close()


def sqlite_databases(folder: Path) -> Iterator[str]:
    """Fresh SQLite files in `folder`."""
    number = 0
    while True:
        number += 1
        yield f"sqlite:///{folder / f'write-cost-{number}.sqlite3'}"


def postgres_databases(base: str) -> Iterator[str]:
    """Fresh databases in one PostgreSQL cluster."""
    import psycopg  # noqa: PLC0415 - only for PostgreSQL

    number = 0
    while True:
        number += 1
        name = f"write_cost_{number}"
        plain_url = base.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(f"{plain_url}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        yield f"{base}/{name}"


def report(name: str, databases: Iterator[str], writes: int, *, instructions: bool) -> None:
    median, least = cpu_a_write(next(databases), writes)
    print(f"{name}")
    print(f"  CPU a write: median {median:.3f} ms, least {least:.3f} ms "
          f"({BATCHES} batches of {writes}, through the ASGI app)")  # fmt: skip
    if instructions:
        print(f"  instructions a write: {instructions_a_write(databases):,.0f} (callgrind)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--writes", type=int, default=500, help="writes a batch")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions a write with valgrind (minutes)")  # fmt: skip
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        child(options.url, options.child)
        return
    if options.instructions and shutil.which("valgrind") is None:
        print("instructions: skipped, valgrind is not installed (apt-get install valgrind)")
        options.instructions = False
    place = RAM_DISK if RAM_DISK.is_dir() else None
    print(f"One dose write through the ASGI app, databases on {place or 'disk'}")
    if options.only in {None, "sqlite"}:
        with tempfile.TemporaryDirectory(prefix="il2-write-cost-", dir=place) as folder:
            report("SQLite", sqlite_databases(Path(folder)), options.writes,
                   instructions=options.instructions)  # fmt: skip
    if options.only in {None, "postgresql"}:
        sys.path.insert(0, str(ROOT))  # the throwaway cluster recipe lives with the tests
        postgres = importlib.import_module("tests.integration.postgres")
        if postgres.server_binaries() is None:
            print("PostgreSQL: skipped, no server binaries (apt-get install postgresql)")
            return
        with postgres.cluster(place) as base:
            report("PostgreSQL", postgres_databases(base), options.writes,
                   instructions=options.instructions)  # fmt: skip


if __name__ == "__main__":
    main()
