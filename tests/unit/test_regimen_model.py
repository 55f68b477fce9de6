"""The regimen model beyond the IV bolus: body-surface area, dose bases, steps, companion
agents, anchors, and the rule file's checks on them."""

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from il2.domain.admission import route_refusal
from il2.domain.body import bsa_m2, check_height_cm, check_lesions
from il2.domain.dosing import dose_amount
from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.events import Event, anchor_warnings
from il2.domain.regimen import BsaFormula, Dose, DoseBasis, DoseUnit, Route
from il2.rules.loader import RuleSet, load_rules
from il2.services.bedside import assess_before_dose

SEVENTY = Decimal(70)


def test_mosteller_is_the_square_root_of_height_times_weight_over_3600() -> None:
    # sqrt(180 x 70 / 3600) = sqrt(3.5) = 1.8708287 (hand-computed)
    area = bsa_m2(height_cm=Decimal(180), weight_kg=SEVENTY, formula=BsaFormula.MOSTELLER)
    assert round(area, 6) == Decimal("1.870829")


def test_dubois_matches_its_coefficients_and_the_swiss_worked_example() -> None:
    # 0.007184 x 70^0.425 x 180^0.725 = 1.886277; the Swiss Fachinformation: 1.88 m2
    area = bsa_m2(height_cm=Decimal(180), weight_kg=SEVENTY, formula=BsaFormula.DUBOIS)
    assert round(area, 6) == Decimal("1.886277")
    assert round(area, 2) == Decimal("1.89")


def test_the_two_formulas_differ_and_both_grow_with_weight() -> None:
    for formula in BsaFormula:
        light = bsa_m2(height_cm=Decimal(170), weight_kg=Decimal(60), formula=formula)
        heavy = bsa_m2(height_cm=Decimal(170), weight_kg=Decimal(90), formula=formula)
        assert light < heavy
    assert bsa_m2(
        height_cm=Decimal(100), weight_kg=SEVENTY, formula=BsaFormula.MOSTELLER
    ) != bsa_m2(height_cm=Decimal(100), weight_kg=SEVENTY, formula=BsaFormula.DUBOIS)


def test_a_height_outside_the_guard_is_refused_naming_the_field_and_range() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_height_cm(Decimal("1.75"), minimum=Decimal(100), maximum=Decimal(250))
    assert refused.value.field == "height_cm"
    assert refused.value.value == 1.75
    assert "from 100 to 250 cm" in refused.value.allowed
    assert check_height_cm(Decimal(100), minimum=Decimal(100), maximum=Decimal(250)) == 100


@pytest.mark.parametrize("lesions", [0, -1, True, 1.5, "3"])
def test_lesions_must_be_a_whole_number_from_1(lesions: object) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_lesions(lesions, maximum=100)
    assert refused.value.field == "lesions"


def test_each_dose_basis_multiplies_by_its_own_measure() -> None:
    def amount(value: str, unit: DoseUnit, basis: DoseBasis) -> Decimal:
        return dose_amount(
            Dose(Decimal(value), unit, basis),
            weight_kg=SEVENTY,
            bsa_m2=Decimal("1.5"),
            lesions=4,
        )

    assert amount("600000", DoseUnit.IU, DoseBasis.PER_KG) == 42_000_000
    assert amount("18", DoseUnit.MIU, DoseBasis.PER_M2) == 27_000_000
    assert amount("9", DoseUnit.MIU, DoseBasis.FLAT) == 9_000_000
    assert amount("3", DoseUnit.MIU, DoseBasis.PER_LESION) == 12_000_000
    assert amount("20", DoseUnit.MG, DoseBasis.PER_M2) == 30  # mg stay mg


def test_a_dose_reads_as_its_source_writes_it() -> None:
    assert Dose(Decimal(18), DoseUnit.MIU, DoseBasis.PER_M2).words == "18 MIU/m²"
    assert Dose(Decimal(600_000), DoseUnit.IU, DoseBasis.PER_KG).words == "600,000 IU/kg"
    assert Dose(Decimal(3), DoseUnit.MIU, DoseBasis.PER_LESION).words == "3 MIU per lesion"


def test_stepped_regimens_derive_their_shortest_interval_and_doses(rules: RuleSet) -> None:
    regimens = rules.regimens
    assert (regimens["ld-sc-ifn"].min_interval_h, regimens["ld-sc-ifn"].max_doses_per_cycle) == (
        8,
        22,
    )
    assert regimens["ld-sc-nci"].min_interval_h == 24
    assert regimens["intralesional"].min_interval_h == 48  # days 1, 3 and 5
    assert regimens["civ-eu"].max_doses_per_course == 20
    assert regimens["tmz-hd"].first_dose_day == 22


def test_the_contract_regimens_are_all_there_with_route_setting_and_agents(
    rules: RuleSet,
) -> None:
    wanted = {
        "hd-label", "hd-nci-720", "post-til", "ld-iv-nci", "ld-sc-nci", "ld-sc-ifn", "civ-eu",
        "intralesional", "biochemo-cvd", "tmz-hd", "sbrt-hd",
    }  # fmt: skip
    assert wanted <= set(rules.regimens)
    biochemo = rules.regimens["biochemo-cvd"]
    assert biochemo.route is Route.CONTINUOUS_INFUSION
    assert {"cisplatin", "vinblastine", "dacarbazine", "interferon_alfa"} <= set(biochemo.agent_ids)
    assert rules.regimens["ld-sc-nci"].setting.value == "outpatient"


def test_every_route_of_the_bundled_regimens_has_before_dose_checks(rules: RuleSet) -> None:
    assert {r.route.value for r in rules.regimens.values()} == set(rules.before_dose_routes)
    assert all(route_refusal(r, rules.before_dose_routes) is None for r in rules.regimens.values())


def test_a_route_without_before_dose_checks_cannot_be_kept(rules: RuleSet) -> None:
    refusal = route_refusal(rules.regimens["ld-sc-nci"], ("iv_bolus",))
    assert refusal is not None
    assert not refusal.overridable
    assert "before-dose checks for subcutaneous are not in il2 yet" in refusal.message


def test_an_event_given_as_a_day_is_compared_by_days(rules: RuleSet) -> None:
    regimen = rules.regimens["sbrt-hd"]
    start = datetime(2026, 12, 7, 8, tzinfo=UTC)
    on_time = (Event("sbrt_fraction", date(2026, 12, 4)),)
    assert anchor_warnings(regimen, on_time, start) == ()
    late = (Event("sbrt_fraction", date(2026, 12, 3)),)
    assert "4 days after" in anchor_warnings(regimen, late, start)[0]
    with pytest.raises(InvalidInputError) as refused:
        anchor_warnings(regimen, (Event("sbrt_fraction", date(2026, 12, 8)),), start)
    assert refused.value.field == "first_dose"


def test_an_event_with_a_time_is_compared_by_hours_at_both_edges(rules: RuleSet) -> None:
    regimen = rules.regimens["post-til"]
    end = datetime(2026, 12, 7, 0, tzinfo=UTC)
    event = (Event("til_infusion_end", end.date(), end),)

    def warned(hours: float) -> bool:
        start = datetime.fromtimestamp(end.timestamp() + hours * 3600, tz=UTC)
        return bool(anchor_warnings(regimen, event, start))

    assert (warned(2.9), warned(3), warned(24), warned(24.1)) == (True, False, False, True)
    assert anchor_warnings(regimen, (), end) == ()  # post-til's anchor is not required


# ---------------------------------------------------------------- the rule file's checks


def _site(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(table, encoding="utf-8")
    return path


_STEPPED = """
[regimens.test-sc]
name = "test"
route = "subcutaneous"
setting = "outpatient"
cycles_per_course = 1
cycle_start_days = [1]
indications = ["melanoma"]
source = "test"
version = "test"
{extra}
[[regimens.test-sc.steps]]
days = {days}
doses_per_day = {per_day}
dose = 5
unit = "{unit}"
basis = "per_m2"
source = "test"
"""


def _load(tmp_path: Path, **changes: Any) -> RuleSet:
    fields = {"extra": "", "days": '["1-5"]', "per_day": 1, "unit": "MIU", **changes}
    return load_rules(site_policy=_site(tmp_path, _STEPPED.format(**fields)))


def test_a_site_may_add_a_stepped_regimen(tmp_path: Path) -> None:
    regimen = _load(tmp_path).regimens["test-sc"]
    assert regimen.max_doses_per_cycle == 5
    assert regimen.needs(DoseBasis.PER_M2)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"days": '["5-1"]'}, "steps[0].days", "ends before it starts"),
        ({"days": "[2, 1]"}, "steps[0].days", "rising"),
        ({"days": "[0]"}, "steps[0].days", "rising"),
        ({"per_day": 3}, "steps[0].every_h", "need every_h"),
        ({"unit": "mg"}, "steps[0].unit", "not one of IU, MIU"),
        ({"extra": "interval_h = 8"}, "interval_h", "a regimen with steps derives it"),
        ({"extra": "cycle_length_days = 3"}, "cycle_length_days", "past the cycle's end"),
    ],
)
def test_a_bad_step_fails_loudly_naming_file_and_field(
    tmp_path: Path, changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(RuleTableError) as failed:
        _load(tmp_path, **changes)
    assert field in str(failed.value)
    assert problem in str(failed.value)


def test_a_cycle_that_starts_before_the_last_has_ended_fails(tmp_path: Path) -> None:
    text = _STEPPED.format(extra="", days='["1-5"]', per_day=1, unit="MIU").replace(
        "cycles_per_course = 1\ncycle_start_days = [1]",
        "cycles_per_course = 2\ncycle_start_days = [1, 5]",
    )
    with pytest.raises(RuleTableError, match="cycle 2 starts before cycle 1 has ended"):
        load_rules(site_policy=_site(tmp_path, text))


def test_a_companion_without_a_dose_must_say_it_is_unconfirmed(tmp_path: Path) -> None:
    extra = """
[[regimens.test-sc.agents]]
agent = "filgrastim"
route = "subcutaneous"
days = [6]
source = "test"
"""
    with pytest.raises(RuleTableError, match="dose") as failed:
        _load(tmp_path, extra=extra)
    assert "agents[0].dose" in str(failed.value)


def test_a_continuous_infusion_needs_its_duration(tmp_path: Path) -> None:
    text = _STEPPED.format(extra="", days='["1-5"]', per_day=1, unit="MIU").replace(
        'route = "subcutaneous"', 'route = "continuous_infusion"'
    )
    with pytest.raises(RuleTableError, match=r"steps\[0\]\.duration_h"):
        load_rules(site_policy=_site(tmp_path, text))


def test_aldesleukin_is_not_given_by_a_companion_route(tmp_path: Path) -> None:
    text = _STEPPED.format(extra="", days='["1-5"]', per_day=1, unit="MIU").replace(
        'route = "subcutaneous"', 'route = "oral"'
    )
    with pytest.raises(RuleTableError, match="companion agent's route"):
        load_rules(site_policy=_site(tmp_path, text))


def test_an_event_the_regimen_is_not_anchored_to_is_kept_with_a_warning(rules: RuleSet) -> None:
    start = datetime(2026, 12, 7, 8, tzinfo=UTC)
    event = (Event("sbrt_fraction", date(2026, 12, 4)),)
    (warning,) = anchor_warnings(rules.regimens["hd-label"], event, start)
    assert "not checked: regimen hd-label is not anchored to it" in warning


def test_an_interval_schedule_is_for_the_iv_bolus_only(tmp_path: Path) -> None:
    text = """
[regimens.test-interval]
name = "test"
route = "subcutaneous"
dose_iu_per_kg = 600000
interval_h = 8
infusion_min = 15
max_doses_per_cycle = 14
cycles_per_course = 1
cycle_start_days = [1]
indications = ["melanoma"]
source = "test"
version = "test"
"""
    with pytest.raises(RuleTableError, match="an interval schedule is an IV bolus's"):
        load_rules(site_policy=_site(tmp_path, text))


def test_the_bedside_engine_refuses_a_regimen_whose_route_it_cannot_check(
    rules: RuleSet,
) -> None:
    root = Path(__file__).parents[2]
    stable = json.loads((root / "examples/bedside/stable-give.json").read_text("utf-8"))
    assert assess_before_dose(rules, stable)[1].action.value == "give"
    bolus_only = dataclasses.replace(rules, before_dose_routes=("iv_bolus",))
    with pytest.raises(InvalidInputError) as refused:
        assess_before_dose(bolus_only, stable | {"regimen": "ld-sc-nci"})
    assert refused.value.field == "regimen"
    assert "before-dose checks for subcutaneous are not in il2 yet" in refused.value.allowed
