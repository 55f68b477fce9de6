"""The response form: lesions by scan, as a grid, to the RECIST document and back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError
from il2.domain.recist import best_change
from il2.web import forms

MIN_SCANS = 3
MIN_LESIONS = 5
NON_TARGET = ("absent", "present", "unequivocal_progression", "not_evaluated")


@dataclass(frozen=True, slots=True)
class Grid:
    """How many scan columns and lesion rows the form shows."""

    scans: int
    lesions: int


def grid_for(measurements: Mapping[str, Any] | None) -> Grid:
    """Room for what was entered, and one more scan and lesion."""
    if not measurements:
        return Grid(MIN_SCANS, MIN_LESIONS)
    assessments = measurements.get("assessments", [])
    ids = {t["id"] for a in assessments for t in a.get("target_lesions", [])}
    return Grid(max(MIN_SCANS, len(assessments) + 1), max(MIN_LESIONS, len(ids) + 1))


def values_for(measurements: Mapping[str, Any] | None) -> dict[str, Any]:
    """A RECIST document as the grid's form values."""
    values: dict[str, Any] = {"confirmation_required": "yes"}
    if not measurements:
        return values
    if measurements.get("confirmation_required") is False:
        values["confirmation_required"] = ""
    if measurements.get("irecist"):
        values["irecist"] = "yes"
    lesions: list[str] = []
    for j, scan in enumerate(measurements.get("assessments", [])):
        values[f"scan{j}.date"] = scan.get("date", "")
        values[f"scan{j}.non_target"] = scan.get("non_target", "absent")
        if scan.get("new_lesions"):
            values[f"scan{j}.new_lesions"] = "yes"
        for target in scan.get("target_lesions", []):
            if target["id"] not in lesions:
                i = len(lesions)
                lesions.append(target["id"])
                values[f"lesion{i}.id"] = target["id"]
                values[f"lesion{i}.organ"] = target.get("organ", "")
                if target.get("nodal"):
                    values[f"lesion{i}.nodal"] = "yes"
            diameter = target.get("diameter_mm")
            values[f"scan{j}.lesion{lesions.index(target['id'])}"] = (
                "" if diameter is None else str(diameter)
            )
    return values


def _pasted(raw: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            field="measurements_json", value=raw[:60], allowed=f"valid JSON ({error.msg})"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInputError(
            field="measurements_json", value=raw[:60], allowed="a JSON object (il2 recist input)"
        )
    return document


def _lesions(form: FormData, rows: int) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for i in range(rows):
        lesion_id = forms.text(form, f"lesion{i}.id")
        if lesion_id:
            found.append(
                (
                    i,
                    {
                        "id": lesion_id,
                        "organ": forms.text(form, f"lesion{i}.organ"),
                        "nodal": forms.text(form, f"lesion{i}.nodal") == "yes",
                    },
                )
            )
    return found


def _non_target(form: FormData, scan: int) -> str:
    """The scan's non-target status as chosen: never assumed, since "absent" at a follow-up
    scan after "present" at baseline reads as a complete response of the non-target disease."""
    chosen = forms.text(form, f"scan{scan}.non_target")
    if chosen not in NON_TARGET:
        allowed = "a choice of " + ", ".join(v.replace("_", " ") for v in NON_TARGET)
        raise InvalidInputError(
            field=f"scan{scan}.non_target", value=chosen or None, allowed=allowed
        )
    return chosen


def document(form: FormData, grid: Grid) -> tuple[dict[str, Any], dict[str, str]]:
    """The RECIST document of the grid (or the pasted JSON), and service paths to input names."""
    pasted = forms.text(form, "measurements_json")
    if pasted:
        return _pasted(pasted), {}
    lesions = _lesions(form, grid.lesions)
    names: dict[str, str] = {}
    assessments: list[dict[str, Any]] = []
    for j in range(grid.scans):
        when = forms.text(form, f"scan{j}.date")
        if not when:
            continue
        k = len(assessments)
        names[f"assessments[{k}].date"] = f"scan{j}.date"
        names[f"assessments[{k}].non_target"] = f"scan{j}.non_target"
        targets = []
        for n, (i, lesion) in enumerate(lesions):
            raw = forms.text(form, f"scan{j}.lesion{i}")
            where = f"assessments[{k}].target_lesions[{n}]"
            names[f"{where}.diameter_mm"] = f"scan{j}.lesion{i}"
            names[f"{where}.organ"] = f"lesion{i}.organ"
            names[f"{where}.id"] = f"lesion{i}.id"
            diameter = (
                forms.number(raw, field=f"scan{j}.lesion{i}", allowed="a diameter in mm")
                if raw
                else None
            )
            targets.append({**lesion, "diameter_mm": diameter})
        assessments.append(
            {
                "date": when,
                "target_lesions": targets,
                "non_target": _non_target(form, j),
                "new_lesions": forms.text(form, f"scan{j}.new_lesions") == "yes",
            }
        )
    body: dict[str, Any] = {
        "confirmation_required": forms.text(form, "confirmation_required") == "yes",
        "assessments": assessments,
    }
    if forms.text(form, "irecist") == "yes":
        body["irecist"] = True
    return body, names


def grid_of_form(form: FormData) -> Grid:
    """The grid the submitted form had (its size travels with it)."""
    try:
        return Grid(int(forms.text(form, "scans")), int(forms.text(form, "lesions")))
    except ValueError:
        return Grid(MIN_SCANS, MIN_LESIONS)


@dataclass(frozen=True, slots=True)
class Shape:
    """What the plots need from a RECIST result.

    `lesion_ids` and `best_changes` are the waterfall's bars: each target lesion and the sum
    with a best change from baseline; `not_measurable` names those no follow-up scan measured
    (the page says so rather than drawing a bar at 0).
    """

    lesion_ids: list[str]
    best_changes: list[float]
    weeks: list[float]
    lines: list[tuple[str, list[float | None]]]
    not_measurable: list[str] = field(default_factory=list)


def shape(recist: Mapping[str, Any]) -> Shape:
    """Per-lesion and sum changes from baseline, for the waterfall and spider plots.

    The sum's best change is the RECIST result's own; a lesion's is its best over the
    follow-up scans as the domain takes it (`best_change`).
    """
    points: Sequence[Mapping[str, Any]] = recist.get("timepoints", [])
    if not points:
        return Shape([], [], [], [])
    start = date.fromisoformat(points[0]["date"])
    weeks = [(date.fromisoformat(p["date"]) - start).days / 7 for p in points]
    ids = [lesion["id"] for lesion in points[0].get("lesions", [])]
    lines: list[tuple[str, list[float | None]]] = []
    best: list[tuple[str, float | None]] = []
    for lesion_id in ids:
        changes: list[float | None] = [0.0]
        for p in points[1:]:
            match = next((x for x in p.get("lesions", []) if x["id"] == lesion_id), None)
            changes.append(match.get("change_from_baseline_pct") if match else None)
        lines.append((lesion_id, changes))
        best.append((lesion_id, best_change(changes[1:])))
    sums: list[float | None] = [0.0] + [p.get("change_from_baseline_pct") for p in points[1:]]
    lines.append(("sum", sums))
    best.append(("sum", recist.get("best_change_from_baseline_pct")))
    measured = [(name, change) for name, change in best if change is not None]
    return Shape(
        [name for name, _ in measured],
        [float(change) for _, change in measured],
        weeks,
        lines,
        [name for name, change in best if change is None],
    )
