"""RECIST invariants for every set of measurements, not only the conformance cases."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.rules.loader import load_rules
from il2.services.documents import recist_document
from il2.services.recist import assess_response

RULES = load_rules()
WORSE = {"CR": 0, "PR": 1, "SD": 2, "non-CR/non-PD": 2, "NE": 3, "PD": 4}
sizes = st.decimals(min_value=0, max_value=150, places=1)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """A valid RECIST document: a baseline and one to four follow-ups six weeks apart."""
    count = draw(st.integers(1, 5))
    nodal = [draw(st.booleans()) for _ in range(count)]
    baseline = [draw(st.decimals(min_value=15, max_value=100, places=1)) for _ in range(count)]
    start = date(2026, 1, 5)

    def scan(weeks: int, diameters: list[Decimal | None]) -> dict[str, Any]:
        return {
            "date": (start + timedelta(weeks=weeks)).isoformat(),
            "target_lesions": [
                {
                    "id": f"L{i}",
                    "organ": f"o{i}",
                    "nodal": nodal[i],
                    "diameter_mm": None if d is None else float(d),
                }
                for i, d in enumerate(diameters)
            ],
            "non_target": draw(st.sampled_from(["absent", "present", "not_evaluated"]))
            if weeks
            else "present",
            "new_lesions": False,
        }

    scans = [scan(0, list(baseline))]
    for k in range(1, draw(st.integers(1, 4)) + 1):
        diameters = [
            draw(st.one_of(sizes, st.none()) if draw(st.integers(0, 9)) == 0 else sizes)
            for _ in range(count)
        ]
        scans.append(scan(6 * k, diameters))
    return {"confirmation_required": draw(st.booleans()), "assessments": scans}


def _overall(document: dict[str, Any]) -> list[str]:
    return [
        p["overall"] for p in recist_document(assess_response(RULES, document))["timepoints"][1:]
    ]


@given(document=histories(), factor=st.decimals(min_value=0, max_value=1, places=2), data=st.data())
def test_shrinking_every_lesion_never_worsens_that_time_point(
    document: dict[str, Any], factor: Decimal, data: st.DataObject
) -> None:
    index = data.draw(st.integers(1, len(document["assessments"]) - 1))
    smaller = copy.deepcopy(document)
    for lesion in smaller["assessments"][index]["target_lesions"]:
        if lesion["diameter_mm"] is not None:
            lesion["diameter_mm"] = float(
                (Decimal(str(lesion["diameter_mm"])) * factor).quantize(Decimal("0.1"))
            )
    before, after = _overall(document)[index - 1], _overall(smaller)[index - 1]
    assert WORSE[after] <= WORSE[before], (before, after)


@given(document=histories(), data=st.data())
def test_a_new_lesion_always_gives_pd(document: dict[str, Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(1, len(document["assessments"]) - 1))
    document["assessments"][index]["new_lesions"] = True
    assert _overall(document)[index - 1] == "PD"


@given(document=histories())
def test_the_same_scans_always_give_the_same_answer(document: dict[str, Any]) -> None:
    assert assess_response(RULES, document) == assess_response(RULES, copy.deepcopy(document))


@st.composite
def after_a_confirmed_cr(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A baseline, a CR, its confirmation (maybe an NE scan), then a scan with or without disease.

    Returns the document and whether the last scan shows disease again: a non-nodal target above
    0 mm, a nodal target at 10 mm or more, or non-target disease present.
    """
    count = draw(st.integers(1, 5))
    nodal = [draw(st.booleans()) for _ in range(count)]
    start = date(2026, 1, 5)
    # Sizes at the edges are drawn often: 0.1 mm back, a node at exactly 10 mm or at 9.9 mm.
    gone = [
        Decimal(0) if not n else draw(st.just(Decimal("9.9")) | st.decimals(0, "9.9", places=1))
        for n in nodal
    ]
    weeks = [8, 8 + draw(st.integers(4, 12))]
    weeks += [weeks[-1] + draw(st.integers(1, 12))]
    back = [
        draw(st.just(Decimal(10)) | st.decimals(10, 150, places=1))
        if n
        else draw(st.just(Decimal("0.1")) | st.decimals("0.1", 150, places=1))
        for n in nodal
    ]
    which = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    last = [b if w else g for b, w, g in zip(back, which, gone, strict=True)]
    non_target_back = draw(st.booleans())

    def scan(week: int, diameters: list[Decimal | None], non_target: str) -> dict[str, Any]:
        return {
            "date": (start + timedelta(weeks=week)).isoformat(),
            "target_lesions": [
                {
                    "id": f"L{i}",
                    "organ": f"o{i}",
                    "nodal": nodal[i],
                    "diameter_mm": None if d is None else float(d),
                }
                for i, d in enumerate(diameters)
            ],
            "non_target": non_target,
            "new_lesions": False,
        }

    baseline = [draw(st.decimals(min_value=15, max_value=100, places=1)) for _ in range(count)]
    scans = [
        scan(0, list(baseline), "present"),
        *(scan(w, list(gone), "absent") for w in weeks[:2]),
    ]
    if draw(st.booleans()):
        scans.append(scan(weeks[1] + 1, [None] * count, "not_evaluated"))
    scans.append(scan(weeks[2] + 1, list(last), "present" if non_target_back else "absent"))
    document = {"confirmation_required": draw(st.booleans()), "assessments": scans}
    return document, any(which) or non_target_back


@given(case=after_a_confirmed_cr())
def test_after_a_definitive_cr_any_reappearance_is_pd_and_nothing_else_is(
    case: tuple[dict[str, Any], bool],
) -> None:
    document, reappeared = case
    output = recist_document(assess_response(RULES, document))
    last = output["timepoints"][-1]
    assert output["best_overall_response"] == "CR"
    if reappeared:
        assert last["overall"] == "PD", last["reasons"]
        assert output["progression_on"] == last["date"]
    else:
        assert last["overall"] == "CR", last["reasons"]
        assert output["progression_on"] is None


def test_a_later_scan_must_state_non_target_when_the_baseline_had_them() -> None:
    """Ward walkthrough: a follow-up's non-target status was defaulted to `absent`, which can
    turn a partial response into a complete one. Stated, the answer is unchanged."""
    lesion = {"id": "L1", "organ": "lung", "nodal": False}
    document = {
        "confirmation_required": False,
        "assessments": [
            {"date": "2026-01-05", "target_lesions": [lesion | {"diameter_mm": 30}],
             "non_target": "present"},
            {"date": "2026-03-05", "target_lesions": [lesion | {"diameter_mm": 0}]},
        ],
    }  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        assess_response(RULES, document)
    assert refused.value.field == "assessments[1].non_target"
    document["assessments"][1]["non_target"] = "present"  # type: ignore[index]
    assert assess_response(RULES, document).recist.best_overall_response.value == "PR"
