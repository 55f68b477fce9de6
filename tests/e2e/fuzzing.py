"""Schemathesis over the API's own OpenAPI document, in process (ASGI): what both fuzz runs share.

Every check schemathesis offers runs on every response (CHECKS): no 5xx; a status, content type,
headers and body matching what the document declares for the operation (every success answer
declares its schema, see il2.api.answers); schema-invalid requests refused; schema-valid ones
not refused but for a clinical 422 (ANSWERED_422); a missing required header refused; a method
the path does not have answered 405 with Allow; an operation declared as signed-in refusing a
request without its token; and the stateful checks (use after free, resource availability,
object-level authorization), which look at the calls made in a case. The API runs on a SQLite
file holding a small demo program, so generated ids find real records now and then.

Two runs, each in its own test file so that `make unit` (files spread over the workers) runs
them side by side: signed in as a physician (test_api_fuzz_signed_in.py; sign-out left out so
the token lives) and without a token (test_api_fuzz_no_token.py). FUZZ_EXAMPLES (200) cases
are asked for each operation; each run must make at least two thirds of its share (hypothesis
stops early only on an operation with fewer distinct cases to give) and at least
MIN_CASES_PER_RUN (5,000) cases, so the two runs prove at least 10,000 cases in all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks in CHECKS
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS as REGISTERED
from schemathesis.config import PositiveDataAcceptanceConfig
from tests.integration.builders import PASSWORD, staff

from il2.api.app import create_api
from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.services.demo import build_demo

QUIET = pytest.mark.filterwarnings(
    # Schemathesis calls the app through Starlette's TestClient, which asks for httpx2.
    "ignore:Using `httpx` with `starlette.testclient`"
)
"""Each fuzz file's `pytestmark`."""

FUZZ_EXAMPLES = int(os.environ.get("IL2_FUZZ_EXAMPLES", "200"))
"""Cases asked for per operation (`make fuzz` asks 1,000)."""
MIN_CASES_PER_RUN = 5_000
"""Each of the two runs makes at least this many cases: 10,000 in all in `make test`."""
CHECKS = REGISTERED.get_all()
"""Every check this schemathesis offers (the CLI's `--checks all`); none left out."""

ANSWERED_422 = [*PositiveDataAcceptanceConfig().expected_statuses, "422"]
"""What positive_data_acceptance accepts for a schema-valid request: its defaults, and 422.

The request schemas declare each body's shape; the clinical documents inside (screening
findings, a before-dose assessment, CTCAE findings, lesion measurements, a correction's content)
are defined by the rule tables, and the services check every clinical value, answering 422
naming the field, the value and what is allowed. A request of the right shape can still be
clinically unusable, so 422 is the contract's answer to it, not a broken promise. Every other
status (400, 405, 406, 415...) still fails the check.
"""


@contextmanager
def demo_api(directory: Path) -> Iterator[Any]:
    """The API over a migrated SQLite file with every role and a one-year demo program."""
    app = build_app(Settings(database_url=f"sqlite:///{directory / 'fuzz.sqlite3'}"))
    upgrade_database(app)
    staff(app)
    build_demo(app.services, seed=3, years=1, until=date(2026, 11, 1), patients=6)
    try:
        yield create_api(app)
    finally:
        app.engine.dispose()


def schema_of(api: Any) -> Any:
    """The API's OpenAPI document as schemathesis reads it, a clinical 422 accepted."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api)
    loaded.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=ANSWERED_422
    )
    return loaded


def physician_token(api: Any) -> str:
    """A physician's bearer token, signed in through the API."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 - only for signing in

    with TestClient(api) as client:
        answer = client.post("/api/token", json={"username": "physician", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    found: str = answer.json()["access_token"]
    return found


FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    api_schema: Any, headers: dict[str, str], *, skip: frozenset[str] = frozenset()
) -> tuple[int, int]:
    """Run every operation's cases; the first failing case of an operation fails the test.

    Returns the cases run and the operations they covered.
    """
    cases = 0
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue
        operations += 1

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            sent = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers = sent | headers
            case.call_and_validate(checks=CHECKS)

        run()
    return cases, operations


def enough(cases: int, operations: int) -> bool:
    """At least two thirds of FUZZ_EXAMPLES cases for each operation on average, and (at the
    default FUZZ_EXAMPLES or more) at least MIN_CASES_PER_RUN in the run."""
    floor = MIN_CASES_PER_RUN if FUZZ_EXAMPLES >= 200 else 0
    return 3 * cases >= 2 * operations * FUZZ_EXAMPLES and cases >= floor
