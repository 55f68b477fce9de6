"""Forms to contract documents and back, driven by the rule tables' field specs.

A form field is named by its dotted path (`vitals.spo2_pct`), so an InvalidInputError from an
engine names the very input to mark. Empty inputs are left out of the document: what missing
means is the rules' job, never the form's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError, InvalidInputsError
from il2.domain.findings import FieldSpec, FieldType, read_value
from il2.rules.findings_display import FindingSystem

NONE_OF_THESE = "__none__"  # a reviewed list with nothing ticked: [] rather than missing
_INTEGER = re.compile(r"[+-]?\d+")
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")

_SECTIONS = {
    "age_years": "Patient",
    "diagnosis": "Patient",
    "metastatic": "Patient",
    "ecog": "Patient",
    "weight_kg": "Patient",
    "karnofsky": "Patient",
    "labs": "Labs",
    "history": "History and earlier therapy",
    "tumour": "Tumour",
    "cardiac": "Cardiac work-up",
    "pulmonary": "Pulmonary work-up",
    "brain_imaging": "Other criteria",
    "hypersensitivity_to_aldesleukin": "Other criteria",
    "conditions": "Other criteria",
    "medications": "Other criteria",
    "supplemental_oxygen": "Other criteria",
    "pregnant": "Other criteria",
    "vitals": "Vital signs",
    "urine_output_ml_last_8h": "Fluid balance",
    "vasopressors": "Pressors and oxygen",
    "oxygen_l_min": "Pressors and oxygen",
    "mental_status": "Neurological and airway",
    "mental_status_change_hours": "Neurological and airway",
    "coma_hours": "Neurological and airway",
    "intubated_hours": "Neurological and airway",
    "dialysis_hours": "Fluid balance",
    "hours_since_til_infusion": "After TIL therapy",
    "baseline": "Baseline (from the plan and screening)",
    "findings": "Findings",
    "held_for": "Earlier holds",
}
_BEDSIDE_SECTIONS = {"weight_kg": "Fluid balance", "medications": "Supportive medicines"}
PRESSORS_NONE = "vasopressors.none"  # ticked: no vasopressor runs now or ran since the last dose


@dataclass(frozen=True, slots=True)
class Section:
    """Fields shown together under one heading."""

    title: str
    fields: tuple[FieldSpec, ...]


def sections(
    specs: Mapping[str, FieldSpec], *, skip: Collection[str] = (), bedside: bool = False
) -> list[Section]:
    """The specs grouped for display, in the order the rule file lists them."""
    grouped: dict[str, list[FieldSpec]] = {}
    for path, spec in specs.items():
        if path in skip:
            continue
        head = path.split(".")[0]
        title = (_BEDSIDE_SECTIONS if bedside else {}).get(path) or _SECTIONS.get(head, "Other")
        grouped.setdefault(title, []).append(spec)
    return [Section(title, tuple(fields)) for title, fields in grouped.items()]


@dataclass(frozen=True, slots=True)
class TermGroup:
    """Terms of a list field shown together: an organ system's findings, in clinical words."""

    title: str
    terms: tuple[tuple[str, str], ...]


def term_groups(spec: FieldSpec, systems: tuple[FindingSystem, ...]) -> list[TermGroup]:
    """The spec's terms by system in the display file's order; any it does not word, last."""
    accepted = set(spec.values)
    groups = [
        TermGroup(s.title, tuple((c, w) for c, w in s.terms if c in accepted)) for s in systems
    ]
    shown = {code for group in groups for code, _ in group.terms}
    rest = tuple((code, code.replace("_", " ")) for code in spec.values if code not in shown)
    if rest:
        groups.append(TermGroup("Other", rest))
    return [group for group in groups if group.terms]


def number(raw: str, *, field: str, allowed: str) -> int | float:
    """A number typed into a form, as a JSON number (the engines read it exactly)."""
    text = raw.strip().replace(" ", "")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(field=field, value=raw, allowed=allowed) from None
    if not math.isfinite(value):
        raise InvalidInputError(field=field, value=raw, allowed=allowed)
    return value


def _read(spec: FieldSpec, form: FormData) -> Any:
    if spec.type is FieldType.TERMS:
        ticked = [str(v) for v in form.getlist(spec.path)]
        if not ticked:
            return None
        return [v for v in ticked if v != NONE_OF_THESE]
    raw = str(form.get(spec.path) or "").strip()
    if not raw:
        return None
    if spec.type in (FieldType.NUMBER, FieldType.INTEGER):
        return number(raw, field=spec.path, allowed=spec.describe())
    if spec.type is FieldType.FLAG:
        if raw not in ("yes", "no"):
            raise InvalidInputError(field=spec.path, value=raw, allowed="yes or no")
        return raw == "yes"
    return raw


def check_all(
    form: FormData, specs: Mapping[str, FieldSpec], *, skip: Collection[str] = ()
) -> None:
    """Refuse the form naming every field it cannot use at once, not only the first."""
    problems: dict[str, str] = {}
    for path, spec in specs.items():
        if path in skip:
            continue
        try:
            value = _read(spec, form)
            if value is not None:
                read_value(spec, value)
        except InvalidInputError as error:
            problems[path] = error.allowed
    if problems:
        raise InvalidInputsError(problems)


def each_field(error: InvalidInputError | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Each field's own error, with what was typed there, so each shows beside its field."""
    if error is None:
        return {}
    if not isinstance(error, InvalidInputsError):
        return {error.field: error}
    return {
        field: InvalidInputError(field=field, value=values.get(field, ""), allowed=allowed)
        for field, allowed in error.problems.items()
    }


def put(document: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted path, making the nested objects on the way."""
    *parents, leaf = path.split(".")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def document(
    form: FormData, specs: Mapping[str, FieldSpec], *, skip: Collection[str] = ()
) -> dict[str, Any]:
    """The contract document the form describes; empty inputs left out."""
    result: dict[str, Any] = {}
    for path, spec in specs.items():
        if path in skip:
            continue
        value = _read(spec, form)
        if value is not None:
            put(result, path, value)
    return result


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A contract document as form values (the inverse of `document`)."""
    values: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            values.update(flatten(value, f"{path}."))
        elif isinstance(value, bool):
            values[path] = "yes" if value else "no"
        elif isinstance(value, list):
            values[path] = [str(v) for v in value] or [NONE_OF_THESE]
        elif value is not None:
            values[path] = str(value)
    return values


def pressor_list(form: FormData, agents: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The vasopressors typed into the form as the assessment lists them; None when unsaid."""
    listed = []
    for agent, unit in agents.items():
        item: dict[str, Any] = {}
        for key in (f"now_{unit}", f"max_since_last_dose_{unit}"):
            path = f"vasopressors.{agent}.{key}"
            raw = text(form, path)
            if raw:
                item[key] = number(raw, field=path, allowed=f"a dose in {unit.replace('_', '/')}")
        if item:
            listed.append({"agent": agent, **item})
    if listed:
        return listed
    return [] if text(form, PRESSORS_NONE) else None


def text(form: FormData, name: str) -> str:
    """One text input, trimmed ('' when absent)."""
    return str(form.get(name) or "").strip()
