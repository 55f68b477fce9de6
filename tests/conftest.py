"""Shared fixtures, and the CI rule that a skipped test is a failed run."""

from __future__ import annotations

import os
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
