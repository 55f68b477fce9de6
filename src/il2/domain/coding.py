"""Codes from standard code systems (LOINC, SNOMED CT, UCUM, MedDRA, NCI Thesaurus, RxNorm) for
il2's own fields, units and terms, each with the source where it was checked.

The mapping itself is cited data (`rules/data/codes.toml`); these are the frozen values an edge
(FHIR, CDS Hooks) reads. A term il2 has no verified code for is absent here and listed with the
reason in `CodeTable.unmapped`, so that an edge leaves the coding out rather than guesses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Section(StrEnum):
    """What kind of il2 term a mapping codes; each kind is coded in one code system."""

    FIELDS = "fields"
    UNITS = "units"
    DIAGNOSES = "diagnoses"
    RHYTHMS = "rhythms"
    AGENTS = "agents"
    RESPONSES = "responses"
    CTCAE_TERMS = "ctcae_terms"
    CTCAE_GRADES = "ctcae_grades"


@dataclass(frozen=True, slots=True)
class Coding:
    """One code of a code system, as FHIR writes a Coding: the system's URI, the code, and the
    code system's own display for it."""

    system: str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class CodeSystem:
    """A code system il2 codes in: its FHIR URI and the version the codes were checked in."""

    name: str
    uri: str
    version: str
    source: str


@dataclass(frozen=True, slots=True)
class CitedCoding:
    """A coding of one il2 term, with the source where the code and its display were checked."""

    coding: Coding
    source: str


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A small published value set il2 binds one section's codes to."""

    name: str
    url: str
    version: str
    system: str
    codes: frozenset[str]
    binds: Section
    source: str


@dataclass(frozen=True, slots=True)
class CodeTable:
    """Every code il2 maps its terms to, by section and il2 term, with the terms left unmapped
    (and why) and the value sets the codes are bound to."""

    version: str
    systems: Mapping[str, CodeSystem]
    codings: Mapping[Section, Mapping[str, CitedCoding]]
    unmapped: Mapping[Section, Mapping[str, str]]
    value_sets: Mapping[str, ValueSet]

    def coding(self, section: Section, term: str) -> Coding | None:
        """The coding of `term` in `section`, or None when il2 has no verified code for it."""
        cited = self.codings.get(section, {}).get(term)
        return None if cited is None else cited.coding
