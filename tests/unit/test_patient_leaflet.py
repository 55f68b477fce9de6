"""The patient leaflet's data file: every statement sourced and versioned, nothing unknown
accepted, and the site's contact numbers checked."""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.errors import RuleTableError
from il2.rules.leaflet import FILE, load_patient_leaflet, parse_leaflet, site_contacts
from il2.rules.loader import RuleSet, load_rules
from il2.rules.reader import read_bundled


def _bundled() -> dict[str, Any]:
    return copy.deepcopy(read_bundled(FILE))


def test_every_statement_has_text_a_known_source_and_a_version() -> None:
    leaflet = load_patient_leaflet()
    titles = [section.id for section in leaflet.sections]
    assert titles == ["expect", "side_effects", "when_to_call"]
    known = {source.id for source in leaflet.sources}
    for section in leaflet.sections:
        assert section.statements, section.id
        for statement in section.statements:
            assert statement.text.strip()
            assert statement.version.strip()
            assert statement.source in known
    assert all(source.title.strip() for source in leaflet.sources)


def test_footnotes_number_every_source_once_in_the_order_first_cited() -> None:
    leaflet = load_patient_leaflet()
    numbers = leaflet.footnotes()
    assert sorted(numbers.values()) == list(range(1, len(leaflet.sources) + 1))
    first = leaflet.sections[0].statements[0].source
    assert numbers[first] == 1
    assert [number for number, _ in leaflet.cited()] == sorted(numbers.values())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(extra={}), "extra"),
        (lambda d: d["section"][0]["statement"][0].update(note="x"), "section[0].statement[0].note"),
        (lambda d: d["section"][0]["statement"][0].pop("source"), "section[0].statement[0].source"),
        (lambda d: d["section"][0]["statement"][0].pop("version"), "section[0].statement[0].version"),
        (lambda d: d["section"][1]["statement"][0].update(text="  "), "section[1].statement[0].text"),
        (lambda d: d["section"][0]["statement"][0].update(source="blog"), "section[0].statement[0].source"),
        (lambda d: d["source"]["label"].update(url="x"), "source.label.url"),
        (lambda d: d["source"].update(unused={"title": "Never cited"}), "source.unused"),
        (lambda d: d["contact"][0].update(phone="1"), "contact[0].phone"),
    ],
)  # fmt: skip
def test_a_malformed_leaflet_file_is_refused_naming_the_field(change: Any, field: str) -> None:
    data = _bundled()
    change(data)
    with pytest.raises(RuleTableError) as refused:
        parse_leaflet(data)
    assert refused.value.field == field


def _site(tmp_path: Path, body: str) -> RuleSet:
    path = tmp_path / "site.toml"
    path.write_text(body, encoding="utf-8")
    return load_rules(site_policy=path)


def _policies(rules: RuleSet) -> dict[str, Any]:
    return {p.name: p for p in rules.policies}


def test_no_numbers_by_default(rules: RuleSet) -> None:
    assert site_contacts(load_patient_leaflet(), _policies(rules)) == ()


def test_the_numbers_a_site_sets_come_with_their_labels_in_order(tmp_path: Path) -> None:
    rules = _site(
        tmp_path,
        '[policy]\ncontact_out_of_hours_phone = "+44 20 7946 0999"\n'
        'contact_ward_phone = { value = "020 7946 0123", reason = "ward 7" }\n',
    )
    contacts = site_contacts(load_patient_leaflet(), _policies(rules))
    assert [(c.label, c.number) for c in contacts] == [
        ("The ward", "020 7946 0123"),
        ("Out of hours (evenings, nights and weekends)", "+44 20 7946 0999"),
    ]


@pytest.mark.parametrize(
    "value", ['"call the ward"', "2079460123", '"12"', '"0" ', '"1-800-FLOWERS"']
)
def test_a_number_that_is_no_phone_number_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(RuleTableError) as refused:
        _site(tmp_path, f"[policy]\ncontact_ward_phone = {value}\n")
    assert refused.value.field == "policy.contact_ward_phone"


@cache
def _default_rules() -> RuleSet:
    return load_rules()


@given(st.text(alphabet="0123456789 +-().", min_size=0, max_size=40))
def test_a_phone_text_is_kept_exactly_when_it_has_three_digits(text: str) -> None:
    policies = _policies(_default_rules())
    policies["contact_ward_phone"] = dataclasses.replace(policies["contact_ward_phone"], value=text)
    number = text.strip()
    if not number:
        assert site_contacts(load_patient_leaflet(), policies) == ()
    elif sum(c.isdigit() for c in number) >= 3:
        assert site_contacts(load_patient_leaflet(), policies)[0].number == number
    else:
        with pytest.raises(RuleTableError):
            site_contacts(load_patient_leaflet(), policies)


def test_a_site_file_with_a_number_that_is_no_phone_number_stops_il2_at_load(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuleTableError) as refused:
        _site(tmp_path, '[policy]\ncontact_out_of_hours_phone = "ask the porter"\n')
    assert refused.value.field == "policy.contact_out_of_hours_phone"


def test_the_leaflet_version_is_among_the_rule_versions(rules: RuleSet) -> None:
    assert rules.versions["patient_leaflet"] == load_patient_leaflet().version
