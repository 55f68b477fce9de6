"""`il2 serve --workers N`: N server processes, each with its own listening socket.

uvicorn's own workers share one listening socket. When a burst of clients connects, the
process that wakes first accepts every waiting connection, so the load does not spread:
measured with 16 clients and two processes on PostgreSQL, one process took 15 connections
and the other 1 (p50 54 ms on the busy one, 6 ms on the idle one). On Linux each process
here binds its own socket to the address with SO_REUSEPORT, and the kernel hands each new
connection to one of them by a hash of its addresses, spreading them evenly on average.

The parent only supervises: it checks that the address is free (so a second il2 on the
same port fails instead of silently sharing it), starts the processes, starts a new one in
place of any that dies, and stops them all on SIGINT or SIGTERM. A process that dies within
seconds of starting, three times in a row, stops the server: something is wrong with the
set-up (the database, the address), and restarting forever would only hide it.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import typer

QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_ALLOWED = 3
STOP_SECONDS = 15.0
BACKLOG = 2048


def shares_ports() -> bool:
    """Whether the kernel spreads connections over sockets bound with SO_REUSEPORT."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listener(host: str, port: int, *, share: bool) -> socket.socket:
    """A listening TCP socket on host:port; `share` joins the port's SO_REUSEPORT group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if share:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(  # pragma: no cover - a child process
    host: str, port: int, factory: str, proxies: str
) -> None:
    import uvicorn  # noqa: PLC0415 - only server processes need it

    sock = listener(host, port, share=True)
    config = uvicorn.Config(
        factory,
        factory=True,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=proxies,
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(
    host: str, port: int, workers: int, factory: str, proxies: str = "127.0.0.1"
) -> None:
    """Run `workers` server processes for the app `factory` until SIGINT or SIGTERM; each
    believes forwarded headers only from the addresses in `proxies`."""
    try:
        listener(host, port, share=False).close()
    except OSError as refused:
        raise typer.BadParameter(
            f"cannot listen on {host}:{port}: {refused.strerror}", param_hint="--port"
        ) from None
    spawn = multiprocessing.get_context("spawn")

    def start() -> tuple[BaseProcess, float]:
        process = spawn.Process(target=_worker, args=(host, port, factory, proxies), daemon=False)
        process.start()
        return process, time.monotonic()

    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    quick_deaths = 0
    try:
        while not stopping.wait(0.5):
            for index, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                quick = time.monotonic() - started < QUICK_DEATH_SECONDS
                quick_deaths = quick_deaths + 1 if quick else 0
                if quick_deaths >= QUICK_DEATHS_ALLOWED:
                    typer.echo(
                        f"il2: server processes keep stopping at start (exit code "
                        f"{process.exitcode}); see the messages above",
                        err=True,
                    )
                    raise typer.Exit(1)
                typer.echo(
                    f"il2: server process {process.pid} stopped (exit code {process.exitcode}); "
                    "starting another",
                    err=True,
                )
                running[index] = start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for process, _ in running:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
