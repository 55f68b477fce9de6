"""Schemathesis over the API's own OpenAPI document, in process (ASGI), signed in and not.

Every response is checked: no 5xx, a status the document declares for the operation, the
declared content type and headers, and a body matching the declared schema. The API runs on a
SQLite file holding a small demo program, so generated ids find real records now and then.

FUZZ_EXAMPLES (271) cases per operation, per run; 19 operations, signed in (sign-out left out so the
token lives) and without a token: about 10,000 cases in all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.integration.builders import PASSWORD, staff

from il2.api.app import create_api
from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.services.demo import build_demo

pytestmark = pytest.mark.filterwarnings(
    # Schemathesis calls the app through Starlette's TestClient, which asks for httpx2.
    "ignore:Using `httpx` with `starlette.testclient`"
)

FUZZ_EXAMPLES = int(os.environ.get("IL2_FUZZ_EXAMPLES", "271"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


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
    return schemathesis.openapi.from_asgi("/openapi.json", api)


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


def fuzz(api_schema: Any, headers: dict[str, str], *, skip: frozenset[str] = frozenset()) -> int:
    """Run every operation's cases; the first failing case of an operation fails the test."""
    cases = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            sent = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers = sent | headers
            case.call_and_validate(checks=CHECKS)

        run()
    return cases


def test_the_api_signed_in_as_a_physician_keeps_its_contract(api_schema: Any, token: str) -> None:
    signed_in = {"Authorization": f"Bearer {token}"}
    cases = fuzz(api_schema, signed_in, skip=frozenset({"/api/sign-out"}))
    print(f"schemathesis, signed in: {cases} cases")  # noqa: T201 - the figure CI shows
    assert cases >= FUZZ_EXAMPLES


def test_the_api_without_a_token_keeps_its_contract(api_schema: Any) -> None:
    cases = fuzz(api_schema, {})
    print(f"schemathesis, no token: {cases} cases")  # noqa: T201 - the figure CI shows
    assert cases >= FUZZ_EXAMPLES
