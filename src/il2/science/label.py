"""The label's published response figures, read from cited data (`data/label_efficacy.toml`)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from il2.domain.errors import RuleTableError
from il2.rules.reader import Node
from il2.science.dataset import DIAGNOSES, Diagnosis

_FILE = "label_efficacy.toml"


@dataclass(frozen=True, slots=True)
class LabelEfficacy:
    """Published responses for one diagnosis: counts, the percentages as printed, the source."""

    diagnosis: Diagnosis
    population: str
    patients: int
    complete: int
    partial: int
    objective: int
    published_orr_pct: int
    published_cr_pct: int
    published_ci95_pct: tuple[int, int] | None
    source: str


def _entry(diagnosis: Diagnosis, node: Node) -> LabelEfficacy:
    node.only(
        "population",
        "patients",
        "complete",
        "partial",
        "objective",
        "published_orr_pct",
        "published_cr_pct",
        "published_ci95_pct",
        "source",
    )
    patients = node.integer("patients", minimum=1)
    complete, partial = node.integer("complete"), node.integer("partial")
    objective = node.integer("objective")
    if objective != complete + partial:
        raise node.fail("objective", f"{objective} is not complete + partial")
    if objective > patients:
        raise node.fail("objective", f"{objective} is more than the {patients} patients")
    ci = node.integers("published_ci95_pct") if node.has("published_ci95_pct") else None
    if ci is not None and (len(ci) != 2 or ci[0] > ci[1]):
        raise node.fail("published_ci95_pct", "must be [lower, upper]")
    return LabelEfficacy(
        diagnosis=diagnosis,
        population=node.text("population"),
        patients=patients,
        complete=complete,
        partial=partial,
        objective=objective,
        published_orr_pct=node.integer("published_orr_pct"),
        published_cr_pct=node.integer("published_cr_pct"),
        published_ci95_pct=(ci[0], ci[1]) if ci is not None else None,
        source=node.text("source"),
    )


def parse_label(text: str, *, file: str = _FILE) -> dict[Diagnosis, LabelEfficacy]:
    """Validate a label efficacy file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", *DIAGNOSES)
    root.table("meta").text("reference")
    return {diagnosis: _entry(diagnosis, root.table(diagnosis)) for diagnosis in DIAGNOSES}


@cache
def label_efficacy() -> Mapping[Diagnosis, LabelEfficacy]:
    """The bundled label figures, by diagnosis (read once, read-only)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return MappingProxyType(parse_label(text))
