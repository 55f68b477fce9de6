"""Words for people: field paths and codes as a clinician reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LABELS = {
    "age_years": "Age",
    "diagnosis": "Diagnosis",
    "metastatic": "Metastatic disease",
    "ecog": "ECOG performance status",
    "weight_kg": "Weight",
    "labs.creatinine_mg_dl": "Creatinine",
    "labs.creatinine_clearance_ml_min": "Creatinine clearance",
    "labs.bilirubin_mg_dl": "Bilirubin",
    "labs.ast_u_l": "AST",
    "labs.alt_u_l": "ALT",
    "labs.ast_uln_u_l": "AST upper limit of normal",
    "labs.alt_uln_u_l": "ALT upper limit of normal",
    "labs.platelets_per_ul": "Platelets",
    "labs.wbc_per_ul": "White cells",
    "labs.hemoglobin_g_dl": "Hemoglobin",
    "labs.bicarbonate_mmol_l": "Bicarbonate",
    "cardiac.lvef_pct": "LV ejection fraction",
    "cardiac.wall_motion": "Wall motion",
    "cardiac.significant_cad": "Significant coronary artery disease",
    "cardiac.stress_test": "Cardiac stress test",
    "cardiac.cardiac_history": "Cardiac history",
    "pulmonary.fev1_l": "FEV1",
    "pulmonary.fev1_pct_predicted": "FEV1, % predicted",
    "pulmonary.smoking_history": "Smoking history",
    "pulmonary.lung_disease": "Lung disease",
    "brain_imaging": "Brain imaging",
    "hypersensitivity_to_aldesleukin": "Severe hypersensitivity to aldesleukin",
    "conditions": "Conditions present",
    "medications": "Current medications",
    "supplemental_oxygen": "On supplemental oxygen",
    "pregnant": "Pregnant",
    "baseline.weight_kg": "Baseline weight",
    "baseline.creatinine_mg_dl": "Baseline creatinine",
    "held_for": "Earlier holds still open for",
    "vitals.sbp_mmhg": "Systolic blood pressure",
    "vitals.heart_rate_bpm": "Heart rate",
    "vitals.spo2_pct": "SpO2",
    "vitals.temperature_c": "Temperature",
    "vitals.rhythm": "Rhythm",
    "urine_output_ml_last_8h": "Urine output, last 8 h",
    "phenylephrine_ug_kg_min.now": "Phenylephrine now",
    "phenylephrine_ug_kg_min.max_since_last_dose": "Phenylephrine, most since last dose",
    "vasopressors": "Vasopressors",
    "oxygen_l_min": "Oxygen by nasal cannula (0 on room air)",
    "mental_status": "Mental status",
    "mental_status_change_hours": "Hours since the mental status changed",
    "coma_hours": "Hours in coma",
    "intubated_hours": "Hours intubated",
    "dialysis_hours": "Hours of dialysis this course",
    "hours_since_til_infusion": "Hours since the TIL infusion ended",
    "labs.hours_since_drawn": "Labs drawn (hours ago)",
    "findings": "Findings",
    "verified_by": "Second nurse (username)",
    "given_at": "Given at",
    "override_reason": "Override reason",
    "first_dose": "First dose",
    "cycle_end_rule": "End of each cycle",
    "regimen": "Regimen",
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


def label_for(path: str) -> str:
    """The label of a form field named by its path."""
    if path in _LABELS:
        return _LABELS[path]
    if pressor := _PRESSOR.fullmatch(path):
        agent = words(pressor[1]).capitalize()
        return agent + (" now" if pressor[2] == "now" else ", most since the last dose")
    if cell := _CELL.fullmatch(path):
        return _cell_label(cell)
    if lesion := _LESION.fullmatch(path):
        return f"Lesion {int(lesion[1]) + 1} {words(lesion[2])}"
    if path.startswith("assessments["):
        return "RECIST " + path
    return words(path.rsplit(".", 1)[-1]).capitalize()


def choices(values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, words) pairs for a select."""
    return [(v, words(v)) for v in values]
