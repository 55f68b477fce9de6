"""A real, independent FHIR R4 peer for the tests, from the pinned npm packages in tests/fhir_peer.

Two uses, both started from Node.js processes of their own:

- `fhir_server()`: Medplum's FHIR router over its in-memory repository on a free loopback port
  (create, read, update, delete, search with the R4 search parameters and paging links, batch
  and transaction Bundles); yields the base URL `http://127.0.0.1:PORT/fhir`.
- `MedplumValidator`: Medplum's `validateResource` (@medplum/core), a structural validator
  independent of the Python `fhir.resources`. Neither checks required code bindings.

`ensure_installed()` runs `npm ci` from tests/fhir_peer/package-lock.json (integrity-checked)
when node_modules is missing or older than the lock, so a fresh clone needs no manual step.
Nothing here skips: a missing or too old Node.js is an error that says what to install.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

PEER_DIR = Path(__file__).resolve().parent / "fhir_peer"
"""tests/fhir_peer: package.json, package-lock.json, server.mjs, validate.mjs."""

NODE_MAJOR_NEEDED = 20
"""The oldest Node.js major these packages run on here. Medplum 5.2.13 declares
`^22.18.0 || >=24.2.0` (graphql 17, a dependency, `^22 || ^24 || >=25`); everything used here is
checked on Node 20. Node 18 (Debian 12's nodejs) lacks what @medplum/core calls
(Array.prototype.toSorted)."""

START_TIMEOUT_S = 60.0
"""How long a peer process may take to print "ready" (indexing the R4 profiles: ~1-3 s)."""

INSTALL_TIMEOUT_S = 600.0


class FhirPeerError(RuntimeError):
    """The FHIR peer could not be installed, started or asked; the message says why."""


def _node_and_npm() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        absent = " and ".join(name for name, found in (("node", node), ("npm", npm)) if not found)
        raise FhirPeerError(
            f"{absent} not found on PATH: the FHIR peer (tests/fhir_peer) runs on Node.js "
            f"{NODE_MAJOR_NEEDED} or later with npm. Run `make system-deps` (Debian packages "
            "nodejs npm; Debian 12's nodejs 18 is too old: use NodeSource's or Debian 13's)."
        )
    return node, npm


def node_version() -> tuple[int, int, int]:
    """The version of the `node` on PATH, as (major, minor, patch)."""
    node, _ = _node_and_npm()
    found = subprocess.run(  # noqa: S603 - node from PATH, fixed arguments
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    major, minor, patch = (int(part) for part in found.lstrip("v").split(".")[:3])
    return major, minor, patch


def _check_node() -> None:
    found = node_version()
    if found[0] < NODE_MAJOR_NEEDED:
        raise FhirPeerError(
            f"Node.js {NODE_MAJOR_NEEDED} or later is needed for the FHIR peer "
            f"(@medplum/* 5.2.13 declare ^22.18.0 || >=24.2.0; checked on 20); found "
            f"{'.'.join(map(str, found))}. Install NodeSource's nodejs 20+ or Debian 13's."
        )


def ensure_installed() -> Path:
    """Install the pinned packages with `npm ci` unless node_modules is newer than the lock.

    Returns tests/fhir_peer. Raises FhirPeerError (with npm's output) when node or npm is
    absent, Node.js is too old, or `npm ci` fails."""
    _check_node()
    _, npm = _node_and_npm()
    lock = PEER_DIR / "package-lock.json"
    # npm ci writes node_modules/.package-lock.json last: its time says the install completed.
    done = PEER_DIR / "node_modules" / ".package-lock.json"
    # One install at a time, also across pytest-xdist workers: each holds the lock file's flock.
    with lock.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if done.exists() and done.stat().st_mtime >= lock.stat().st_mtime:
            return PEER_DIR
        try:
            result = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=PEER_DIR,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise FhirPeerError(
                f"`npm ci` in {PEER_DIR} took over {INSTALL_TIMEOUT_S:.0f} s"
            ) from err
        if result.returncode != 0:
            raise FhirPeerError(
                f"`npm ci` in {PEER_DIR} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        done.touch()  # an older lock restored by git must not look newer than this install
    return PEER_DIR


class _NodeProcess:
    """A node script in tests/fhir_peer that prints "ready" on stdout, then talks in lines.

    stderr goes to a temporary file, quoted in every error about the process."""

    def __init__(self, script: str, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        node, _ = _node_and_npm()
        ensure_installed()
        self.script = script
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(  # noqa: S603 - node on our own scripts
            [node, script, *args],
            cwd=PEER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
            start_new_session=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stdout, name=f"{script} stdout", daemon=True).start()
        try:
            first = self.read_line(timeout)
        except FhirPeerError:
            self.close()
            raise
        if first != "ready":
            self.close()
            raise FhirPeerError(f"{script} printed {first!r}, not 'ready'{self.stderr_text()}")

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the process exited or closed stdout

    def read_line(self, timeout: float) -> str:
        """The next line on stdout; FhirPeerError if none comes in `timeout` s or it exited."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise FhirPeerError(
                f"{self.script}: no answer in {timeout:.0f} s{self.stderr_text()}"
            ) from None
        if line is None:
            self._lines.put(None)  # every later read fails the same way
            code = self.process.wait(timeout=10)
            raise FhirPeerError(f"{self.script} exited ({code}){self.stderr_text()}")
        return line

    def write_line(self, line: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as err:
            raise FhirPeerError(f"{self.script} is not running{self.stderr_text()}") from err

    def stderr_text(self) -> str:
        """What the process wrote on stderr, as a suffix for an error message ("" if nothing)."""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace").strip()
            if text:
                return f"; its stderr:\n{text[-4000:]}"
        return ""

    def close(self) -> None:
        """End the process (its whole process group) and wait for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def fhir_server(*, timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """A FHIR R4 server on a free loopback port, for the block: yields `http://127.0.0.1:PORT/fhir`.

    Its repository is in memory and starts empty; the process is ended on leaving the block.
    Raises FhirPeerError (with the server's stderr) if it is not ready within `timeout` s."""
    port = _free_port()
    server = _NodeProcess("server.mjs", str(port), timeout=timeout)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.close()


class MedplumValidator:
    """Medplum's structural FHIR R4 validator, in one long-running node process.

    `validate(resource)` returns the issues, each naming the element's path
    ("Patient.birthDate: Invalid date format"); an empty list means valid. Use it as a context
    manager or call `close()`."""

    def __init__(self, *, timeout: float = START_TIMEOUT_S) -> None:
        self._node = _NodeProcess("validate.mjs", timeout=timeout)
        self._lock = threading.Lock()

    def validate(self, resource: Mapping[str, Any], *, timeout: float = 30.0) -> list[str]:
        """The errors Medplum finds in `resource` (a FHIR R4 resource as JSON); [] if none."""
        line = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            try:
                self._node.write_line(line)
                answer = json.loads(self._node.read_line(timeout))
            except FhirPeerError:
                self.close()  # a late answer would be taken for the next resource's
                raise
        if answer.get("ok") is True:
            return []
        issues = answer.get("issues")
        if not isinstance(issues, list) or not issues:
            raise FhirPeerError(f"validate.mjs answered {answer!r}")
        return [str(issue) for issue in issues]

    def close(self) -> None:
        """End the node process."""
        self._node.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
