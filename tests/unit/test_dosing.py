from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from il2.domain.dosing import (
    check_weight_kg,
    diluent_ml,
    dose_iu,
    dose_mg,
    extractable_iu_per_vial,
    in_window_total_ml,
    vials_for_doses,
    vials_per_dose,
)
from il2.domain.errors import InvalidInputError
from il2.domain.regimen import DilutionBand, VialPooling
from il2.rules.loader import RuleSet


def test_dose_is_weight_times_iu_per_kg_in_whole_units() -> None:
    assert dose_iu(weight_kg=Decimal(70), iu_per_kg=600_000) == 42_000_000
    assert dose_iu(weight_kg=Decimal("70.35"), iu_per_kg=600_000) == 42_210_000


def test_mg_is_derived_with_the_label_dose_ratio_by_default(rules: RuleSet) -> None:
    factor = rules.product.mg_factor("label_dose")
    assert dose_mg(dose_iu=42_000_000, factor=factor) == Decimal("2.59")


def test_the_vial_factor_gives_fewer_mg_for_the_same_iu(rules: RuleSet) -> None:
    by_vial = dose_mg(dose_iu=42_000_000, factor=rules.product.mg_factor("vial"))
    by_label = dose_mg(dose_iu=42_000_000, factor=rules.product.mg_factor("label_dose"))
    assert by_vial < by_label


def test_a_weight_outside_the_guard_is_refused_naming_weight_kg() -> None:
    with pytest.raises(InvalidInputError, match=r"weight_kg.*20 to 350 kg"):
        check_weight_kg(Decimal("700"), minimum=Decimal(20), maximum=Decimal(350))


def test_a_dose_no_band_covers_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="dilution bands"):
        diluent_ml(dose_iu=10, bands=[DilutionBand(max_dose_iu=5, volume_ml=25)])


def test_vials_per_dose_rounds_up_to_whole_vials() -> None:
    assert vials_per_dose(dose_iu=21_600_000, iu_per_vial=21_600_000) == 1
    assert vials_per_dose(dose_iu=21_600_001, iu_per_vial=21_600_000) == 2
    assert vials_per_dose(dose_iu=43_200_000, iu_per_vial=21_600_000) == 2
    assert vials_per_dose(dose_iu=43_200_001, iu_per_vial=21_600_000) == 3


def test_the_label_reconstitution_yields_21_6_miu_a_vial_not_the_22_it_contains(
    rules: RuleSet,
) -> None:
    product = rules.product
    per_vial = extractable_iu_per_vial(
        extractable_ml=Decimal("1.2"),
        iu_per_ml=product.reconstituted_iu_per_ml,
        reconstitution_ml=product.reconstitution_ml,
    )
    assert per_vial == 21_600_000 < product.vial_iu


def test_a_pharmacy_drawing_1_ml_gets_18_miu_a_vial() -> None:
    per_vial = extractable_iu_per_vial(
        extractable_ml=Decimal("1.0"), iu_per_ml=18_000_000, reconstitution_ml=Decimal("1.2")
    )
    assert per_vial == 18_000_000
    assert vials_per_dose(dose_iu=42_000_000, iu_per_vial=per_vial) == 3


@pytest.mark.parametrize("volume", ["0", "-0.1", "1.21"])
def test_a_volume_no_vial_can_yield_is_refused_naming_vial_extractable_ml(volume: str) -> None:
    with pytest.raises(InvalidInputError, match=r"vial_extractable_ml.*at most 1.2 mL"):
        extractable_iu_per_vial(
            extractable_ml=Decimal(volume), iu_per_ml=18_000_000, reconstitution_ml=Decimal("1.2")
        )


def test_the_volumes_that_bring_a_dose_into_the_window_are_its_mass_over_each_edge() -> None:
    low, high = in_window_total_ml(
        dose_mg=Decimal("0.74"), min_ug_per_ml=Decimal(30), max_ug_per_ml=Decimal(70)
    )
    assert (round(low, 2), round(high, 2)) == (Decimal("10.57"), Decimal("24.67"))


def _every_8h(count: int) -> list[datetime]:
    start = datetime(2026, 12, 7, 8, tzinfo=UTC)
    return [start + timedelta(hours=8 * n) for n in range(count)]


def test_without_pooling_every_dose_opens_fresh_vials() -> None:
    used = vials_for_doses(
        dose_iu=42_000_000, due_at=_every_8h(14), iu_per_vial=22_000_000,
        pooling=VialPooling.NONE, stability_h=48, infusion_min=15,
    )  # fmt: skip
    assert used == 28


def test_pooling_counts_with_the_extractable_amount_not_the_vial_content() -> None:
    # 21.6 MIU doses: exactly one extractable vial each, nothing left over to pool.
    used = vials_for_doses(
        dose_iu=21_600_000, due_at=_every_8h(14), iu_per_vial=21_600_000,
        pooling=VialPooling.WITHIN_STABILITY, stability_h=48, infusion_min=15,
    )  # fmt: skip
    assert used == 14


def test_pooling_uses_leftover_drug_within_the_stability_window() -> None:
    # 42 MIU a dose leaves 2 MIU per dose; 11 doses' leftovers make up a 12th dose only if
    # they stay within 48 h, so pooling saves some but not all vials.
    used = vials_for_doses(
        dose_iu=42_000_000, due_at=_every_8h(14), iu_per_vial=22_000_000,
        pooling=VialPooling.WITHIN_STABILITY, stability_h=48, infusion_min=15,
    )  # fmt: skip
    assert 27 <= used < 28


def test_pooled_drug_past_its_stability_is_never_used() -> None:
    # Doses 49 h apart: nothing carries over, so pooling changes nothing.
    start = datetime(2026, 12, 7, tzinfo=UTC)
    due = [start + timedelta(hours=49 * n) for n in range(4)]
    used = vials_for_doses(
        dose_iu=11_000_000, due_at=due, iu_per_vial=22_000_000,
        pooling=VialPooling.WITHIN_STABILITY, stability_h=48, infusion_min=15,
    )  # fmt: skip
    assert used == 4


def test_half_vial_doses_share_a_vial_within_the_window() -> None:
    start = datetime(2026, 12, 7, tzinfo=UTC)
    due = [start, start + timedelta(hours=8)]
    used = vials_for_doses(
        dose_iu=11_000_000, due_at=due, iu_per_vial=22_000_000,
        pooling=VialPooling.WITHIN_STABILITY, stability_h=48, infusion_min=15,
    )  # fmt: skip
    assert used == 1


def test_an_unknown_mg_factor_is_a_key_error(rules: RuleSet) -> None:
    with pytest.raises(KeyError):
        rules.product.mg_factor("by-eye")
