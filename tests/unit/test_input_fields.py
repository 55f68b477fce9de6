"""The input fields' labels and units, and the bedside fields' CTCAE terms, as rule data."""

import pytest

from il2.domain.errors import RuleTableError
from il2.domain.field_grading import FieldGrading, ReferenceLimit, finding_for
from il2.rules.fields import field_gradings, field_labels, input_fields
from il2.rules.loader import RuleSet
from il2.rules.reader import Node

ASSESSMENT = {
    "vitals": {"temperature_c": 38.5},
    "weight_kg": 81,
    "baseline": {"weight_kg": 75, "creatinine_mg_dl": 1.0},
    "labs": {"creatinine_mg_dl": 2.1, "platelets_per_ul": 60000},
}


def test_every_input_field_has_a_label_and_its_unit_is_printed_as_clinicians_read_it() -> None:
    fields = input_fields()
    assert all(spec.label for spec in fields.values())
    assert fields["vitals.temperature_c"].unit == "C"
    assert fields["vitals.temperature_c"].shown_unit == "°C"
    assert fields["labs.platelets_per_ul"].shown_unit == "/µL"
    assert fields["labs.creatinine_mg_dl"].shown_unit == "mg/dL"
    assert fields["vitals.sbp_mmhg"].short_label == "Systolic BP"
    assert field_labels()["vitals.sbp_mmhg"] == "Systolic blood pressure"


def test_each_bedside_grading_names_a_ctcae_term_with_a_source(rules: RuleSet) -> None:
    grading = rules.bedside_grading
    assert set(grading) == {
        "vitals.temperature_c",
        "weight_kg",
        "labs.creatinine_mg_dl",
        "labs.bilirubin_mg_dl",
        "labs.platelets_per_ul",
    }
    for entry in grading.values():
        term = rules.ctcae.terms[entry.term]
        assert entry.source
        assert entry.unit in term.units
        assert entry.measure == term.basis


def test_a_field_becomes_the_finding_its_term_grades() -> None:
    creatinine = FieldGrading(
        field="labs.creatinine_mg_dl",
        term="creatinine_increased",
        unit="mg_dl",
        measure="uln_and_bl",
        source="s",
        limit=ReferenceLimit.ULN,
        baseline="baseline.creatinine_mg_dl",
    )
    assert finding_for(creatinine, ASSESSMENT, {"labs.creatinine_mg_dl": 1.2}) == {
        "term": "creatinine_increased",
        "value": 2.1,
        "unit": "mg_dl",
        "uln": 1.2,
        "baseline": 1.0,
    }
    fever = FieldGrading("vitals.temperature_c", "fever", "c", "abs", "s")
    assert finding_for(fever, ASSESSMENT, {}) == {"term": "fever", "value": 38.5, "unit": "c"}


@pytest.mark.parametrize(
    ("entry", "field", "problem"),
    [
        ({"term": "no_such_term"}, "grading.weight_kg.term", "not a CTCAE term"),
        ({"unit": "stone"}, "grading.weight_kg.unit", "'stone' is not one of"),
        ({"measure": "abs"}, "grading.weight_kg.measure", "'abs' is not one of bl"),
        ({"limit": "ulm"}, "grading.weight_kg.limit", "'ulm' is not one of uln, lln"),
        ({"baseline": "baseline.height_cm"}, "grading.weight_kg.baseline", "not a field"),
        ({"colour": "red"}, "grading.weight_kg.colour", "not a known field"),
    ],
)
def test_a_bad_grading_entry_fails_naming_file_and_field(
    rules: RuleSet, entry: dict[str, str], field: str, problem: str
) -> None:
    weight = {
        "term": "weight_gain",
        "unit": "kg",
        "measure": "bl",
        "baseline": "baseline.weight_kg",
        "source": "s",
    }
    node = Node({"weight_kg": {**weight, **entry}}, "bedside_input.toml", "grading")
    with pytest.raises(RuleTableError) as raised:
        field_gradings(node, rules.bedside_fields, rules.ctcae)
    assert raised.value.file == "bedside_input.toml"
    assert raised.value.field == field
    assert problem in str(raised.value)


def test_a_grading_of_a_field_the_assessment_lacks_is_refused(rules: RuleSet) -> None:
    node = Node({"height_cm": {"term": "fever"}}, "bedside_input.toml", "grading")
    with pytest.raises(RuleTableError, match="not a field of"):
        field_gradings(node, rules.bedside_fields, rules.ctcae)


def test_limits_are_never_invented_for_a_grade() -> None:
    platelets = FieldGrading(
        "labs.platelets_per_ul", "platelet_count_decreased", "per_ul", "abs", "s",
        limit=ReferenceLimit.LLN,
    )  # fmt: skip
    assert finding_for(platelets, ASSESSMENT, {})["lln"] is None
