"""Shared fixtures, and the CI rule that a skipped test is a failed run."""

from __future__ import annotations

import os

import pytest

from il2.rules.loader import RuleSet, load_rules


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The bundled rule tables with no site policy file."""
    return load_rules()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true, any skipped test fails the run: CI must exercise everything."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        if reporter:
            reporter.write_line(f"CI=true: {skipped} skipped test(s) count as failures", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
