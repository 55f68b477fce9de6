"""Prognostic scores: properties of the count and group, the loader's refusals, the answer."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from il2.domain.errors import RuleTableError
from il2.domain.findings import Value
from il2.domain.prognosis import (
    PrognosticScore,
    PrognosticTable,
    assess_prognosis,
    prognostic_points,
)
from il2.rules.loader import RuleSet, load_rules
from il2.rules.prognosis import PROGNOSIS_FILE, prognostic_table
from il2.rules.reader import Node, read_bundled
from il2.services.documents import screening_document
from il2.services.screening import screen_candidate, screening_answer

RULES = load_rules()
TABLE = RULES.prognostic_scores
ROOT = Path(__file__).parents[2]
RCC = "renal_cell_carcinoma"

# The lab values a score reads, each with a plausible range (tenths) and the direction that is
# worse for the patient (+1: higher is worse). The lab's own limits are drawn apart.
WORSE_IF = {
    "karnofsky": -1,
    "ecog": +1,
    "history.months_since_diagnosis": -1,
    "labs.hemoglobin_g_dl": -1,
    "labs.calcium_mg_dl": +1,
    "labs.albumin_g_dl": -1,  # lower albumin raises the corrected calcium
    "labs.neutrophils_per_ul": +1,
    "labs.platelets_per_ul": +1,
    "labs.ldh_u_l": +1,
}
ECOG_KARNOFSKY = {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (10, 20)}
M_STAGES = ("M1a", "M1b", "M1c", "M1d")


def _tenths(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 10, high * 10).map(lambda n: Decimal(n) / 10)


@st.composite
def complete_findings(draw: st.DrawFn) -> dict[str, Value]:
    """Every field the scores read, Karnofsky inside the band of the ECOG grade."""
    ecog = draw(st.integers(0, 4))
    low, high = ECOG_KARNOFSKY[ecog]
    return {
        "ecog": Decimal(ecog),
        "karnofsky": Decimal(draw(st.sampled_from(range(low, high + 1, 10)))),
        "history.months_since_diagnosis": _draw(draw, 0, 60),
        "labs.hemoglobin_g_dl": _draw(draw, 6, 18),
        "labs.hemoglobin_lln_g_dl": _draw(draw, 11, 14),
        "labs.calcium_mg_dl": _draw(draw, 7, 14),
        "labs.calcium_uln_mg_dl": _draw(draw, 9, 11),
        "labs.albumin_g_dl": _draw(draw, 2, 5),
        "labs.neutrophils_per_ul": Decimal(draw(st.integers(500, 15000))),
        "labs.neutrophils_uln_per_ul": Decimal(draw(st.integers(6000, 8000))),
        "labs.platelets_per_ul": Decimal(draw(st.integers(50000, 800000))),
        "labs.platelets_uln_per_ul": Decimal(draw(st.integers(350000, 450000))),
        "labs.ldh_u_l": Decimal(draw(st.integers(80, 1200))),
        "labs.ldh_uln_u_l": Decimal(draw(st.integers(200, 280))),
        "tumour.m_stage": draw(st.sampled_from(M_STAGES)),
    }


def _draw(draw: st.DrawFn, low: int, high: int) -> Decimal:
    return draw(_tenths(low, high))


@st.composite
def partial_findings(draw: st.DrawFn) -> tuple[dict[str, Value], dict[str, Value]]:
    """Complete findings, and the same with some fields not recorded."""
    complete = draw(complete_findings())
    dropped = draw(st.sets(st.sampled_from(sorted(complete))))
    return complete, {k: v for k, v in complete.items() if k not in dropped}


def _scores(findings: dict[str, Value], diagnosis: str) -> tuple[PrognosticScore, ...]:
    return assess_prognosis(findings, diagnosis=diagnosis, table=TABLE)


def _group_rank(table: PrognosticTable, score_id: str) -> dict[str, int]:
    rule = next(s for s in table.scores if s.id == score_id)
    return {g.id: index for index, g in enumerate(rule.groups)}


DIAGNOSES = st.sampled_from([RCC, "melanoma"])


@settings(max_examples=300, deadline=None)
@given(
    pair=partial_findings(),
    diagnosis=DIAGNOSES,
    field=st.sampled_from(sorted([*WORSE_IF, "tumour.m_stage"])),
    step=st.integers(1, 400),
)
def test_an_adverse_finding_never_lowers_the_count_or_the_group(
    pair: tuple[dict[str, Value], dict[str, Value]], diagnosis: str, field: str, step: int
) -> None:
    _, findings = pair
    assume(field in findings)  # a recorded value made worse (recording a missing one: below)
    worse = dict(findings)
    if field == "tumour.m_stage":
        current = M_STAGES.index(str(findings[field]))
        worse[field] = M_STAGES[min(current + step % 4, 3)]
    elif field == "ecog":  # a whole grade from 0 to 4
        grade = findings[field]
        assert isinstance(grade, Decimal)
        worse[field] = min(Decimal(4), grade + step % 4)
    else:
        start = findings[field]
        assert isinstance(start, Decimal)
        worse[field] = start + WORSE_IF[field] * Decimal(step) / 10
    for before, after in zip(_scores(findings, diagnosis), _scores(worse, diagnosis), strict=True):
        assert after.count_low >= before.count_low
        assert after.count_high >= before.count_high
        rank = _group_rank(TABLE, before.id)
        if rank:
            assert min(rank[g] for g in after.possible_groups) >= min(
                rank[g] for g in before.possible_groups
            )
            assert max(rank[g] for g in after.possible_groups) >= max(
                rank[g] for g in before.possible_groups
            )


@settings(max_examples=300, deadline=None)
@given(pair=partial_findings(), diagnosis=DIAGNOSES)
def test_the_fully_known_result_is_always_inside_the_range_of_a_partial_one(
    pair: tuple[dict[str, Value], dict[str, Value]], diagnosis: str
) -> None:
    complete, partial = pair
    for full, part in zip(_scores(complete, diagnosis), _scores(partial, diagnosis), strict=True):
        assert full.count_low == full.count_high, "complete findings settle every factor"
        assert part.count_low <= full.count_low <= part.count_high
        if part.possible_groups:
            assert full.group in part.possible_groups
        if part.group is not None:
            assert full.group == part.group
        for known, seen in zip(full.factors, part.factors, strict=True):
            assert seen.status.value in ("unknown", known.status.value)


@settings(max_examples=200, deadline=None)
@given(pair=partial_findings())
def test_points_are_the_count_when_every_factor_is_known_and_none_otherwise(
    pair: tuple[dict[str, Value], dict[str, Value]],
) -> None:
    _, findings = pair
    points = prognostic_points(findings, diagnosis=RCC, table=TABLE)
    assert set(points) == {"imdc", "mskcc"}
    for found in _scores(findings, RCC):
        known = not found.unknown
        assert points[found.id] == (found.count_low if known else None)


def test_a_diagnosis_no_score_names_gets_no_score() -> None:
    assert prognostic_points({}, diagnosis="something_else", table=TABLE) == {}


def test_the_rule_set_carries_the_scores_and_their_version(rules: RuleSet) -> None:
    assert {s.id for s in rules.prognostic_scores.scores} == {"imdc", "mskcc", "melanoma"}
    assert rules.versions["prognostic_scores"] == rules.prognostic_scores.version
    assert all(f.source for s in rules.prognostic_scores.scores for f in s.factors)


# ---------------------------------------------------------------- the loader refuses bad files


def _bundled() -> dict[str, Any]:
    return copy.deepcopy(read_bundled(PROGNOSIS_FILE))


def _load(data: dict[str, Any]) -> PrognosticTable:
    return prognostic_table(Node(data, PROGNOSIS_FILE), RULES.screening_fields)


def _edit_imdc_factor(key: str, value: object) -> dict[str, Any]:
    data = _bundled()
    data["scores"]["imdc"]["factors"][2][key] = value
    return data


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            _edit_imdc_factor("field", "labs.haemoglobin"),
            "scores.imdc.factors[2].field",
            "not a screening field",
        ),
        (
            _edit_imdc_factor("limit", "labs.ldh_uln_u_l"),
            "scores.imdc.factors[2].limit",
            "is in 'U/L'",
        ),
        (
            _edit_imdc_factor("comparison", "=="),
            "scores.imdc.factors[2].comparison",
            "is not one of",
        ),
        (
            _edit_imdc_factor("threshold", 12),
            "scores.imdc.factors[2].threshold",
            "exactly one",
        ),
        (
            _edit_imdc_factor("correction", "payne"),
            "scores.imdc.factors[2].correction",
            "not an entry of [corrections]",
        ),
        (
            _edit_imdc_factor("field", "tumour.histology"),
            "scores.imdc.factors[2].field",
            "not a number field",
        ),
    ],
)
def test_a_bad_factor_stops_start_up_naming_file_and_field(
    data: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(RuleTableError) as refused:
        _load(data)
    assert refused.value.file == PROGNOSIS_FILE
    assert refused.value.field == field
    assert words in str(refused.value)


def test_groups_with_a_gap_are_refused() -> None:
    data = _bundled()
    data["scores"]["imdc"]["groups"][1]["min_count"] = 2
    with pytest.raises(RuleTableError, match="without gap"):
        _load(data)


def test_groups_that_stop_short_of_the_factor_count_are_refused() -> None:
    data = _bundled()
    data["scores"]["mskcc"]["groups"][2]["max_count"] = 4
    with pytest.raises(RuleTableError) as refused:
        _load(data)
    assert refused.value.field == "scores.mskcc.groups"


def test_a_score_for_an_unknown_diagnosis_is_refused() -> None:
    data = _bundled()
    data["scores"]["melanoma"]["diagnoses"] = ["uveal"]
    with pytest.raises(RuleTableError) as refused:
        _load(data)
    assert refused.value.field == "scores.melanoma.diagnoses"


def test_an_ecog_band_from_high_to_low_is_refused() -> None:
    data = _bundled()
    data["fallbacks"]["karnofsky_from_ecog"]["bands"]["1"] = [80, 70]
    with pytest.raises(RuleTableError) as refused:
        _load(data)
    assert refused.value.field == "fallbacks.karnofsky_from_ecog.bands.1"


def test_the_albumin_correction_cannot_be_switched_to_guessing() -> None:
    data = _bundled()
    data["corrections"]["albumin_corrected_calcium"]["without_albumin"] = "measured"
    with pytest.raises(RuleTableError) as refused:
        _load(data)
    assert refused.value.field == "corrections.albumin_corrected_calcium.without_albumin"


# ---------------------------------------------------------------- the screening answer


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples/candidates").iterdir()))
def test_the_screening_answer_keeps_the_checklist_and_adds_the_scores_apart(
    name: str, rules: RuleSet
) -> None:
    document = json.loads((ROOT / "examples/candidates" / name).read_text(encoding="utf-8"))
    answer = screening_answer(rules, document)
    prognosis = answer.pop("prognosis")
    assert answer == screening_document(screen_candidate(rules, document))
    assert prognosis["in_verdict"] is False
    assert prognosis["caveat"]
    assert [s["id"] for s in prognosis["scores"]] == (
        ["imdc", "mskcc"] if document["diagnosis"] == RCC else ["melanoma"]
    )
    for found in prognosis["scores"]:
        for factor in found["factors"]:
            assert factor["status"] in ("present", "absent", "unknown")
            assert all(factor[key] for key in ("finding", "threshold", "source"))


def test_the_answer_names_the_unknown_factors_and_the_groups_still_possible(
    rules: RuleSet,
) -> None:
    document = json.loads((ROOT / "examples/candidates/eligible-renal.json").read_text("utf-8"))
    imdc = screening_answer(rules, document)["prognosis"]["scores"][0]
    assert imdc["group"] is None
    assert imdc["unknown_factors"] == [
        "imdc-time-from-diagnosis",
        "imdc-hemoglobin",
        "imdc-calcium",
        "imdc-neutrophils",
        "imdc-platelets",
    ]
    assert [g["id"] for g in imdc["possible_groups"]] == ["favorable", "intermediate", "poor"]
    calcium = next(f for f in imdc["factors"] if f["id"] == "imdc-calcium")
    assert "Payne" in calcium["method"]
