"""Load codes.toml: il2's fields, units and terms coded in standard code systems.

Every entry names a code system of [systems], a code, the system's display and the source it
was checked in (a key of [sources]). The loader refuses, naming file and field: a term that is
not one of il2's (a field path, unit, diagnosis, rhythm, agent, RECIST category, CTCAE term or
grade the other rule files do not have), a code system a section is not coded in, a term both
coded and listed as unmapped, and a code outside the value set its section is bound to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from il2.domain.coding import CitedCoding, CodeSystem, CodeTable, Coding, Section, ValueSet
from il2.rules.reader import Node

CODES_FILE = "codes.toml"

# The one code system each section is coded in.
SECTION_SYSTEMS: Mapping[Section, str] = {
    Section.FIELDS: "loinc",
    Section.UNITS: "ucum",
    Section.DIAGNOSES: "snomed",
    Section.RHYTHMS: "snomed",
    Section.AGENTS: "rxnorm",
    Section.RESPONSES: "snomed",
    Section.CTCAE_TERMS: "meddra",
    Section.CTCAE_GRADES: "ncit",
}


# Where each section's terms come from, for an error message.
WHERE: Mapping[Section, str] = {
    Section.FIELDS: "a field of screening_input.toml, bedside_input.toml or retreatment.toml",
    Section.UNITS: "a unit of a field of the input files",
    Section.DIAGNOSES: "a value of screening_input.toml `diagnosis`",
    Section.RHYTHMS: "a value of bedside_input.toml `vitals.rhythm`",
    Section.AGENTS: "aldesleukin or an agent of regimens.toml",
    Section.RESPONSES: "a RECIST response category",
    Section.CTCAE_TERMS: "a term of ctcae_v5.toml",
    Section.CTCAE_GRADES: "a CTCAE grade 1 to 5",
}


@dataclass(frozen=True, slots=True)
class KnownTerms:
    """What il2's other rule files name, by section: the only terms codes.toml may code."""

    terms: Mapping[Section, frozenset[str]]


def _systems(node: Node) -> dict[str, CodeSystem]:
    systems = {}
    for name, entry in node.children():
        entry.only("uri", "version", "source")
        systems[name] = CodeSystem(
            name=name,
            uri=entry.text("uri"),
            version=entry.text("version"),
            source=entry.text("source"),
        )
    for section, name in SECTION_SYSTEMS.items():
        if name not in systems:
            raise node.fail(name, f"is required: the code system of [{section.value}]")
    return systems


def _sources(node: Node) -> dict[str, str]:
    return {name: node.text(name) for name in node.data}


def _coding(
    entry: Node, section: Section, systems: Mapping[str, CodeSystem], sources: Mapping[str, str]
) -> CitedCoding:
    entry.only("system", "code", "display", "source")
    system = entry.choice("system", (SECTION_SYSTEMS[section],))
    source = entry.text("source")
    if source not in sources:
        raise entry.fail("source", f"{source!r} is not a source of [sources]")
    return CitedCoding(
        coding=Coding(
            system=systems[system].uri, code=entry.text("code"), display=entry.text("display")
        ),
        source=sources[source],
    )


def _check_term(node: Node, term: str, section: Section, known: KnownTerms) -> None:
    if term not in known.terms[section]:
        raise node.fail(term, f"is not {WHERE[section]}")


def _section(
    node: Node,
    section: Section,
    known: KnownTerms,
    systems: Mapping[str, CodeSystem],
    sources: Mapping[str, str],
) -> dict[str, CitedCoding]:
    codings = {}
    for term, entry in node.children():
        _check_term(node, term, section, known)
        codings[term] = _coding(entry, section, systems, sources)
    return codings


def _unmapped(
    node: Node, known: KnownTerms, codings: Mapping[Section, Mapping[str, CitedCoding]]
) -> dict[Section, dict[str, str]]:
    sections = tuple(s.value for s in Section)
    node.only(*sections)
    unmapped: dict[Section, dict[str, str]] = {}
    for name, table in node.children():
        section = Section(name)
        for term in table.data:
            _check_term(table, term, section, known)
            if term in codings[section]:
                raise table.fail(term, f"is coded in [{name}]; it cannot be unmapped as well")
        unmapped[section] = {term: table.text(term) for term in table.data}
    return unmapped


def _value_sets(
    node: Node,
    systems: Mapping[str, CodeSystem],
    codings: Mapping[Section, Mapping[str, CitedCoding]],
) -> dict[str, ValueSet]:
    value_sets = {}
    for name, entry in node.children():
        entry.only("url", "version", "system", "codes", "binds", "source")
        binds = Section(entry.choice("binds", tuple(s.value for s in Section)))
        system = entry.choice("system", (SECTION_SYSTEMS[binds],))
        value_set = ValueSet(
            name=name,
            url=entry.text("url"),
            version=entry.text("version"),
            system=systems[system].uri,
            codes=frozenset(entry.texts("codes")),
            binds=binds,
            source=entry.text("source"),
        )
        for term, cited in codings[binds].items():
            if cited.coding.code not in value_set.codes:
                raise entry.fail(
                    "codes",
                    f"[{binds.value}] {term} is coded {cited.coding.code}, "
                    f"which is not in the value set {value_set.url}",
                )
        value_sets[name] = value_set
    return value_sets


def code_table(root: Node, known: KnownTerms) -> CodeTable:
    """The code table of a parsed codes.toml, checked against what il2's rule files name."""
    root.only("meta", "systems", "sources", "unmapped", "value_sets", *(s.value for s in Section))
    systems = _systems(root.table("systems"))
    sources = _sources(root.table("sources"))
    codings = {
        section: _section(root.table(section.value), section, known, systems, sources)
        if root.has(section.value)
        else {}
        for section in Section
    }
    unmapped = _unmapped(root.table("unmapped"), known, codings) if root.has("unmapped") else {}
    value_sets = (
        _value_sets(root.table("value_sets"), systems, codings) if root.has("value_sets") else {}
    )
    return CodeTable(
        version=root.table("meta").text("version"),
        systems=systems,
        codings=codings,
        unmapped=unmapped,
        value_sets=value_sets,
    )
