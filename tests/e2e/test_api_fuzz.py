"""Schemathesis over the API's own OpenAPI document, in process (ASGI), signed in and not.

Every check schemathesis offers runs on every response (CHECKS): no 5xx; a status, content type,
headers and body matching what the document declares for the operation (every success answer
declares its schema, see il2.api.answers); schema-invalid requests refused; schema-valid ones
not refused but for a clinical 422 (ANSWERED_422); a missing required header refused; a method
the path does not have answered 405 with Allow; an operation declared as signed-in refusing a
request without its token; and the stateful checks (use after free, resource availability,
object-level authorization), which look at the calls made in a case. The API runs on a SQLite
file holding a small demo program, so generated ids find real records now and then.

FUZZ_EXAMPLES (271) cases per operation, per run: 28 operations signed in (sign-out left out so
the token lives) and 29 without a token, 57 x 271 = 15,447 cases asked for. Each run must make
at least two thirds of its share (hypothesis stops early only on an operation with fewer
distinct cases to give), so the two runs prove at least 57 x 271 x 2/3 = 10,298 cases.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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

pytestmark = pytest.mark.filterwarnings(
    # Schemathesis calls the app through Starlette's TestClient, which asks for httpx2.
    "ignore:Using `httpx` with `starlette.testclient`"
)

FUZZ_EXAMPLES = int(os.environ.get("IL2_FUZZ_EXAMPLES", "150"))
"""Cases per operation. 150 keeps `make test` within its time (271 took the physician's run to
over 10 minutes of CI); `make fuzz` runs 1,000."""
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


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The API over a migrated SQLite file with every role and a one-year demo program."""
    database = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.sqlite3"
    app = build_app(Settings(database_url=f"sqlite:///{database}"))
    upgrade_database(app)
    staff(app)
    build_demo(app.services, seed=3, years=1, until=date(2026, 11, 1), patients=6)
    yield create_api(app)
    app.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(api: Any) -> Any:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api)
    loaded.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=ANSWERED_422
    )
    return loaded


@pytest.fixture(scope="module")
def token(api_schema: Any, api: Any) -> str:
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
    """At least two thirds of FUZZ_EXAMPLES cases for each operation, on average."""
    return 3 * cases >= 2 * operations * FUZZ_EXAMPLES


def test_the_api_signed_in_as_a_physician_keeps_its_contract(api_schema: Any, token: str) -> None:
    signed_in = {"Authorization": f"Bearer {token}"}
    cases, operations = fuzz(api_schema, signed_in, skip=frozenset({"/api/sign-out"}))
    print(f"schemathesis, signed in: {cases} cases, {operations} operations")  # noqa: T201
    assert enough(cases, operations), (cases, operations)


def test_the_api_without_a_token_keeps_its_contract(api_schema: Any) -> None:
    cases, operations = fuzz(api_schema, {})
    print(f"schemathesis, no token: {cases} cases, {operations} operations")  # noqa: T201
    assert enough(cases, operations), (cases, operations)
