"""codes.toml: il2's terms coded in standard code systems, each code checked where it can be."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from il2.domain.coding import Section
from il2.domain.errors import RuleTableError
from il2.domain.findings import FieldType
from il2.rules.codes import CODES_FILE, KnownTerms, code_table
from il2.rules.loader import RuleSet
from il2.rules.reader import Node, read_bundled

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


# ------------------------------------------------------------------ check digits


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit of the code's number part (LOINC Users' Guide, "Calculating
    Mod 10 check digits"): from the rightmost digit, double every other digit starting with the
    rightmost; add the digits of the doubled numbers and the remaining digits; the check digit
    is what brings the sum up to the next multiple of 10."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def loinc_is_valid(code: str) -> bool:
    """A LOINC code is digits, a hyphen and its check digit."""
    match = re.fullmatch(r"(\d{1,7})-(\d)", code)
    return bool(match) and loinc_check_digit(match.group(1)) == int(match.group(2))


# Verhoeff's dihedral-group tables (Verhoeff 1969), as SNOMED CT's identifier specification uses
# them for the last digit of every SCTID.
VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_is_valid(number: str) -> bool:
    """Whether a number, its check digit last, passes Verhoeff's check."""
    check = 0
    for position, char in enumerate(reversed(number)):
        check = VERHOEFF_D[check][VERHOEFF_P[position % 8][int(char)]]
    return check == 0


def sctid_is_valid(code: str) -> bool:
    """An SCTID: 6 to 18 digits, no leading zero, a concept's partition ("00" or "10" before
    the check digit), and the Verhoeff check digit last."""
    return (
        re.fullmatch(r"[1-9]\d{5,17}", code) is not None
        and code[-3:-1] in ("00", "10")
        and verhoeff_is_valid(code)
    )


@pytest.mark.parametrize("code", ["8480-6", "2160-0", "777-3", "89247-1", "59408-5"])
def test_the_loinc_check_digit_accepts_codes_printed_in_the_fhir_specification(code: str) -> None:
    assert loinc_is_valid(code)


@pytest.mark.parametrize("code", ["8480-5", "2160-1", "777-2", "89247-0", "59408"])
def test_the_loinc_check_digit_refuses_a_wrong_check_digit(code: str) -> None:
    assert not loinc_is_valid(code)


@pytest.mark.parametrize("code", ["363346000", "128462008", "268910001", "550991000124107"])
def test_verhoeff_accepts_sctids_printed_in_mcode(code: str) -> None:
    assert sctid_is_valid(code)


@pytest.mark.parametrize("code", ["363346001", "128462018", "268910002", "012345"])
def test_verhoeff_refuses_a_mistyped_sctid(code: str) -> None:
    assert not sctid_is_valid(code)


# ------------------------------------------------------------------ the bundled table


def codings_in(rules: RuleSet, system: str) -> list[tuple[str, str]]:
    return [
        (f"{section.value}.{term}", cited.coding.code)
        for section, table in rules.codes.codings.items()
        for term, cited in table.items()
        if cited.coding.system == system
    ]


def test_every_loinc_code_has_a_valid_check_digit(rules: RuleSet) -> None:
    codes = codings_in(rules, LOINC)
    assert codes
    assert [(term, code) for term, code in codes if not loinc_is_valid(code)] == []


def test_every_snomed_ct_code_passes_the_verhoeff_check(rules: RuleSet) -> None:
    codes = codings_in(rules, SNOMED)
    assert codes
    assert [(term, code) for term, code in codes if not sctid_is_valid(code)] == []


def test_every_bedside_number_field_with_a_unit_has_a_ucum_unit_or_a_reason(
    rules: RuleSet,
) -> None:
    units = rules.codes.codings[Section.UNITS]
    reasons = rules.codes.unmapped.get(Section.UNITS, {})
    missing = [
        (path, spec.unit)
        for path, spec in rules.bedside_fields.items()
        if spec.type in (FieldType.NUMBER, FieldType.INTEGER) and spec.unit
        if spec.unit not in units and spec.unit not in reasons
    ]
    assert missing == []


def test_the_vital_signs_carry_ucum_units(rules: RuleSet) -> None:
    units = rules.codes.codings[Section.UNITS]
    assert {unit: units[unit].coding.code for unit in ("mmHg", "bpm", "%", "C", "kg")} == {
        "mmHg": "mm[Hg]",
        "bpm": "/min",
        "%": "%",
        "C": "Cel",
        "kg": "kg",
    }


def test_every_code_is_in_the_value_set_its_section_is_bound_to(rules: RuleSet) -> None:
    bound = {vs.binds: vs for vs in rules.codes.value_sets.values()}
    assert {Section.RESPONSES, Section.CTCAE_GRADES} <= set(bound)
    for section, value_set in bound.items():
        for term, cited in rules.codes.codings[section].items():
            assert cited.coding.system == value_set.system, term
            assert cited.coding.code in value_set.codes, term


def test_every_recist_response_but_non_cr_non_pd_is_coded_as_mcode_disease_status(
    rules: RuleSet,
) -> None:
    responses = rules.codes.codings[Section.RESPONSES]
    assert {term: cited.coding.code for term, cited in responses.items()} == {
        "CR": "268910001",
        "PR": "268910001",
        "SD": "359746009",
        "PD": "271299001",
        "NE": "709137006",
    }
    assert "non-CR/non-PD" in rules.codes.unmapped[Section.RESPONSES]


def test_every_ctcae_term_and_grade_is_coded(rules: RuleSet) -> None:
    assert set(rules.codes.codings[Section.CTCAE_TERMS]) == set(rules.ctcae.terms)
    assert set(rules.codes.codings[Section.CTCAE_GRADES]) == {"1", "2", "3", "4", "5"}
    meddra = [c.coding.code for c in rules.codes.codings[Section.CTCAE_TERMS].values()]
    assert all(re.fullmatch(r"100\d{5}", code) for code in meddra)


def test_ecog_is_coded_as_mcode_fixes_it(rules: RuleSet) -> None:
    ecog = rules.codes.coding(Section.FIELDS, "ecog")
    assert ecog is not None
    assert (ecog.system, ecog.code) == (LOINC, "89247-1")


def test_every_coding_names_its_source_and_a_display(rules: RuleSet) -> None:
    for table in rules.codes.codings.values():
        for cited in table.values():
            assert cited.source.strip()
            assert cited.coding.display.strip()


def test_a_term_without_a_verified_code_has_no_coding(rules: RuleSet) -> None:
    assert rules.codes.coding(Section.DIAGNOSES, "melanoma") is None
    assert "melanoma" in rules.codes.unmapped[Section.DIAGNOSES]


def test_the_code_table_version_is_recorded_with_the_rule_versions(rules: RuleSet) -> None:
    assert rules.versions["codes"] == rules.codes.version


# ------------------------------------------------------------------ refusals


def bundled() -> dict[str, Any]:
    return copy.deepcopy(read_bundled(CODES_FILE))


def known(rules: RuleSet) -> KnownTerms:
    specs = {**rules.screening_fields, **rules.bedside_fields, **rules.retreatment_fields}
    return KnownTerms(
        terms={
            Section.FIELDS: frozenset(specs),
            Section.UNITS: frozenset(s.unit for s in specs.values() if s.unit),
            Section.DIAGNOSES: frozenset(specs["diagnosis"].values),
            Section.RHYTHMS: frozenset(specs["vitals.rhythm"].values),
            Section.AGENTS: frozenset(
                {"aldesleukin", *(a.agent for r in rules.regimens.values() for a in r.agents)}
            ),
            Section.RESPONSES: frozenset({"CR", "PR", "SD", "PD", "NE", "non-CR/non-PD"}),
            Section.CTCAE_TERMS: frozenset(rules.ctcae.terms),
            Section.CTCAE_GRADES: frozenset({"1", "2", "3", "4", "5"}),
        }
    )


def refusal(data: dict[str, Any], rules: RuleSet) -> RuleTableError:
    with pytest.raises(RuleTableError) as caught:
        code_table(Node(data, CODES_FILE), known(rules))
    return caught.value


def test_the_bundled_file_loads_through_the_same_checks(rules: RuleSet) -> None:
    table = code_table(Node(bundled(), CODES_FILE), known(rules))
    assert table.codings == rules.codes.codings


def test_a_field_no_input_file_has_is_refused_naming_it(rules: RuleSet) -> None:
    data = bundled()
    data["fields"]["vitals.diastolic_mmhg"] = dict(data["fields"]["vitals.sbp_mmhg"])
    error = refusal(data, rules)
    assert (error.file, error.field) == (CODES_FILE, "fields.vitals.diastolic_mmhg")
    assert "is not a field of" in error.problem


def test_a_unit_no_field_uses_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["units"]["mg/L"] = dict(data["units"]["mg/dL"])
    assert refusal(data, rules).field == "units.mg/L"


def test_an_unknown_ctcae_term_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["ctcae_terms"]["hiccups"] = dict(data["ctcae_terms"]["nausea"])
    error = refusal(data, rules)
    assert error.field == "ctcae_terms.hiccups"
    assert "ctcae_v5.toml" in error.problem


def test_a_diagnosis_il2_does_not_screen_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["diagnoses"]["lymphoma"] = dict(data["rhythms"]["bradycardia"])
    assert refusal(data, rules).field == "diagnoses.lymphoma"


def test_an_agent_no_regimen_names_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["unmapped"]["agents"]["cyclophosphamide"] = "named only in notes"
    error = refusal(data, rules)
    assert error.field == "unmapped.agents.cyclophosphamide"
    assert "regimens.toml" in error.problem


def test_a_code_in_the_wrong_code_system_for_its_section_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["fields"]["ecog"]["system"] = "snomed"
    assert refusal(data, rules).field == "fields.ecog.system"


def test_a_source_not_listed_in_sources_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["fields"]["ecog"]["source"] = "my memory"
    error = refusal(data, rules)
    assert error.field == "fields.ecog.source"


def test_an_entry_without_a_display_is_refused(rules: RuleSet) -> None:
    data = bundled()
    del data["fields"]["ecog"]["display"]
    assert refusal(data, rules).field == "fields.ecog.display"


def test_a_term_both_coded_and_unmapped_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["unmapped"]["fields"]["ecog"] = "no code"
    error = refusal(data, rules)
    assert error.field == "unmapped.fields.ecog"
    assert "cannot be unmapped" in error.problem


def test_a_code_outside_its_bound_value_set_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["responses"]["CR"]["code"] = "550991000124107"
    error = refusal(data, rules)
    assert error.field == "value_sets.condition_status_trend.codes"
    assert "550991000124107" in error.problem


def test_a_section_without_its_code_system_is_refused(rules: RuleSet) -> None:
    data = bundled()
    del data["systems"]["meddra"]
    assert refusal(data, rules).field == "systems.meddra"


def test_an_unknown_top_level_table_is_refused(rules: RuleSet) -> None:
    data = bundled()
    data["icd10"] = {}
    assert refusal(data, rules).field == "icd10"


def test_a_file_with_only_its_code_systems_codes_nothing(rules: RuleSet) -> None:
    data = {key: bundled()[key] for key in ("meta", "systems", "sources")}
    table = code_table(Node(data, CODES_FILE), known(rules))
    assert all(not codings for codings in table.codings.values())
    assert (dict(table.unmapped), dict(table.value_sets)) == ({}, {})
