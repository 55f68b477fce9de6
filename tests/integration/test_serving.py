"""`il2 serve --workers N` on PostgreSQL: processes with their own sockets, supervised.

Each server process binds the port with SO_REUSEPORT (il2.cli.serving), so the kernel spreads
connections over them; the parent replaces a process that dies and stops them all when asked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import typer

from il2.bootstrap import App
from il2.cli.serving import listener, serve_processes
from tests.integration.test_crash import IL2, free_port, postgres_app, serving

__all__ = ["postgres_app"]  # the fixture, shared with the crash tests

CONNECTIONS = 16


def server_processes(parent: int) -> set[int]:
    """The worker processes `il2 serve` started (children running the spawned server)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)$", text, re.MULTILINE)
        if ppid and int(ppid.group(1)) == parent and b"spawn_main" in command:
            found.add(int(status.parent.name))
    return found


def established_on(port: int) -> set[str]:
    """Socket inodes of the TCP connections accepted on 127.0.0.1:`port` (/proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and state == "01":  # 01: ESTABLISHED
            inodes.add(inode)
    return inodes


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for link in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(link.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def wait_for(condition: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {condition}")


def test_connections_spread_over_the_processes_and_a_killed_one_is_replaced(
    postgres_app: App, tmp_path: Path
) -> None:
    with serving(postgres_app.settings.database_url, tmp_path / "serve.log", workers=2) as server:
        parent = server.process.pid
        wait_for(lambda: len(server_processes(parent)) == 2)
        workers = server_processes(parent)
        port = int(server.url.rsplit(":", 1)[1])

        clients = [httpx.Client(timeout=30.0) for _ in range(CONNECTIONS)]
        try:
            for client in clients:  # one kept-alive connection each
                answer = client.get(f"{server.url}/health")
                assert answer.status_code == 200, answer.text
            accepted = established_on(port)
            by_process = {pid: len(sockets_of(pid) & accepted) for pid in workers}
        finally:
            for client in clients:
                client.close()
        assert sum(by_process.values()) == CONNECTIONS, by_process
        # Hashing puts all 16 on one process with probability 2 / 2**16; uvicorn's shared
        # socket did so routinely (15 and 1 measured).
        assert all(count > 0 for count in by_process.values()), by_process

        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: killed not in server_processes(parent) and
                 len(server_processes(parent)) == 2)  # fmt: skip
        answers = [httpx.get(f"{server.url}/health", timeout=30.0) for _ in range(20)]
        assert [a.status_code for a in answers] == [200] * 20
        assert "starting another" in server.tail()

        replaced = server_processes(parent)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.tail()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in replaced), 30)


def test_a_second_server_on_the_same_port_is_refused_not_joined(
    postgres_app: App, tmp_path: Path
) -> None:
    with serving(postgres_app.settings.database_url, tmp_path / "serve.log", workers=2) as server:
        port = server.url.rsplit(":", 1)[1]
        env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
        env["IL2_DATABASE_URL"] = postgres_app.settings.database_url
        second = subprocess.run(  # noqa: S603 - our own command with fixed arguments
            [IL2, "serve", "--host", "127.0.0.1", "--port", port, "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        assert "cannot listen on 127.0.0.1:" in second.stderr
        assert "--port" in second.stderr
        assert httpx.get(f"{server.url}/health", timeout=30.0).status_code == 200


def test_sharing_sockets_join_one_port_and_a_plain_bind_is_refused() -> None:
    port = free_port()
    first = listener("127.0.0.1", port, share=True)
    second = listener("127.0.0.1", port, share=True)
    try:
        with pytest.raises(OSError, match="in use"):
            listener("127.0.0.1", port, share=False)
    finally:
        first.close()
        second.close()
    listener("127.0.0.1", port, share=False).close()  # free again once they are closed


def broken_app() -> object:
    """A server app that cannot be built (what a process dying at start looks like)."""
    raise RuntimeError("this server process cannot start")


def test_the_parent_stops_when_its_processes_keep_dying_at_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three quick deaths in a row end the server with exit code 1, not endless restarts."""
    with pytest.raises(typer.Exit) as stopped:
        serve_processes("127.0.0.1", free_port(), 2, f"{__name__}:broken_app")
    assert stopped.value.exit_code == 1
    printed = capsys.readouterr().err
    assert "keep stopping at start" in printed
    assert printed.count("starting another") >= 1
