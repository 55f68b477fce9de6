"""SMART resource scopes (il2.domain.scopes): the cases in smart_scopes.toml, then properties.

Source: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.domain.scopes import (
    CONTEXTS,
    INTERACTIONS,
    V1_SUFFIXES,
    needed,
    parse_scope,
    parse_scopes,
)
from il2.services.accounts import TOKEN_CONTEXTS

CASES: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "smart_scopes.toml").read_text(encoding="utf-8")
)["case"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['scope']!r}-{c['interaction']}" for c in CASES])
def test_the_conformance_case(case: dict[str, Any]) -> None:
    if case["expect"] == "invalid":
        with pytest.raises(InvalidInputError) as refused:
            parse_scopes(case["scope"], contexts=TOKEN_CONTEXTS)
        assert refused.value.field == "scope"
        return
    scopes = parse_scopes(case["scope"], contexts=TOKEN_CONTEXTS)
    assert scopes.grants(case["type"], case["interaction"]) is (case["expect"] == "granted")


TYPES = st.from_regex(r"[A-Z][A-Za-z]{0,20}", fullmatch=True)
SUBSETS = st.sets(st.sampled_from(INTERACTIONS), min_size=1).map(
    lambda letters: "".join(letter for letter in INTERACTIONS if letter in letters)
)
ONE = st.sampled_from(INTERACTIONS)


@given(context=st.sampled_from(CONTEXTS), kind=TYPES, granted=SUBSETS, other=TYPES, asked=ONE)
def test_a_scope_never_grants_a_type_or_interaction_it_does_not_name(
    context: str, kind: str, granted: str, other: str, asked: str
) -> None:
    scope = parse_scope(f"{context}/{kind}.{granted}")
    assert scope.grants(other, asked) is (other == kind and asked in granted)


@given(context=st.sampled_from(CONTEXTS), granted=SUBSETS, kind=TYPES, asked=ONE)
def test_the_wildcard_grants_every_type_what_it_names(
    context: str, granted: str, kind: str, asked: str
) -> None:
    assert parse_scope(f"{context}/*.{granted}").grants(kind, asked) is (asked in granted)


@given(
    context=st.sampled_from(CONTEXTS),
    kind=st.one_of(TYPES, st.just("*")),
    v1=st.sampled_from(sorted(V1_SUFFIXES)),
)
def test_a_v1_suffix_means_its_v2_interactions(context: str, kind: str, v1: str) -> None:
    old = parse_scope(f"{context}/{kind}.{v1}")
    assert old == parse_scope(f"{context}/{kind}.{V1_SUFFIXES[v1]}")


@given(kind=TYPES, asked=ONE)
def test_v1_read_grants_exactly_what_v2_rs_grants(kind: str, asked: str) -> None:
    assert parse_scope(f"user/{kind}.read").grants(kind, asked) is (asked in "rs")


@given(scopes=st.lists(st.tuples(TYPES, SUBSETS), min_size=1, max_size=6), kind=TYPES, asked=ONE)
def test_scopes_grant_the_union_of_what_each_grants(
    scopes: list[tuple[str, str]], kind: str, asked: str
) -> None:
    text = " ".join(f"user/{k}.{g}" for k, g in scopes)
    parsed = parse_scopes(text)
    assert parsed.grants(kind, asked) is any(k == kind and asked in g for k, g in scopes)
    assert parse_scopes(parsed.text) == parsed


@given(junk=st.text(max_size=40))
def test_any_text_is_either_scopes_or_refused_naming_the_field(junk: str) -> None:
    refused: InvalidInputError | None = None
    try:
        parse_scopes(junk)
    except InvalidInputError as error:
        refused = error
    assert refused is None or refused.field == "scope"


@given(kind=TYPES, asked=ONE)
def test_the_scope_a_refusal_names_grants_what_was_refused(kind: str, asked: str) -> None:
    assert parse_scope(needed(kind, asked)).grants(kind, asked)


def test_a_scope_string_of_too_many_scopes_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_scopes(" ".join(f"user/T{n}.r" for n in range(51)))


def test_a_scope_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_scopes(["user/*.rs"])


def test_a_scope_string_over_the_length_limit_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_scopes("user/*.rs " * 300)
