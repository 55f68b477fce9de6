"""The patient leaflet's words (what to expect, side effects, when to call) and its contacts.

Content only: each statement carries its source id and the version of its wording, and the
leaflet prints the source as a footnote number. The numbers to call are site settings
(`policy.contact_*`, blank by default), checked here so a typo fails at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from il2.domain.errors import RuleTableError
from il2.rules.reader import Node, read_bundled
from il2.rules.site import PolicySetting

FILE = "patient_leaflet.toml"
_PHONE_CHARACTERS = frozenset("0123456789 +-().")
_PHONE_MAX = 40
_PHONE_MIN_DIGITS = 3


@dataclass(frozen=True, slots=True)
class LeafletSource:
    """Where statements come from, listed at the foot of the leaflet."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Statement:
    """One plain-language sentence or two, with its source id and wording version."""

    text: str
    source: str
    version: str


@dataclass(frozen=True, slots=True)
class LeafletSection:
    """A heading of the leaflet and its statements, in order."""

    id: str
    title: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class ContactSlot:
    """A number the leaflet prints: the site setting holding it and its label."""

    setting: str
    label: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A configured number to call, with its label."""

    label: str
    number: str


@dataclass(frozen=True, slots=True)
class PatientLeaflet:
    """The leaflet file, validated: sources, sections and the contact slots."""

    version: str
    sources: tuple[LeafletSource, ...]
    sections: tuple[LeafletSection, ...]
    contacts: tuple[ContactSlot, ...]

    def footnotes(self) -> dict[str, int]:
        """Each source's footnote number, in the order the statements first cite it."""
        numbers: dict[str, int] = {}
        for section in self.sections:
            for statement in section.statements:
                numbers.setdefault(statement.source, len(numbers) + 1)
        return numbers

    def cited(self) -> list[tuple[int, LeafletSource]]:
        """The sources with their footnote numbers, for the list at the foot."""
        by_id = {source.id: source for source in self.sources}
        return [(number, by_id[key]) for key, number in self.footnotes().items()]


def _sources(root: Node) -> tuple[LeafletSource, ...]:
    found = []
    for key, node in root.table("source").children():
        node.only("title")
        found.append(LeafletSource(id=key, title=node.text("title")))
    return tuple(found)


def _section(node: Node, known: frozenset[str]) -> LeafletSection:
    node.only("id", "title", "statement")
    statements = []
    for item in node.tables("statement"):
        item.only("text", "source", "version")
        source = item.text("source")
        if source not in known:
            raise item.fail("source", f"{source!r} is not a [source.<id>] of this file")
        statements.append(Statement(item.text("text"), source, item.text("version")))
    return LeafletSection(node.text("id"), node.text("title"), tuple(statements))


def parse_leaflet(data: Mapping[str, object], file: str = FILE) -> PatientLeaflet:
    """Validate a parsed leaflet file: known keys only, every statement sourced and versioned,
    every source cited at least once."""
    root = Node(data, file)
    root.only("meta", "source", "section", "contact")
    meta = root.table("meta")
    meta.only("version", "description")
    sources = _sources(root)
    known = frozenset(source.id for source in sources)
    sections = tuple(_section(node, known) for node in root.tables("section"))
    cited = {s.source for section in sections for s in section.statements}
    for source in sources:
        if source.id not in cited:
            raise root.table("source").fail(source.id, "is listed but no statement cites it")
    contacts = []
    for node in root.tables("contact"):
        node.only("setting", "label")
        contacts.append(ContactSlot(node.text("setting"), node.text("label")))
    return PatientLeaflet(meta.text("version"), sources, sections, tuple(contacts))


def load_patient_leaflet() -> PatientLeaflet:
    """The bundled leaflet file, validated."""
    return parse_leaflet(read_bundled(FILE))


def _phone_number(setting: PolicySetting) -> str:
    value = setting.value
    field = f"policy.{setting.name}"
    if not isinstance(value, str):
        raise RuleTableError(
            file=setting.origin, field=field, problem=f"must be a phone number text, not {value!r}"
        )
    number = value.strip()
    digits = sum(character.isdigit() for character in number)
    if number and (
        len(number) > _PHONE_MAX
        or not set(number) <= _PHONE_CHARACTERS
        or digits < _PHONE_MIN_DIGITS
    ):
        raise RuleTableError(
            file=setting.origin,
            field=field,
            problem=f"{value!r} is not a phone number: expected up to {_PHONE_MAX} characters of "
            f"digits (at least {_PHONE_MIN_DIGITS}), spaces and + - ( ) ., or blank for none",
        )
    return number


def site_contacts(
    leaflet: PatientLeaflet, policies: Mapping[str, PolicySetting]
) -> tuple[Contact, ...]:
    """The numbers the site has set, in the leaflet's order; blank settings are left out."""
    found = []
    for slot in leaflet.contacts:
        if slot.setting not in policies:
            raise RuleTableError(
                file=FILE, field="contact.setting", problem=f"{slot.setting!r} is no site setting"
            )
        number = _phone_number(policies[slot.setting])
        if number:
            found.append(Contact(slot.label, number))
    return tuple(found)
