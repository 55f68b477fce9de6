"""Schemathesis over the API signed in as a physician (tests/e2e/fuzzing.py says what is checked).

Sign-out is left out so that the token lives for the whole run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.fuzzing import QUIET, demo_api, enough, fuzz, physician_token, schema_of

pytestmark = QUIET


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with demo_api(tmp_path_factory.mktemp("fuzz")) as served:
        yield served


def test_the_api_signed_in_as_a_physician_keeps_its_contract(api: Any) -> None:
    signed_in = {"Authorization": f"Bearer {physician_token(api)}"}
    cases, operations = fuzz(schema_of(api), signed_in, skip=frozenset({"/api/sign-out"}))
    print(f"schemathesis, signed in: {cases} cases, {operations} operations")  # noqa: T201
    assert enough(cases, operations), (cases, operations)
