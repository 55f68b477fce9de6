"""The grade-boundary cases of cases/ctcae_v5.toml, generated from the CTCAE rule file.

Each scenario (ctcae_scenarios.toml, beside this file) is a measured term with a patient's limits of normal, baseline, duration or
symptoms, and the measures whose boundaries it walks (x ULN for a baseline that is normal,
x baseline for one that is not). For every boundary of the clauses that apply to it, three
findings are made: a step below the threshold, at it, and a step above, named
`<term>[-<scenario>]-<value>-<below|at|above>-<threshold>`. The grade each must get is worked out
here from the clauses' bounds as the rule file writes them (the highest grade whose every bound
holds), not by il2's interpreter, so the committed file is a second reading of the table.

A boundary is left out when one of its findings could not be graded from the value alone: a
value below 0, or one a clause leaves to the clinician (a rash over 30% BSA). Where a term's
values are whole units (`resolution`), "at most 39" and "at least 40" are one boundary, at 40.

    python -m tests.conformance.generate_ctcae_cases    # prints the cases as TOML

tests/conformance/test_generated_cases.py checks that the committed file holds every case
printed here; cases written by hand (conversions, refusals, clinician's grades) sit among them.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from il2.domain.ctcae import Bound, Clause, CtcaeTable, Direction, Measure, Reference, Term
from il2.domain.quantities import Comparison
from il2.rules.ctcae import load_ctcae

D = Decimal


@dataclass(frozen=True)
class Scenario:
    """One walk over a term's boundaries: the finding's unit and qualifiers, in its unit."""

    term: str
    unit: str
    measures: tuple[Measure, ...]
    step: Decimal
    qualifiers: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    baseline_is_value: bool = False
    """The baseline moves with the value, so that no criterion relative to it is met."""


SCENARIO_FILE = Path(__file__).parent / "ctcae_scenarios.toml"


def _qualifier(value: object) -> object:
    """A qualifier as the finding carries it: decimals are written as strings to stay exact."""
    return D(value) if isinstance(value, str) else value


def load_scenarios(path: Path = SCENARIO_FILE) -> tuple[Scenario, ...]:
    """The walks of cases/ctcae_scenarios.toml, in the file's order."""
    return tuple(
        Scenario(
            term=row["term"],
            unit=row["unit"],
            measures=tuple(Measure(m) for m in row["measures"]),
            step=D(row["step"]),
            qualifiers={k: _qualifier(v) for k, v in row.get("qualifiers", {}).items()},
            name=row.get("name", ""),
            baseline_is_value=row.get("baseline_is_value", False),
        )
        for row in tomllib.loads(path.read_text("utf-8"))["scenario"]
    )


SCENARIOS = load_scenarios()

# A threshold on the value from a qualifier and the bound's limit (the table's notation).
_DERIVED: Mapping[Measure, tuple[str, Callable[[Decimal, Decimal], Decimal]]] = {
    Measure.X_ULN: ("uln", lambda uln, k: k * uln),
    Measure.BASELINE_X_ULN: ("uln", lambda uln, k: k * uln),
    Measure.X_BASELINE: ("baseline", lambda baseline, k: k * baseline),
    Measure.PCT_OVER_BASELINE: ("baseline", lambda baseline, pct: baseline * (100 + pct) / 100),
    Measure.OVER_BASELINE: ("baseline", lambda baseline, k: baseline + k),
    Measure.UNDER_BASELINE: ("baseline", lambda baseline, k: baseline - k),
}
_FLIPPED = {
    Comparison.AT_LEAST: Comparison.AT_MOST,
    Comparison.AT_MOST: Comparison.AT_LEAST,
    Comparison.ABOVE: Comparison.BELOW,
    Comparison.BELOW: Comparison.ABOVE,
}


@dataclass(frozen=True)
class Case:
    """One generated case: its id, the finding graded, the grade expected, and why."""

    id: str
    finding: dict[str, Any]
    expect_grade: int
    source: str


def _numbers(scenario: Scenario, value: Decimal) -> dict[str, Decimal]:
    numbers = {k: D(str(v)) for k, v in scenario.qualifiers.items() if k != "symptomatic"}
    if scenario.baseline_is_value:
        numbers["baseline"] = value
    return {**numbers, "value": value}


def threshold(bound: Bound, numbers: Mapping[str, Decimal]) -> Decimal:
    """The bound as a threshold on the value (the baseline, or the duration), in the unit of
    `numbers` (the finding's value, uln, lln, baseline and duration_h)."""
    limit = bound.limit
    if isinstance(limit, Reference):
        return numbers[limit.value]
    if bound.measure in (Measure.VALUE, Measure.DURATION_H):
        return limit
    reference, derive = _DERIVED[bound.measure]
    return derive(numbers[reference], limit)


def holds(bound: Bound, numbers: Mapping[str, Decimal]) -> bool:
    """Whether the finding (its `numbers`) meets the bound."""
    comparison = bound.comparison
    if bound.measure is Measure.UNDER_BASELINE:  # a drop of at least k: value <= baseline - k
        comparison = _FLIPPED[comparison]
    return comparison.holds(numbers[subject(bound)], threshold(bound, numbers))


def subject(bound: Bound) -> str:
    """Which number of the finding the bound compares."""
    return {Measure.BASELINE_X_ULN: "baseline", Measure.DURATION_H: "duration_h"}.get(
        bound.measure, "value"
    )


def _applies(scenario: Scenario, term: Term, clause: Clause) -> bool:
    """Whether the clause is read for this scenario: its scale, its symptoms, its baseline."""
    scale = term.units[scenario.unit].scale
    symptomatic = scenario.qualifiers.get("symptomatic")
    if clause.scale != scale or clause.symptomatic not in (None, symptomatic):
        return False
    numbers = _numbers(scenario, D(0))
    conditions = [b for b in clause.bounds if b.measure is Measure.BASELINE_X_ULN]
    return all(holds(b, numbers) for b in conditions)


def expected_grade(scenario: Scenario, term: Term, value: Decimal) -> int | None:
    """The highest grade whose clause holds for `value` (0 if none); None when a clause that
    holds leaves the grade to the clinician."""
    numbers = _numbers(scenario, value)
    met = [
        c for c in term.clauses
        if _applies(scenario, term, c) and all(holds(b, numbers) for b in c.bounds)
    ]  # fmt: skip
    if any(c.needs_clinician for c in met):
        return None
    return max((c.grade for c in met), default=0)


def _boundaries(scenario: Scenario, term: Term) -> list[tuple[Decimal, list[Clause]]]:
    """Each threshold of the scenario's measures, from normal towards worse, with its clauses."""
    conversion = term.units[scenario.unit]
    identity = conversion.factor == 1 and conversion.offset == 0 and conversion.divisor == 1
    assert identity or Measure.VALUE not in scenario.measures, (
        f"{scenario.term}: absolute limits are walked in their own scale's unit"
    )
    numbers = _numbers(scenario, D(0))
    clauses = [c for c in term.clauses if _applies(scenario, term, c)]
    bounds = [(b, c) for c in clauses for b in c.bounds if b.measure in scenario.measures]
    found: dict[Decimal, list[Clause]] = {}
    lower_ends = {threshold(b, numbers) for b, _ in bounds if b.comparison is Comparison.AT_LEAST}
    for bound, clause in bounds:
        at = threshold(bound, numbers)
        if (
            term.resolution is not None
            and bound.comparison is Comparison.AT_MOST
            and at + term.resolution in lower_ends
        ):
            continue  # whole units: "at most 39" is the boundary "at least 40"
        found.setdefault(at, [])
        if clause not in found[at]:
            found[at].append(clause)
    return sorted(found.items(), reverse=term.worse is Direction.LOWER)


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _scenario_cases(scenario: Scenario, term: Term) -> Iterator[Case]:
    name = f"{scenario.term}-{scenario.name}" if scenario.name else scenario.term
    for limit, clauses in _boundaries(scenario, term):
        values = {
            "below": limit - scenario.step,
            "at": limit,
            "above": limit + scenario.step,
        }
        grades = {where: expected_grade(scenario, term, v) for where, v in values.items()}
        if min(values.values()) < 0 or None in grades.values():
            continue  # not graded from the value alone: no boundary case
        texts = "; ".join(f"grade {c.grade} {c.text}" for c in clauses)
        for where, value in values.items():
            finding: dict[str, Any] = {"term": scenario.term, "value": value,
                                       "unit": scenario.unit, **scenario.qualifiers}  # fmt: skip
            if scenario.baseline_is_value:
                finding["baseline"] = value
            grade = grades[where]
            assert grade is not None
            yield Case(
                id=f"{name}-{_plain(value).replace('.', '_')}-{where}-"
                f"{_plain(limit).replace('.', '_')}",
                finding=finding,
                expect_grade=grade,
                source=f"CTCAE v5.0 {scenario.term}: {texts}; boundary {_plain(limit)} -> "
                f"grade {grade}",
            )


def generate(table: CtcaeTable) -> list[Case]:
    """Every boundary case of every scenario, in the committed file's order."""
    return [case for s in SCENARIOS for case in _scenario_cases(s, table.terms[s.term])]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return _plain(D(value))
    return f'"{value}"'


def main() -> None:
    """Print the generated cases as TOML."""
    for case in generate(load_ctcae()):
        finding = ", ".join(f"{k} = {_toml(v)}" for k, v in case.finding.items())
        sys.stdout.write(f'[[case]]\nid = "{case.id}"\nfinding = {{ {finding} }}\n')
        sys.stdout.write(f'expect_grade = {case.expect_grade}\nsource = "{case.source}"\n\n')


if __name__ == "__main__":
    main()
