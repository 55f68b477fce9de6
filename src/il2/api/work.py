"""Where a request's database work runs: on the event loop for SQLite, in a thread otherwise.

SQLite takes one writer at a time, and every il2 transaction writes (reads are audited), so a
SQLite server gains nothing from worker threads; it only pays for them. Each hand-off to a
worker thread costs the dose-recording request about 1 ms of CPU (measured with
benchmarks/api.py: the sqlite3 module releases the GIL at every step, and with the event loop
busy each release is a contended hand-off). So on SQLite the work runs on the event loop,
one request at a time, as SQLite would serialise it anyway. PostgreSQL takes concurrent
transactions, so there the work goes to a worker thread and requests overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


class Runner:
    """Runs a service call where this server's database wants it."""

    def __init__(self, *, inline: bool) -> None:
        self.inline = inline

    async def __call__(self, work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """The result of `work(*args, **kwargs)`, run inline or in a worker thread."""
        if self.inline:
            return work(*args, **kwargs)
        return await run_in_threadpool(work, *args, **kwargs)


async def runner(request: Request) -> Runner:
    """The server's runner (set by create_api)."""
    found: Runner = request.app.state.runner
    return found


Run = Annotated[Runner, Depends(runner)]
