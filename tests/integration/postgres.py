"""A throwaway PostgreSQL cluster on loopback for the test session (initdb and pg_ctl run as the postgres user when the tests run as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def cluster(directory: Path | None = None) -> Iterator[str]:
    """Start a cluster, yield its base URL (no database name), stop and remove it after.

    Its files go in a new folder under `directory` (the system's temporary directory if None).
    """
    binaries = server_binaries()
    assert binaries is not None
    workdir = Path(tempfile.mkdtemp(prefix="il2-pg-", dir=directory))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    data, port = workdir / "data", _free_port()
    run = lambda *args: subprocess.run(_as_postgres([*args]), check=True, capture_output=True)  # noqa: E731, S603
    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log"), "-w", "start",
        "-o", f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=on")  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
