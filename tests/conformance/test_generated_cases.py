"""The committed CTCAE cases hold every case the generator makes from the rule file.

generate_ctcae_cases.py derives the grade-boundary cases from rules/data/ctcae_v5.toml; the
committed cases/ctcae_v5.toml must hold each (same finding, same grade), and every case in it
named like a generated one (`...-<below|at|above>-<threshold>`) must be one the generator makes.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from il2.rules.ctcae import load_ctcae
from tests.conformance.generate_ctcae_cases import SCENARIOS, generate

COMMITTED = {
    case["id"]: case
    for case in tomllib.loads(
        (Path(__file__).parent / "cases" / "ctcae_v5.toml").read_text("utf-8")
    )["case"]
}
GENERATED = generate(load_ctcae())
BOUNDARY_ID = re.compile(r"-[0-9_]+-(below|at|above)-[0-9_]+$")


def _numbers(finding: dict[str, Any]) -> dict[str, object]:
    """A finding with its numbers as Decimals (TOML writes 150_000 and 0.4 as int and float)."""
    return {
        k: Decimal(str(v)) if isinstance(v, int | float | Decimal) and not isinstance(v, bool)
        else v
        for k, v in finding.items()
    }  # fmt: skip


def test_the_committed_file_holds_every_generated_case() -> None:
    missing = [case.id for case in GENERATED if case.id not in COMMITTED]
    assert not missing, f"generated but not in cases/ctcae_v5.toml: {missing}"
    for case in GENERATED:
        committed = COMMITTED[case.id]
        assert _numbers(committed["finding"]) == _numbers(case.finding), case.id
        assert committed["expect_grade"] == case.expect_grade, case.id
        assert committed["source"].startswith(f"CTCAE v5.0 {case.finding['term']}"), case.id


def test_every_committed_boundary_case_is_generated() -> None:
    named = {i for i in COMMITTED if BOUNDARY_ID.search(i)}
    assert named == {case.id for case in GENERATED}


def test_the_generator_walks_every_scenario() -> None:
    # three cases a boundary, and at least one boundary a scenario (a floor against a generator
    # that silently makes nothing)
    for scenario in SCENARIOS:
        prefix = f"{scenario.term}-{scenario.name}-" if scenario.name else f"{scenario.term}-"
        made = [c for c in GENERATED if c.id.startswith(prefix) and BOUNDARY_ID.search(c.id)]
        assert len(made) >= 3, scenario
    assert len(GENERATED) >= 250
