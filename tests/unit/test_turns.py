"""Requests take turns first come, first served, one turn at a time (il2.api.turns)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.api.turns import Turns, in_turn

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main` with asyncio.run on a thread of its own: the browser tests' Playwright keeps
    an event loop running on the main thread, where asyncio.run refuses to start another."""

    async def call() -> T:
        return await main()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, call()).result()


@dataclass
class Trace:
    """What the requests did, in order, and how many held a turn at once."""

    events: list[str] = field(default_factory=list)
    holding: int = 0
    most_holding: int = 0


async def _request(trace: Trace, queue: Turns, name: str, iterations: int = 0) -> None:
    await queue.take()
    trace.holding += 1
    trace.most_holding = max(trace.most_holding, trace.holding)
    trace.events.append(f"start {name}")
    try:
        for _ in range(iterations):  # a route that awaits inside its turn
            await asyncio.sleep(0)
    finally:
        trace.holding -= 1
        trace.events.append(f"end {name}")
        queue.done()


def test_requests_are_served_in_the_order_they_arrived() -> None:
    async def main() -> list[str]:
        trace, queue = Trace(), Turns()
        tasks = [asyncio.create_task(_request(trace, queue, name)) for name in "ABCDE"]
        await asyncio.gather(*tasks)
        assert trace.most_holding == 1
        return trace.events

    events = run(main)
    assert events == [f"{verb} {name}" for name in "ABCDE" for verb in ("start", "end")]


def test_a_request_arriving_during_a_turn_waits_behind_those_already_waiting() -> None:
    async def main() -> list[str]:
        trace, queue = Trace(), Turns()
        first = asyncio.create_task(_request(trace, queue, "A", iterations=3))
        waiting = [asyncio.create_task(_request(trace, queue, name)) for name in "BC"]
        while "start A" not in trace.events:
            await asyncio.sleep(0)
        late = asyncio.create_task(_request(trace, queue, "D"))  # arrives while A holds the turn
        await asyncio.gather(first, *waiting, late)
        return [event for event in trace.events if event.startswith("start")]

    assert run(main) == ["start A", "start B", "start C", "start D"]


def test_one_turn_a_loop_iteration_even_when_every_request_is_ready_at_once() -> None:
    """Five requests ready together take five iterations: the loop polls between turns."""

    async def main() -> int:
        trace, queue = Trace(), Turns()
        tasks = [asyncio.create_task(_request(trace, queue, name)) for name in "ABCDE"]
        iterations = 0
        while not all(task.done() for task in tasks):
            await asyncio.sleep(0)
            iterations += 1
        return iterations

    assert run(main) >= 5


def test_a_request_that_gives_up_while_waiting_gives_its_place_up() -> None:
    async def main() -> list[str]:
        trace, queue = Trace(), Turns()
        first = asyncio.create_task(_request(trace, queue, "A", iterations=2))
        gone = asyncio.create_task(_request(trace, queue, "B"))
        after = asyncio.create_task(_request(trace, queue, "C"))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(first, after)
        with pytest.raises(asyncio.CancelledError):
            await gone
        return trace.events

    assert run(main) == ["start A", "end A", "start C", "end C"]


def test_a_request_cancelled_as_its_turn_came_passes_the_turn_on() -> None:
    async def main() -> list[str]:
        trace, queue = Trace(), Turns()
        waiter = asyncio.create_task(queue.take())
        await asyncio.sleep(0)  # waiter queued; its turn is granted in a later iteration
        await asyncio.sleep(0)
        waiter.cancel()  # granted, but cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.wait_for(_request(trace, queue, "B"), timeout=5)
        return trace.events

    assert run(main) == ["start B", "end B"]


def test_the_route_dependency_ends_the_turn_when_the_route_fails() -> None:
    async def failing_route() -> None:
        turn = in_turn()
        await anext(turn)
        with pytest.raises(RuntimeError):
            await turn.athrow(RuntimeError("the route failed"))

    async def main() -> None:
        await failing_route()
        turn = in_turn()
        await asyncio.wait_for(anext(turn), timeout=5)  # the next request still gets a turn
        with pytest.raises(StopAsyncIteration):
            await anext(turn)

    run(main)


@dataclass(frozen=True)
class Arrival:
    """A request: how many loop iterations after the start it arrives, holds, or gives up."""

    at: int
    holds: int
    gives_up_after: int | None


arrivals = st.lists(
    st.builds(
        Arrival,
        at=st.integers(0, 6),
        holds=st.integers(0, 3),
        gives_up_after=st.none() | st.integers(0, 8),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(arrivals)
def test_never_two_turns_at_once_and_everyone_served_in_arrival_order(
    script: list[Arrival],
) -> None:
    """Safety: at most one holder. Order: turns start in arrival order. Liveness: all finish."""

    async def main() -> tuple[Trace, list[int], list[int]]:
        trace, queue = Trace(), Turns()
        joined: list[int] = []
        tasks: dict[int, asyncio.Task[None]] = {}

        async def request(index: int, arrival: Arrival) -> None:
            for _ in range(arrival.at):
                await asyncio.sleep(0)
            joined.append(index)
            await _request(trace, queue, str(index), arrival.holds)

        async def give_up(index: int, after: int) -> None:
            for _ in range(after):
                await asyncio.sleep(0)
            tasks[index].cancel()

        for index, arrival in enumerate(script):
            tasks[index] = asyncio.create_task(request(index, arrival))
        quitters = [
            asyncio.create_task(give_up(index, arrival.gives_up_after))
            for index, arrival in enumerate(script)
            if arrival.gives_up_after is not None
        ]
        await asyncio.wait_for(
            asyncio.gather(*tasks.values(), *quitters, return_exceptions=True), timeout=10
        )
        started = [int(e.split()[1]) for e in trace.events if e.startswith("start")]
        return trace, joined, started

    trace, joined, started = run(main)
    assert trace.most_holding <= 1
    assert trace.holding == 0
    assert started == [index for index in joined if index in started]  # arrival order
    ended = [int(e.split()[1]) for e in trace.events if e.startswith("end")]
    assert ended == started  # every turn that started also ended, in the same order
    never_quit = {i for i, arrival in enumerate(script) if arrival.gives_up_after is None}
    assert never_quit <= set(started)  # nobody who waited on was left waiting
