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

from il2.domain.body import bsa_m2
from il2.domain.dosing import (
    dose_amount,
    dose_iu,
    extractable_iu_per_vial,
    vials_for_doses,
    vials_per_dose,
)
from il2.domain.eligibility import Limit, RelativeLimit, Verdict
from il2.domain.errors import InvalidInputError
from il2.domain.findings import FieldType
from il2.domain.quantities import Comparison
from il2.domain.regimen import BsaFormula, CycleEndRule, Dose, Regimen, VialPooling
from il2.domain.schedule import Calendar, plan_calendar
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

    def amount(dose: Dose, weight_kg: Decimal) -> Decimal:
        area = bsa_m2(height_cm=Decimal(170), weight_kg=weight_kg, formula=BsaFormula.MOSTELLER)
        return dose_amount(dose, weight_kg=weight_kg, bsa_m2=area, lesions=3)

    for regimen in RULES.regimens.values():
        if regimen.dose_iu_per_kg is not None:
            assert dose_iu(weight_kg=low, iu_per_kg=regimen.dose_iu_per_kg) <= dose_iu(
                weight_kg=high, iu_per_kg=regimen.dose_iu_per_kg
            )
        for dose in regimen.doses:
            assert amount(dose, low) <= amount(dose, high), (regimen.id, dose.words)


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


def _calendar_or_refusal(
    regimen: Regimen, first_dose: datetime, rule: CycleEndRule
) -> Calendar | InvalidInputError:
    try:
        return plan_calendar(regimen=regimen, first_dose=first_dose, rule=rule)
    except InvalidInputError as refused:
        return refused


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
    calendar = _calendar_or_refusal(regimen, moment.replace(tzinfo=zone), rule)
    if isinstance(calendar, InvalidInputError):
        # Only an unchosen cycle end refuses, and only when the days cannot hold every dose.
        assert rule is CycleEndRule.ASK
        assert calendar.field == "cycle_end_rule"
        assert regimen.dosing_days_per_cycle is not None
        return
    total = 0
    every = [d.due_at.astimezone(UTC) for cycle in calendar.cycles for d in cycle.doses]
    # Every aldesleukin slot of the course in time order, never closer than the regimen's
    # minimum interval (the one later before-dose checks read), across cycles too.
    assert all(b - a >= timedelta(hours=regimen.min_interval_h) for a, b in pairwise(every))
    for cycle in calendar.cycles:
        times = [d.due_at.astimezone(UTC) for d in cycle.doses]
        gaps = {b - a for a, b in pairwise(times)}
        if not regimen.steps:
            assert gaps <= {timedelta(hours=regimen.interval_h)}
        else:
            assert min(gaps, default=timedelta(hours=regimen.min_interval_h)) == timedelta(
                hours=regimen.min_interval_h
            )
        assert 1 <= len(times) <= regimen.max_doses_per_cycle
        assert [d.number for d in cycle.doses] == list(range(1, len(times) + 1))
        if rule is not CycleEndRule.DOSE_COUNT and regimen.dosing_days_per_cycle:
            # dosing days count from the first aldesleukin day (tmz-hd: cycle day 22)
            first_day = regimen.first_dose_day
            assert all(d.day - first_day < regimen.dosing_days_per_cycle for d in cycle.doses)
        if rule is CycleEndRule.ASK:
            # Never silently shortened: asked and not refused means every allowed dose fits.
            assert not calendar.shortfalls
        total += len(times)
    assert total <= (regimen.max_doses_per_course or total)


@given(
    dose=st.integers(1_000_000, 210_000_000),
    gaps_h=st.lists(st.integers(1, 72), min_size=1, max_size=20),
    per_vial=st.sampled_from([18_000_000, 21_600_000]),
)
def test_pooling_never_uses_more_vials_than_fresh_vials(
    dose: int, gaps_h: list[int], per_vial: int
) -> None:
    start = datetime(2026, 12, 7, tzinfo=UTC)
    due = [start]
    for gap in gaps_h:
        due.append(due[-1] + timedelta(hours=gap))
    common = {
        "dose_iu": dose,
        "due_at": due,
        "iu_per_vial": per_vial,
        "stability_h": 48,
        "infusion_min": 15,
    }
    pooled = vials_for_doses(pooling=VialPooling.WITHIN_STABILITY, **common)
    fresh = vials_for_doses(pooling=VialPooling.NONE, **common)
    assert -(-dose * len(due) // per_vial) <= pooled <= fresh


@given(weight=weights, extractable_ml=st.decimals(min_value="0.1", max_value="1.2", places=2))
def test_the_vials_of_a_dose_always_hold_the_dose_and_one_fewer_never_would(
    weight: Decimal, extractable_ml: Decimal
) -> None:
    product = RULES.product
    per_vial = extractable_iu_per_vial(
        extractable_ml=extractable_ml,
        iu_per_ml=product.reconstituted_iu_per_ml,
        reconstitution_ml=product.reconstitution_ml,
    )
    dose = dose_iu(weight_kg=weight, iu_per_kg=600_000)
    vials = vials_per_dose(dose_iu=dose, iu_per_vial=per_vial)
    assert (vials - 1) * per_vial < dose <= vials * per_vial
    # A vial is never counted as giving more than the volume drawn holds (no under-ordering).
    assert per_vial <= extractable_ml * product.reconstituted_iu_per_ml
    assert per_vial <= product.vial_iu
