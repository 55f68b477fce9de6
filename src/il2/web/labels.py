"""Words for people: field paths and codes as a clinician reads them.

An input field's label is the field's own, in its input file (rules/data/*_input.toml and
retreatment.toml); the names below are the other paths forms and refusals use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from il2.rules.fields import field_labels

_LABELS = {
    "phenylephrine_ug_kg_min.now": "Phenylephrine now",
    "phenylephrine_ug_kg_min.max_since_last_dose": "Phenylephrine, most since last dose",
    "vasopressors": "Vasopressors",
    "verified_by": "Second nurse (username)",
    "given_at": "Given at",
    "override_reason": "Override reason",
    "first_dose": "First dose",
    "cycle_end_rule": "End of each cycle",
    "mrn": "Medical record number",
    "name": "Name",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "referred_on": "Referred on",
    "username": "Username",
    "display_name": "Display name",
    "role": "Role",
    "password": "Password",
    "observed_on": "Observed on",
    "measurements": "RECIST document",
    "measurements_json": "RECIST JSON",
    "term": "CTCAE term",
    "value": "Value",
    "unit": "Unit",
    "uln": "Upper limit of normal",
    "lln": "Lower limit of normal",
    "baseline": "Baseline",
    "duration_h": "Duration",
    "symptomatic": "Symptomatic",
    "clinical_grade": "Clinician's grade",
    "outcome": "Outcome",
    "since": "Since",
    # follow-up and corrections
    "status": "Status",
    "notes": "Notes",
    "reason": "Reason for the correction",
}
_CELL = re.compile(r"scan(\d+)\.(date|non_target|new_lesions|lesion(\d+))")
_LESION = re.compile(r"lesion(\d+)\.(id|organ|nodal)")
_ARM = re.compile(r"arms\[(\d+)\]\.(id|name|description)")
_UPPER = {"ecg", "fobt", "svt", "vt", "spo2", "sbp", "ast", "alt", "ecog", "pr", "cr", "sd", "pd"}


def words(code: object) -> str:
    """A snake_case code as words ("renal_cell_carcinoma" -> "renal cell carcinoma")."""
    if code is None:
        return "—"
    parts = str(code).replace("-", " ").replace("_", " ").split()
    return " ".join(p.upper() if p in _UPPER else p for p in parts)


_PRESSOR = re.compile(r"vasopressors(?:\.|\[\d+\]\.)(\w+)\.(now|max_since_last_dose)_\w+")


def _cell_label(cell: re.Match[str]) -> str:
    scan = "baseline" if cell[1] == "0" else f"scan {int(cell[1]) + 1}"
    if cell[3] is not None:
        return f"Lesion {int(cell[3]) + 1} diameter at {scan}"
    return f"{words(cell[2]).capitalize()} at {scan}"


def _numbered(path: str) -> str | None:
    """A lesion's or a study arm's field, by its place from 1 (None: neither)."""
    if lesion := _LESION.fullmatch(path):
        return f"Lesion {int(lesion[1]) + 1} {words(lesion[2])}"
    if arm := _ARM.fullmatch(path):
        return f"Arm {int(arm[1]) + 1} {'short id' if arm[2] == 'id' else arm[2]}"
    return None


def label_for(path: str) -> str:
    """The label of a form field named by its path."""
    if label := field_labels().get(path, _LABELS.get(path)):
        return label
    if pressor := _PRESSOR.fullmatch(path):
        agent = words(pressor[1]).capitalize()
        return agent + (" now" if pressor[2] == "now" else ", most since the last dose")
    if cell := _CELL.fullmatch(path):
        return _cell_label(cell)
    if numbered := _numbered(path):
        return numbered
    if path.startswith("assessments["):
        return "RECIST " + path
    return words(path.rsplit(".", 1)[-1]).capitalize()


def choices(values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, words) pairs for a select."""
    return [(v, words(v)) for v in values]
