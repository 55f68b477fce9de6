"""Shared fixtures, and the CI rule that a skipped test is a failed run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import settings

import il2.bootstrap
from il2.rules.loader import RuleSet, load_rules
from il2.services import accounts
from tests.fhir_peer import MedplumValidator, fhir_server

# The `il2` child processes the tests start (the CLI, `il2 serve`, `il2 demo`) run this
# checkout's code, as the tests do (pyproject's pythonpath): the console script's editable
# install may point at another checkout of the project sharing the virtualenv.
_SRC = Path(__file__).resolve().parents[1] / "src"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(_SRC), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
)

# Property tests prove properties, not speed: hypothesis's per-example deadline (200 ms) is a
# timed assertion that fails on a loaded two-core machine (a suite on both cores, with coverage).
# Speed lives in benchmarks/. Every @settings inherits this profile unless it says otherwise.
settings.register_profile("il2", deadline=None)
settings.load_profile("il2")


PRODUCTION_HASHER = accounts._HASHER  # the hasher il2 signs in with
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2 at its lowest cost, for the tests' accounts.

At il2's cost (64 MiB, 3 passes, 4 lanes) each hash or verification takes about 0.1 s of a core,
and the suite makes thousands of them: `staff()` hashes eight passwords, every sign-in and every
dose's second check verifies one. What the tests check of a password (accepted, refused,
throttled, upgraded, changed, verified once per refusal) does not depend on the cost, and a
verification reads the cost from the stored hash, so hashes made here verify anywhere (also in the
`il2` child processes, which keep il2's own cost). The production parameters stay under test:
tests/integration/test_accounts.py asks for `production_argon2` where a test checks them (a weak
hash upgraded at sign-in to exactly il2's parameters)."""


def _use_hasher(hasher: Any) -> None:
    accounts._HASHER = hasher
    accounts._dummy_hash.cache_clear()  # the unknown user's hash, at this cost


@pytest.fixture(scope="session", autouse=True)
def _cheap_argon2() -> Iterator[None]:
    """Every test hashes passwords with TEST_HASHER unless it asks for `production_argon2`."""
    _use_hasher(TEST_HASHER)
    yield
    _use_hasher(PRODUCTION_HASHER)


@pytest.fixture
def production_argon2(_cheap_argon2: None) -> Iterator[None]:
    """il2's own argon2 parameters for one test."""
    _use_hasher(PRODUCTION_HASHER)
    yield
    _use_hasher(TEST_HASHER)


_LOAD_RULES = il2.bootstrap.load_rules


class _RulesOnce:
    """`load_rules` for il2.bootstrap (build_app, site_rules), reading each rule set once.

    A RuleSet is immutable and a function of the bundled files and the site policy file alone,
    so an app built on a cached one runs on the same tables. Under coverage a load costs about
    0.3 s, and the suite builds an app for most of its database tests. The key is the policy
    file's path and its bytes (a test may write another policy at the same path); a file that
    is refused raises every time (nothing is kept). The loader itself is still run by every
    test that calls `load_rules` directly (tests/unit/test_rules_loader.py and others)."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, bytes] | None, RuleSet] = {}

    def __call__(self, *, site_policy: Path | None = None) -> RuleSet:
        key = None
        if site_policy is not None:
            try:
                key = (str(site_policy), Path(site_policy).read_bytes())
            except OSError:
                return _LOAD_RULES(site_policy=site_policy)  # its own error, as without a cache
        if key not in self.kept:
            self.kept[key] = _LOAD_RULES(site_policy=site_policy)
        return self.kept[key]


@pytest.fixture(scope="session", autouse=True)
def _rules_once() -> Iterator[None]:
    """il2.bootstrap loads each distinct rule set once for the session (_RulesOnce)."""
    il2.bootstrap.load_rules = _RulesOnce()  # type: ignore[assignment]
    yield
    il2.bootstrap.load_rules = _LOAD_RULES


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The bundled rule tables with no site policy file."""
    return load_rules()


@pytest.fixture(scope="session")
def fhir_peer_server() -> Iterator[str]:
    """The base URL of a real FHIR R4 server for the session (tests/fhir_peer.py; never skipped:
    without Node.js 20+ and npm it fails saying what to install)."""
    with fhir_server() as base_url:
        yield base_url


@pytest.fixture(scope="session")
def medplum_validator() -> Iterator[MedplumValidator]:
    """Medplum's FHIR R4 structural validator for the session (tests/fhir_peer.py)."""
    with MedplumValidator() as validator:
        yield validator


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
    "browser/test_demo_day.py",
    "integration/test_outcomes.py",
    "integration/test_timeline_state.py",
    "e2e/test_api_fuzz_signed_in.py",
    "e2e/test_api_fuzz_no_token.py",
    "integration/test_demo_bulk.py",
    "integration/test_crash.py",
    "integration/test_demo.py",
    "integration/test_serving.py",
    "integration/test_migrations.py",
    "integration/test_data_quality.py",
    "e2e/test_cli_records.py",
    "integration/test_outcomes_reader.py",
)
"""The test files that take a minute or so or more under `make unit`, longest first (from its
`--durations` list). They are run first: pytest-xdist hands whole files to the workers in
collection order (`--dist loadfile --no-loadscope-reorder` in the Makefile: without the second
option xdist sorts the files by their number of tests, and these few-test files, handed out
last, kept one worker busy for minutes while the other idled)."""


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
