"""Shared fixtures, and the CI rule that a skipped test is a failed run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from il2.rules.loader import RuleSet, load_rules

# Property tests prove properties, not speed: hypothesis's per-example deadline (200 ms) is a
# timed assertion that fails on a loaded two-core machine (a suite on both cores, with coverage).
# Speed lives in benchmarks/. Every @settings inherits this profile unless it says otherwise.
settings.register_profile("il2", deadline=None)
settings.load_profile("il2")


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The bundled rule tables with no site policy file."""
    return load_rules()


# Tier markers by directory: the tiers beyond `make fast` (unit, conformance, science).
_TIERS = ("integration", "e2e", "browser")
_TESTS = Path(__file__).parent


def _needs_postgres(item: pytest.Item) -> bool:
    """Whether the test asks for the PostgreSQL cluster, directly or as a "postgresql" param."""
    if "postgres_url" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in callspec.params.values()


LONGEST_FIRST = (
    "integration/test_timeline_state.py",
    "integration/test_outcomes.py",
    "browser/test_demo_day.py",
    "e2e/test_api_fuzz_signed_in.py",
    "e2e/test_api_fuzz_no_token.py",
    "integration/test_demo_bulk.py",
    "integration/test_crash.py",
    "integration/test_demo.py",
    "integration/test_serving.py",
)
"""The test files that take a minute or more under `make unit`, longest first (from its
`--durations` list). They are run first: pytest-xdist hands whole files to the workers in
collection order, and a long file handed out last keeps one worker busy while the other idles
(in CI about a quarter of the two cores' time went that way)."""


def _longest_first(item: pytest.Item) -> int:
    path = item.path.as_posix()
    found = [i for i, name in enumerate(LONGEST_FIRST) if path.endswith(f"tests/{name}")]
    return found[0] if found else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier (its directory) and `postgres` if it needs the server; run
    the longest files first (LONGEST_FIRST), the rest in their usual order."""
    for item in items:
        parts = item.path.relative_to(_TESTS).parts if item.path.is_relative_to(_TESTS) else ()
        if parts and parts[0] in _TIERS:
            item.add_marker(parts[0])
        if _needs_postgres(item):
            item.add_marker("postgres")
    items.sort(key=_longest_first)  # stable: within a file and among the rest, order is kept


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _skipped(config: pytest.Config) -> int:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return len(reporter.stats.get("skipped", [])) if reporter else 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true, any skipped test fails the run: CI must exercise everything."""
    if _in_ci() and _skipped(session.config) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say why a run with skips failed under CI."""
    if _in_ci() and _skipped(config):
        terminalreporter.write_line(
            f"CI=true: {_skipped(config)} skipped test(s) count as failures", red=True
        )
