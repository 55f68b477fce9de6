"""The response page's plot data: best changes are the RECIST result's, never a made-up 0."""

from decimal import Decimal

from il2.domain.recist import best_change
from il2.web.recist_form import shape


def _point(day: str, change: float | None, lesion: float | None) -> dict[str, object]:
    return {
        "date": day,
        "change_from_baseline_pct": change,
        "lesions": [{"id": "L1", "change_from_baseline_pct": lesion}],
    }


def test_the_best_change_is_the_lowest_measured_one_and_none_when_none_was_measured() -> None:
    assert best_change([Decimal("-12.5"), None, Decimal("-40")]) == Decimal("-40")
    assert best_change([None, None]) is None
    assert best_change([]) is None


def test_the_sum_bar_is_the_recist_results_best_change() -> None:
    recist = {
        "timepoints": [
            _point("2026-01-01", None, None),
            _point("2026-02-26", -35.0, -50.0),
            _point("2026-04-23", -20.0, -10.0),
        ],
        "best_change_from_baseline_pct": -35.0,
    }
    shaped = shape(recist)
    assert shaped.lesion_ids == ["L1", "sum"]
    assert shaped.best_changes == [-50.0, -35.0]
    assert shaped.not_measurable == []
    assert shaped.weeks == [0.0, 8.0, 16.0]
    assert shaped.lines == [("L1", [0.0, -50.0, -10.0]), ("sum", [0.0, -35.0, -20.0])]


def test_a_change_no_scan_measured_is_named_not_drawn_at_zero() -> None:
    recist = {
        "timepoints": [_point("2026-01-01", None, None), _point("2026-02-26", None, None)],
        "best_change_from_baseline_pct": None,
    }
    shaped = shape(recist)
    assert shaped.lesion_ids == []
    assert shaped.best_changes == []
    assert shaped.not_measurable == ["L1", "sum"]
