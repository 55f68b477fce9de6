"""Benchmarks: how fast il2 loads its rules, decides at the bedside, plans and screens.

Target (issue 3): at least 20,000 bedside decisions per second on one core.

Prints figures; asserts nothing (targets are judged by people reading the numbers).
Run with `make bench`.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from statistics import median

from il2.domain.bedside import decide_before_dose
from il2.domain.findings import read_findings
from il2.rules.loader import RuleSet, load_rules
from il2.services.bedside import assess_before_dose
from il2.services.planning import plan
from il2.services.screening import screen_candidate

ROOT = Path(__file__).parents[1]


def _rate(label: str, count: int, run: object) -> None:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for index in range(count):
            run(index)  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    best = median(timings)
    print(f"{label:<38} {count / best:>12,.0f} per second   ({best / count * 1e6:,.1f} us each)")


def main() -> None:
    """Run every benchmark and print one line each."""
    tracemalloc.start()
    start = time.perf_counter()
    rules = load_rules()
    load_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    label = "load and validate all rule files"
    print(f"{label:<38} {load_s * 1000:>12,.1f} ms   (peak {peak / 1e6:.1f} MB)")

    candidates = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "examples/candidates").glob("*.json"))
    ]
    _rate(
        f"screen a candidate ({len(rules.criteria.criteria)} criteria)",
        3000,
        lambda i: screen_candidate(rules, candidates[i % len(candidates)]),
    )
    bedside(rules)
    _rate(
        "plan a 2-cycle hd-label course",
        1000,
        lambda i: plan(
            rules,
            regimen_id="hd-label",
            weight_kg=40 + (i % 100),
            first_dose="2026-12-07T08:00:00-08:00",
        ),
    )


def bedside(rules: RuleSet) -> None:
    """Decisions per second: the engine alone, and with reading the JSON document."""
    assessments = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "examples/bedside").glob("*.json"))
    ]
    findings = [read_findings(a, rules.bedside_fields) for a in assessments]
    regimen = rules.regimens["hd-label"]
    _rate(
        "bedside decision (engine, parsed input)",
        20_000,
        lambda i: decide_before_dose(
            findings[i % len(findings)],
            regimen=regimen,
            table=rules.bedside,
            policy=rules.bedside_policy,
        ),
    )
    _rate(
        "bedside decision (reading the JSON too)",
        10_000,
        lambda i: assess_before_dose(rules, assessments[i % len(assessments)]),
    )


if __name__ == "__main__":
    main()
