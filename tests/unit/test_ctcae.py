"""CTCAE v5.0 grading: the interpreter, the bundled table and its loader, and the JSON service."""

from __future__ import annotations

import copy
import itertools
import tomllib
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.ctcae import (
    Direction,
    Finding,
    GradedBy,
    Measure,
    Reference,
    Term,
    grade_finding,
    grade_findings,
)
from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules import reader
from il2.rules.ctcae import ctcae_table, load_ctcae
from il2.services.grading import grade_document, grading_document

TABLE = load_ctcae()
D = Decimal


def grade(term: str, value: object = None, unit: str | None = None, **qualifiers: Any) -> Any:
    """Grade one finding; numbers may be given as int, str or Decimal."""
    numbers = {
        k: None if v is None else D(str(v))
        for k, v in qualifiers.items()
        if k in ("uln", "lln", "baseline", "duration_h")
    }
    flags = {k: v for k, v in qualifiers.items() if k in ("symptomatic", "clinical_grade")}
    finding = Finding(
        term=term,
        value=None if value is None else D(str(value)),
        unit=unit,
        **numbers,
        **flags,
    )
    return grade_finding(finding, TABLE)


def refusal(call: Callable[[], object]) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- grading from values


def test_the_admiral_creatinine_case_is_grade_3() -> None:
    result = grade("creatinine_increased", 121, "umol_l", uln=40, baseline=120)
    assert result.grade == 3
    assert f"'{TABLE.terms['creatinine_increased'].clauses[4].text}'" in result.criterion
    assert "3 x ULN 40" in result.criterion


def test_criteria_joined_by_a_semicolon_are_alternatives_and_the_highest_grade_wins() -> None:
    result = grade("creatinine_increased", "3.2", "mg_dl", uln="1.2", baseline="1.0")
    assert result.grade == 3
    assert f"'{TABLE.terms['creatinine_increased'].clauses[3].text}'" in result.criterion


def test_a_converted_value_says_so_in_the_criterion() -> None:
    result = grade("creatinine_increased", "3.2", "mg_dl", uln="1.2", baseline="1.0")
    assert "3.2 mg/dL, converted to 282.88 umol/L (x 88.4)" in result.criterion
    assert "converted" not in grade("platelet_count_decreased", 50000, "per_mm3").criterion


def test_a_value_that_meets_no_clause_is_grade_0_and_says_so() -> None:
    result = grade("platelet_count_decreased", 150000, "per_mm3", lln=150000)
    assert result.grade == 0
    assert result.criterion.startswith("no grade criterion met")
    assert result.source.startswith("NCI CTCAE v5.0")


def test_creatinine_without_its_uln_is_refused_naming_uln() -> None:
    error = refusal(lambda: grade("creatinine_increased", "3.2", "mg_dl", baseline="1.0"))
    assert error.field == "uln"
    assert "grade 4" in error.allowed


def test_creatinine_without_a_baseline_is_refused_while_a_baseline_could_raise_the_grade() -> None:
    assert refusal(lambda: grade("creatinine_increased", 2, "mg_dl", uln="1.2")).field == "baseline"
    assert grade("creatinine_increased", 400, "umol_l", uln=100).grade == 3


def test_a_clinicians_grade_as_high_as_the_undecided_clause_makes_the_qualifier_unnecessary() -> (
    None
):
    result = grade("creatinine_increased", 2, "mg_dl", uln="1.2", clinical_grade=3)
    assert result.grade == 3
    assert "higher than grade 2 from the value" in result.criterion


def test_bilirubin_is_graded_by_uln_if_baseline_normal_and_by_baseline_if_abnormal() -> None:
    assert grade("blood_bilirubin_increased", 61, "umol_l", uln=20, baseline=10).grade == 3
    assert grade("blood_bilirubin_increased", 61, "umol_l", uln=20, baseline=30).grade == 2
    assert grade("blood_bilirubin_increased", 20, "umol_l", uln=20).grade == 0
    error = refusal(lambda: grade("blood_bilirubin_increased", 40, "umol_l", uln=20))
    assert error.field == "baseline"


def test_alt_with_an_abnormal_baseline_starts_at_one_and_a_half_times_baseline() -> None:
    term = "alanine_aminotransferase_increased"
    assert grade(term, 89, "u_l", uln=40, baseline=60).grade == 0
    assert grade(term, 90, "u_l", uln=40, baseline=60).grade == 1


def test_hyponatremia_of_125_to_129_is_grade_2_without_symptoms_and_3_with_them() -> None:
    assert grade("hyponatremia", 128, "mmol_l", symptomatic=False).grade == 2
    assert grade("hyponatremia", 128, "mmol_l", symptomatic=True).grade == 3
    assert refusal(lambda: grade("hyponatremia", 128, "mmol_l")).field == "symptomatic"
    assert grade("hyponatremia", 122, "mmol_l").grade == 3


def test_fever_over_40_needs_its_duration_and_lasting_over_24_hours_is_grade_4() -> None:
    assert grade("fever", "40.2", "c", duration_h=24).grade == 3
    assert grade("fever", "40.2", "c", duration_h="24.5").grade == 4
    assert grade("fever", "39.5", "c").grade == 2
    assert refusal(lambda: grade("fever", "40.2", "c")).field == "duration_h"


def test_weight_gain_is_a_percentage_of_baseline_compared_exactly() -> None:
    assert grade("weight_gain", "73.5", "kg", baseline=70).grade == 1
    assert grade("weight_gain", "73.49", "kg", baseline=70).grade == 0
    assert (
        "73.5 kg >= 73.5 kg (= baseline 70 + 5%)"
        in grade("weight_gain", "73.5", "kg", baseline=70).criterion
    )


def test_an_ejection_fraction_drop_is_read_in_points_below_baseline() -> None:
    result = grade("ejection_fraction_decreased", 60, "pct", baseline=80)
    assert result.grade == 3
    assert "60% <= 60% (= baseline 80 - 20)" in result.criterion


def test_a_rash_over_30_percent_needs_the_clinicians_view_of_its_symptoms() -> None:
    assert refusal(lambda: grade("rash_maculo_papular", 31, "pct_bsa")).field == "clinical_grade"
    assert grade("rash_maculo_papular", 31, "pct_bsa", clinical_grade=2).grade == 2
    assert grade("rash_maculo_papular", 31, "pct_bsa", clinical_grade=3).grade == 3


def test_ionized_calcium_is_graded_on_its_own_scale() -> None:
    result = grade("hypocalcemia", "0.95", "ionized_mmol_l", lln="1.15", symptomatic=False)
    assert result.grade == 2
    assert "ionized" in result.criterion
    assert grade("hypocalcemia", "7.5", "mg_dl", lln="8.5").grade == 2


# ---------------------------------------------------------------- clinician's grades


def test_a_clinical_term_takes_the_clinicians_grade_in_words() -> None:
    result = grade("capillary_leak_syndrome", clinical_grade=3)
    assert result.grade == 3
    assert "Severe symptoms; intervention" in result.criterion


def test_a_clinical_term_refuses_a_grade_it_does_not_have_listing_those_it_has() -> None:
    error = refusal(lambda: grade("acute_kidney_injury", clinical_grade=2))
    assert error.field == "clinical_grade"
    assert error.allowed.endswith("3, 4, 5")


def test_a_clinical_term_without_a_grade_is_refused_naming_clinical_grade() -> None:
    assert refusal(lambda: grade("nausea")).field == "clinical_grade"


def test_a_clinical_term_refuses_a_measured_value() -> None:
    error = refusal(lambda: grade("hypotension", 80, "mmhg", clinical_grade=2))
    assert error.field == "value"
    assert "clinical description" in error.allowed


def test_a_measured_term_reports_a_higher_clinicians_grade_and_says_why() -> None:
    result = grade("anemia", "7.5", "g_dl", clinical_grade=4)
    assert result.grade == 4
    assert "clinician's grade 4 ('Life-threatening'), higher than grade 3" in result.criterion


def test_a_measured_term_keeps_its_grade_when_the_clinicians_is_lower() -> None:
    result = grade("anemia", 9, "g_dl", lln=12, clinical_grade=1)
    assert result.grade == 2
    assert result.criterion.startswith("grade 2: Anemia 9 g/dL meets")
    assert result.criterion.endswith(
        f"the clinician's grade 1 ('{TABLE.terms['anemia'].grades[1]}') is not higher"
    )


def test_death_is_recorded_only_as_a_clinicians_grade() -> None:
    assert grade("fever", clinical_grade=5).grade == 5
    assert (
        refusal(lambda: grade("creatinine_increased", clinical_grade=5)).field == "clinical_grade"
    )
    assert all(c.grade < 5 for t in TABLE.terms.values() for c in t.clauses)


# ---------------------------------------------------------------- unusable findings


def test_a_measured_term_without_a_value_or_grade_is_refused_naming_value() -> None:
    assert refusal(lambda: grade("platelet_count_decreased", unit="per_mm3")).field == "value"


def test_an_unknown_term_is_refused_listing_known_terms() -> None:
    error = refusal(lambda: grade("oliguria", 300, "ml"))
    assert error.field == "term"
    assert "creatinine_increased" in error.allowed
    assert f"{len(TABLE.terms)} known" in error.allowed


@pytest.mark.parametrize("unit", [None, "per_l"])
def test_a_missing_or_foreign_unit_is_refused_listing_the_terms_units(unit: str | None) -> None:
    error = refusal(lambda: grade("platelet_count_decreased", 50, unit))
    assert error.field == "unit"
    assert "/mm3 (per_mm3), /uL (per_ul), x10^9/L (10e9_per_l)" in error.allowed


@pytest.mark.parametrize(
    ("qualifiers", "field"),
    [
        ({"value": -1}, "value"),
        ({"uln": 0}, "uln"),
        ({"lln": -1}, "lln"),
        ({"baseline": -1}, "baseline"),
        ({"duration_h": -1}, "duration_h"),
    ],
)
def test_negative_numbers_and_limits_of_normal_of_zero_are_refused(
    qualifiers: dict[str, int], field: str
) -> None:
    given = {"value": 100, "uln": 40, "baseline": 50, **qualifiers}
    error = refusal(lambda: grade("fever", given.pop("value"), "c", **given))
    assert error.field == field


def test_a_value_between_whole_number_ranges_is_refused_rather_than_graded_0() -> None:
    error = refusal(lambda: grade("hyponatremia", "129.5", "mmol_l", lln=135, symptomatic=False))
    assert error.field == "value"
    assert "whole units" in error.allowed
    bad_baseline = refusal(lambda: grade("ejection_fraction_decreased", 60, "pct", baseline="70.5"))
    assert bad_baseline.field == "baseline"


def test_grading_several_findings_names_the_index_of_an_unusable_one() -> None:
    findings = [
        Finding("fever", D("38.5"), "c"),
        Finding("creatinine_increased", D("3.2"), "mg_dl", baseline=D(1)),
    ]
    error = refusal(lambda: grade_findings(findings, TABLE))
    assert error.field == "findings[1].uln"
    assert [r.grade for r in grade_findings(findings[:1], TABLE)] == [1]


# ---------------------------------------------------------------- the bundled table

# Toxicities the Proleukin label's boxed warning and Table 2 name (capillary leak syndrome with
# hypotension; arrhythmias; SpO2 below 90%; mental status changes, lethargy and somnolence: the
# label-* rules of rules/data/bedside.toml): whatever else the rule file lists, these stay in it.
LABEL_TERMS = {
    "capillary_leak_syndrome", "hypotension", "atrial_fibrillation",
    "supraventricular_tachycardia", "hypoxia", "confusion", "somnolence",
}  # fmt: skip
# Section 8 of the table had 42 terms, 22 graded from a value, when this test was written: a
# floor, so that terms dropped from the file (or by the loader) do not go unnoticed.
SECTION_8_TERMS = 42
SECTION_8_MEASURED = 22


def test_the_bundled_table_holds_every_term_of_its_file_with_its_source() -> None:
    written = _bundled()["terms"]
    assert set(TABLE.terms) == set(written)
    assert len(TABLE.terms) >= SECTION_8_TERMS
    assert set(TABLE.terms) >= LABEL_TERMS
    assert TABLE.version == "5.0"
    assert all(t.source and t.grades for t in TABLE.terms.values())
    numeric = [t for t in TABLE.terms.values() if t.graded_by is GradedBy.VALUE]
    assert {t.id for t in numeric} == {k for k, v in written.items() if v["graded_by"] == "value"}
    assert len(numeric) >= SECTION_8_MEASURED
    assert all(t.clauses and t.worse and t.unit in t.units for t in numeric)


def test_every_unit_conversion_names_its_source() -> None:
    conversions = [c for t in TABLE.terms.values() for c in t.units.values()]
    assert all(c.source and c.factor > 0 for c in conversions)
    assert TABLE.terms["creatinine_increased"].units["mg_dl"].factor == D("88.4")
    assert TABLE.terms["blood_bilirubin_increased"].units["mg_dl"].factor == D("17.1")


def _bundled() -> dict[str, Any]:
    text = resources.files("il2.rules").joinpath("data", "ctcae_v5.toml").read_text("utf-8")
    return tomllib.loads(text)


def _clause(data: dict[str, Any], term: str = "fever", index: int = 0) -> dict[str, Any]:
    clause: dict[str, Any] = data["terms"][term]["clauses"][index]
    return clause


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("an unknown top-level table", lambda d: d.update(extra={}), "extra"),
    ("a meta without version", lambda d: d["meta"].pop("version"), "meta.version"),
    ("a term without source", lambda d: d["terms"]["fever"].pop("source"), "terms.fever.source"),
    (
        "a grade 6",
        lambda d: d["terms"]["nausea"]["grades"].update({"6": "x"}),
        "terms.nausea.grades.6",
    ),
    ("no grades", lambda d: d["terms"]["nausea"].update(grades={}), "terms.nausea.grades"),
    ("an unknown basis", lambda d: d["terms"]["fever"].update(basis="vibes"), "terms.fever.basis"),
    (
        "a clinical term with a unit",
        lambda d: d["terms"]["nausea"].update(unit="c"),
        "terms.nausea.unit",
    ),
    (
        "a clinical basis graded by value",
        lambda d: d["terms"]["fever"].update(basis="clinical"),
        "terms.fever.graded_by",
    ),
    (
        "an unknown unit",
        lambda d: d["terms"]["fever"]["units"].update(k={"factor": 1, "source": "x"}),
        "terms.fever.units.k",
    ),
    (
        "a factor of 0",
        lambda d: d["terms"]["fever"]["units"]["c"].update(factor=0),
        "terms.fever.units.c.factor",
    ),
    (
        "a unit without source",
        lambda d: d["terms"]["fever"]["units"]["c"].pop("source"),
        "terms.fever.units.c.source",
    ),
    (
        "a scale that is no unit of the term",
        lambda d: d["terms"]["anemia"]["units"]["g_l"].update(scale="kg"),
        "terms.anemia.units.g_l.scale",
    ),
    (
        "a canonical unit not accepted",
        lambda d: d["terms"]["fever"].update(unit="kg"),
        "terms.fever.unit",
    ),
    ("no clauses", lambda d: d["terms"]["fever"].update(clauses=[]), "terms.fever.clauses"),
    (
        "a clause grade the term lacks",
        lambda d: _clause(d, "acidosis").update(grade=2),
        "terms.acidosis.clauses[0].grade",
    ),
    ("a clause of grade 5", lambda d: _clause(d).update(grade=5), "terms.fever.clauses[0].grade"),
    ("a clause with no bound", lambda d: _clause(d).pop("value"), "terms.fever.clauses[0].grade"),
    (
        "two lower ends",
        lambda d: _clause(d)["value"].update(above=1),
        "terms.fever.clauses[0].value",
    ),
    (
        "an unknown end",
        lambda d: _clause(d)["value"].update(near=1),
        "terms.fever.clauses[0].value.near",
    ),
    (
        "ULN on a ratio",
        lambda d: _clause(d, "creatinine_increased").update(x_uln={"above": "uln"}),
        "terms.creatinine_increased.clauses[0].x_uln.above",
    ),
    (
        "an unknown reference",
        lambda d: _clause(d)["value"].update(at_least="normal"),
        "terms.fever.clauses[0].value.at_least",
    ),
    (
        "a clause unit that is no scale",
        lambda d: _clause(d).update(unit="kg"),
        "terms.fever.clauses[0].unit",
    ),
    (
        "a clause with a typo",
        lambda d: _clause(d).update(symptomatc=True),
        "terms.fever.clauses[0].symptomatc",
    ),
    (
        "a non-boolean symptomatic",
        lambda d: _clause(d, "hyponatremia", 1).update(symptomatic="no"),
        "terms.hyponatremia.clauses[1].symptomatic",
    ),
    (
        "a resolution of 0",
        lambda d: d["terms"]["fever"].update(resolution=0),
        "terms.fever.resolution",
    ),
    (
        "an unknown direction",
        lambda d: d["terms"]["fever"].update(worse="sideways"),
        "terms.fever.worse",
    ),
]


@pytest.mark.parametrize(("_what", "breakage", "field"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_a_malformed_table_fails_naming_file_and_field(
    _what: str, breakage: Callable[[dict[str, Any]], object], field: str
) -> None:
    data = copy.deepcopy(_bundled())
    breakage(data)
    with pytest.raises(RuleTableError) as caught:
        ctcae_table(data)
    assert caught.value.file == "ctcae_v5.toml"
    assert caught.value.field == field


def test_a_bundled_file_with_broken_syntax_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ctcae_v5.toml").write_text("[meta\n", encoding="utf-8")

    class Package:
        @staticmethod
        def files(_name: str) -> Path:
            return tmp_path

    monkeypatch.setattr(reader, "resources", Package)
    with pytest.raises(RuleTableError) as caught:
        load_ctcae()
    assert (caught.value.file, caught.value.field) == ("ctcae_v5.toml", "(syntax)")


def test_the_loader_reads_bounds_ends_and_references_as_written() -> None:
    platelets = TABLE.terms["platelet_count_decreased"].clauses[0]
    assert [(b.measure, b.comparison.value, b.limit) for b in platelets.bounds] == [
        (Measure.VALUE, ">=", D(75000)),
        (Measure.VALUE, "<", Reference.LLN),
    ]
    assert TABLE.terms["hyponatremia"].clauses[1].symptomatic is False
    assert TABLE.terms["rash_maculo_papular"].clauses[-1].needs_clinician


# ---------------------------------------------------------------- the JSON service


def document(*findings: object, version: object = "5.0") -> dict[str, Any]:
    return {"ctcae_version": version, "findings": list(findings)}


def test_the_contract_example_is_graded_in_order() -> None:
    result = grade_document(
        TABLE,
        document(
            {"term": "platelet_count_decreased", "value": 50000, "unit": "per_ul"},
            {
                "term": "creatinine_increased",
                "value": 3.2,
                "unit": "mg_dl",
                "uln": 1.2,
                "baseline": 1.0,
            },
            {"term": "fever", "value": 40.2, "unit": "c", "duration_h": 30},
            {"term": "hyponatremia", "value": 128, "unit": "mmol_l", "symptomatic": False},
            {"term": "weight_gain", "value": 80.5, "unit": "kg", "baseline": 70},
        ),
    )
    output = grading_document(result)
    assert output["ctcae_version"] == "5.0"
    assert [(g["term"], g["grade"]) for g in output["grades"]] == [
        ("platelet_count_decreased", 2),
        ("creatinine_increased", 3),
        ("fever", 4),
        ("hyponatremia", 2),
        ("weight_gain", 2),
    ]
    assert all(set(g) == {"term", "grade", "criterion", "source"} for g in output["grades"])


def test_null_qualifiers_are_absent_and_no_findings_grade_nothing() -> None:
    finding = {"term": "nausea", "value": None, "unit": None, "clinical_grade": 2, "uln": None}
    assert grade_document(TABLE, document(finding)).grades[0].grade == 2
    assert grade_document(TABLE, document()).grades == ()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "document"),
        ({"ctcae_version": "5.0", "findings": [], "patient": "x"}, "patient"),
        (document(version="4.03"), "ctcae_version"),
        (document(version=5.0), "ctcae_version"),
        ({"findings": []}, "ctcae_version"),
        ({"ctcae_version": "5.0", "findings": {}}, "findings"),
        (document("fever"), "findings[0]"),
        (document({"term": "fever", "valu": 38}), "findings[0].valu"),
        (document({"value": 38}), "findings[0].term"),
        (document({"term": "fevre", "value": 38, "unit": "c"}), "findings[0].term"),
        (document({"term": "fever", "value": "38", "unit": "c"}), "findings[0].value"),
        (document({"term": "fever", "value": True, "unit": "c"}), "findings[0].value"),
        (document({"term": "fever", "value": 38, "unit": 1}), "findings[0].unit"),
        (document({"term": "fever", "value": 38, "unit": "c", "uln": "1"}), "findings[0].uln"),
        (
            document({"term": "hyponatremia", "value": 128, "unit": "mmol_l", "symptomatic": "no"}),
            "findings[0].symptomatic",
        ),
        (document({"term": "nausea", "clinical_grade": 2.0}), "findings[0].clinical_grade"),
        (document({"term": "nausea", "clinical_grade": True}), "findings[0].clinical_grade"),
        (document({"term": "nausea", "clinical_grade": 4}), "findings[0].clinical_grade"),
        (
            document({"term": "fever", "value": 38.5, "unit": "c"}, {"term": "nausea"}),
            "findings[1].clinical_grade",
        ),
    ],
)
def test_unusable_documents_are_refused_naming_the_field(body: object, field: str) -> None:
    assert refusal(lambda: grade_document(TABLE, body)).field == field


def test_an_unknown_term_in_a_document_lists_some_known_terms() -> None:
    error = refusal(lambda: grade_document(TABLE, document({"term": "oliguria"})))
    assert "such as creatinine_increased" in error.allowed


# ---------------------------------------------------------------- properties


def _variants(term: Term, scale: str) -> list[dict[str, Any]]:
    """Qualifier sets that let every clause of a measured term on `scale` be judged.

    Derived from the clauses, so a new term in the rule file is covered with no edit here: the
    ULN below and the LLN above every absolute limit, a baseline on either side of the ULN where
    a clause compares them (bilirubin, ALT, AST: "if BL normal / abnormal") or of a ratio (the
    creatinine x baseline criteria), durations on either side of each duration bound, with and
    without symptoms where a clause asks, and a clinician's grade below the clause that needs one.
    """
    clauses = [c for c in term.clauses if c.scale == scale]
    bounds = [b for c in clauses for b in c.bounds]
    limits = [b.limit for b in bounds if b.measure is Measure.VALUE and isinstance(b.limit, D)]
    needs = {name for b in bounds for name in b.needs}
    measures = {b.measure for b in bounds}
    base: dict[str, Any] = {} if scale == term.unit else {"unit": scale}
    if "lln" in needs:
        base["lln"] = max(limits, default=D(100)) * D("1.2")
    if "uln" in needs:
        base["uln"] = min(limits, default=D(100)) * D("0.9")
    choices: list[list[tuple[str, Any]]] = []
    if "baseline" in needs:
        if Measure.BASELINE_X_ULN in measures or Measure.X_ULN in measures:
            wanted = [base["uln"] / 2, base["uln"] * 2]
        else:
            wanted = [max(limits, default=D(0)) + 10]
        choices.append([("baseline", v) for v in wanted])
    durations = sorted(
        {b.limit for b in bounds if b.measure is Measure.DURATION_H and isinstance(b.limit, D)}
    )
    if durations:
        choices.append([("duration_h", v) for d in durations for v in (d / 2, d * 5 / 4)])
    if any(c.symptomatic is not None for c in clauses):
        choices.append([("symptomatic", False), ("symptomatic", True)])
    judged = [c.grade for c in clauses if c.needs_clinician]
    if judged:
        below = max(g for g in term.grades if g < min(judged))
        choices.append([("clinical_grade", below)])
    return [{**base, **dict(combination)} for combination in itertools.product(*choices)]


# Every measured term with the qualifier sets its values are graded with, on each of its scales.
QUALIFIERS: dict[str, list[dict[str, Any]]] = {
    term.id: [
        q for scale in dict.fromkeys(c.scale for c in term.clauses) for q in _variants(term, scale)
    ]
    for term in TABLE.terms.values()
    if term.clauses
}
CASES = [(term, q) for term, sets in QUALIFIERS.items() for q in sets]


def _top(term: Term, qualifiers: dict[str, Any], scale: str) -> Decimal:
    """Half as much again as the largest threshold any clause sets on this scale."""
    numbers = {k: D(str(v)) for k, v in qualifiers.items() if k in ("uln", "lln", "baseline")}
    limits = [D(1)]
    for clause in term.clauses:
        for bound in clause.bounds:
            if clause.scale != scale or bound.measure is Measure.DURATION_H:
                continue
            limit = bound.limit
            if isinstance(limit, Reference):
                limits.append(numbers[limit.value])
            elif bound.measure in (Measure.X_ULN, Measure.BASELINE_X_ULN):
                limits.append(limit * numbers["uln"])
            elif bound.measure is Measure.X_BASELINE:
                limits.append(limit * numbers["baseline"])
            elif bound.measure is Measure.VALUE:
                limits.append(limit)
            else:
                limits.append(numbers["baseline"] * 2 + limit)
    return max(limits) * D("1.5")


def test_the_derived_qualifiers_cover_every_measured_term_and_grade_without_refusal() -> None:
    assert set(QUALIFIERS) == {t.id for t in TABLE.terms.values() if t.clauses}
    assert len(CASES) >= len(QUALIFIERS) >= SECTION_8_MEASURED
    for term_id, qualifiers in CASES:
        term = TABLE.terms[term_id]
        given = dict(qualifiers)
        unit = given.pop("unit", term.unit)
        for value in (D(0), _top(term, qualifiers, unit)):
            grade(term_id, value.quantize(term.resolution or D("0.01")), unit, **given)
    # the branches the properties must reach: baseline normal and abnormal, symptoms or none,
    # another scale, a duration on either side of its bound
    assert [q["baseline"] <= q["uln"] for q in QUALIFIERS["blood_bilirubin_increased"]] == [
        True,
        False,
    ]
    assert {q["symptomatic"] for q in QUALIFIERS["hyponatremia"]} == {False, True}
    assert {q.get("unit") for q in QUALIFIERS["hypocalcemia"]} == {None, "ionized_mmol_l"}
    assert [q["duration_h"] for q in QUALIFIERS["fever"]] == [12, 30]


@st.composite
def value_pairs(draw: st.DrawFn) -> tuple[str, dict[str, Any], Decimal, Decimal]:
    term_id, qualifiers = draw(st.sampled_from(CASES))
    term = TABLE.terms[term_id]
    scale = qualifiers.get("unit", term.unit)
    places = 0 if term.resolution else 2
    values = st.decimals(min_value=0, max_value=_top(term, qualifiers, scale), places=places)
    return term_id, qualifiers, draw(values), draw(values)


@settings(max_examples=400)
@given(pair=value_pairs())
def test_a_worse_value_never_gives_a_lower_grade(
    pair: tuple[str, dict[str, Any], Decimal, Decimal],
) -> None:
    term_id, qualifiers, first, second = pair
    term = TABLE.terms[term_id]
    given = dict(qualifiers)
    unit = given.pop("unit", term.unit)
    low, high = sorted((first, second))
    better, worse = (low, high) if term.worse is Direction.HIGHER else (high, low)
    assert grade(term_id, worse, unit, **given).grade >= grade(term_id, better, unit, **given).grade


CONVERSIONS = [
    (term_id, q, unit)
    for term_id, q in CASES
    for unit, conversion in TABLE.terms[term_id].units.items()
    if conversion.scale == q.get("unit", TABLE.terms[term_id].unit)
    and unit != conversion.scale
    and (conversion.offset, conversion.divisor) == (0, 1)  # a pure factor (°F: its own tests)
]


@settings(max_examples=300)
@given(case=st.sampled_from(CONVERSIONS), fraction=st.decimals(min_value=0, max_value=1, places=4))
def test_a_value_in_another_unit_gets_the_grade_of_its_canonical_value(
    case: tuple[str, dict[str, Any], str], fraction: Decimal
) -> None:
    term_id, qualifiers, unit = case
    term = TABLE.terms[term_id]
    factor = term.units[unit].factor
    places = D(1) if term.resolution else D("0.001")
    value = (_top(term, qualifiers, term.unit) * fraction / factor).quantize(places)
    other = {
        k: (D(str(v)) / factor).quantize(places) if k in ("uln", "lln", "baseline") else v
        for k, v in qualifiers.items()
    }
    canonical = {k: v * factor if k in ("uln", "lln", "baseline") else v for k, v in other.items()}
    converted = grade(term_id, value, unit, **other)
    assert converted.grade == grade(term_id, value * factor, term.unit, **canonical).grade
    assert "converted to" in converted.criterion
