"""Schemathesis over the API without a token (tests/e2e/fuzzing.py says what is checked)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.fuzzing import QUIET, demo_api, enough, fuzz, schema_of

pytestmark = QUIET


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with demo_api(tmp_path_factory.mktemp("fuzz")) as served:
        yield served


def test_the_api_without_a_token_keeps_its_contract(api: Any) -> None:
    cases, operations = fuzz(schema_of(api), {})
    print(f"schemathesis, no token: {cases} cases, {operations} operations")  # noqa: T201
    assert enough(cases, operations), (cases, operations)
