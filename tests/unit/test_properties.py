"""Safety invariants as properties: what must hold for every input, not just the examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import documents

from il2.domain.dosing import dose_iu, vials_for_doses
from il2.domain.eligibility import Limit, RelativeLimit, Verdict
from il2.domain.findings import FieldType
from il2.domain.quantities import Comparison
from il2.domain.regimen import CycleEndRule, VialPooling
from il2.domain.schedule import plan_calendar
from il2.rules.loader import load_rules
from il2.services.screening import screen_candidate

RULES = load_rules()
ZONES = [
    UTC,
    ZoneInfo("America/Los_Angeles"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Australia/Sydney"),
]
weights = st.decimals(min_value=20, max_value=350, places=2)


candidates = documents(RULES.screening_fields)


LAB_LIMITS = [c for c in RULES.criteria.criteria if isinstance(c.test, Limit | RelativeLimit)]


def _worsen(document: dict[str, Any], test: Limit | RelativeLimit, step: Decimal) -> dict[str, Any]:
    """Move the criterion's value by `step` in its failing direction, within the input guard."""
    group, _, name = test.field.rpartition(".")
    holder = document.get(group, {}) if group else document
    key = name
    if key not in holder:
        return document
    spec = RULES.screening_fields[test.field]
    upward_is_worse = test.comparison in (Comparison.AT_MOST, Comparison.BELOW)
    value = Decimal(str(holder[key])) + (step if upward_is_worse else -step)
    if spec.minimum is not None:
        value = max(value, spec.minimum)
    if spec.maximum is not None:
        value = min(value, spec.maximum)
    if spec.type is FieldType.INTEGER:
        value = value.to_integral_value()
    return {
        **document,
        **({group: {**holder, key: float(value)}} if group else {key: float(value)}),
    }


@given(low=weights, high=weights)
def test_the_dose_never_falls_as_weight_rises(low: Decimal, high: Decimal) -> None:
    low, high = sorted((low, high))
    for regimen in RULES.regimens.values():
        assert dose_iu(weight_kg=low, iu_per_kg=regimen.dose_iu_per_kg) <= dose_iu(
            weight_kg=high, iu_per_kg=regimen.dose_iu_per_kg
        )


@settings(max_examples=200)
@given(document=candidates, index=st.integers(0, len(LAB_LIMITS) - 1),
       step=st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2))  # fmt: skip
def test_a_worse_value_never_turns_not_met_into_met(
    document: dict[str, Any], index: int, step: Decimal
) -> None:
    criterion = LAB_LIMITS[index]
    assert isinstance(criterion.test, Limit | RelativeLimit)
    before = screen_candidate(RULES, document)
    after = screen_candidate(RULES, _worsen(document, criterion.test, step))
    verdict = {r.criterion.id: r.verdict for r in before.results}[criterion.id]
    verdict_after = {r.criterion.id: r.verdict for r in after.results}[criterion.id]
    if verdict is Verdict.NOT_MET:
        assert verdict_after is Verdict.NOT_MET
    if before.verdict.value == "ineligible":
        assert after.verdict.value == "ineligible"


@given(document=candidates)
def test_screening_is_deterministic_and_eligible_only_when_every_criterion_is_met(
    document: dict[str, Any],
) -> None:
    first, second = screen_candidate(RULES, document), screen_candidate(RULES, document)
    assert first == second
    applied = [r for r in first.results if r.verdict is not Verdict.NOT_APPLIED]
    all_met = all(r.verdict is Verdict.MET for r in applied)
    assert (first.verdict.value == "eligible") == all_met


@given(
    regimen_id=st.sampled_from(sorted(RULES.regimens)),
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)),  # noqa: DTZ001
    rule=st.sampled_from(list(CycleEndRule)),
)
def test_every_calendar_keeps_interval_and_dose_limits(
    regimen_id: str, zone: Any, moment: datetime, rule: CycleEndRule
) -> None:
    regimen = RULES.regimens[regimen_id]
    calendar = plan_calendar(regimen=regimen, first_dose=moment.replace(tzinfo=zone), rule=rule)
    total = 0
    for cycle in calendar.cycles:
        times = [d.due_at.astimezone(UTC) for d in cycle.doses]
        gaps = {b - a for a, b in pairwise(times)}
        assert gaps <= {timedelta(hours=regimen.interval_h)}
        assert 1 <= len(times) <= regimen.max_doses_per_cycle
        assert [d.number for d in cycle.doses] == list(range(1, len(times) + 1))
        if rule is CycleEndRule.WHICHEVER_FIRST and regimen.dosing_days_per_cycle:
            assert all(d.day <= regimen.dosing_days_per_cycle for d in cycle.doses)
        total += len(times)
    assert total <= (regimen.max_doses_per_course or total)


@given(
    dose=st.integers(1_000_000, 210_000_000),
    gaps_h=st.lists(st.integers(1, 72), min_size=1, max_size=20),
)
def test_pooling_never_uses_more_vials_than_fresh_vials(dose: int, gaps_h: list[int]) -> None:
    start = datetime(2026, 12, 7, tzinfo=UTC)
    due = [start]
    for gap in gaps_h:
        due.append(due[-1] + timedelta(hours=gap))
    common = {
        "dose_iu": dose,
        "due_at": due,
        "vial_iu": 22_000_000,
        "stability_h": 48,
        "infusion_min": 15,
    }
    pooled = vials_for_doses(pooling=VialPooling.WITHIN_STABILITY, **common)
    fresh = vials_for_doses(pooling=VialPooling.NONE, **common)
    assert -(-dose * len(due) // 22_000_000) <= pooled <= fresh
