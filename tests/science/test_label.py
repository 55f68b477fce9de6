"""The label's efficacy figures are cited data, validated when read."""

from __future__ import annotations

import pytest

from il2.domain.errors import RuleTableError
from il2.science.label import label_efficacy, parse_label

GOOD = """
[meta]
reference = "x"
[renal_cell_carcinoma]
population = "p"
patients = 255
complete = 17
partial = 20
objective = 37
published_orr_pct = 15
published_cr_pct = 7
source = "s"
[melanoma]
population = "p"
patients = 270
complete = 17
partial = 26
objective = 43
published_orr_pct = 16
published_cr_pct = 6
published_ci95_pct = [12, 21]
source = "s"
"""


def test_the_bundled_figures_are_the_labels_renal_and_melanoma_pools() -> None:
    label = label_efficacy()
    renal, melanoma = label["renal_cell_carcinoma"], label["melanoma"]
    assert (renal.patients, renal.objective, renal.complete, renal.partial) == (255, 37, 17, 20)
    assert (melanoma.patients, melanoma.objective, melanoma.complete, melanoma.partial) == (
        270,
        43,
        17,
        26,
    )
    assert melanoma.published_ci95_pct == (12, 21)
    assert renal.published_ci95_pct is None


def test_every_bundled_figure_names_its_source() -> None:
    assert all(entry.source.strip() for entry in label_efficacy().values())


def test_a_valid_file_parses() -> None:
    assert parse_label(GOOD)["melanoma"].objective == 43


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("objective = 43", "objective = 44"), "melanoma.objective"),
        (("patients = 270", "patients = 40"), "melanoma.objective"),
        (('source = "s"\n[melanoma]', "[melanoma]"), "renal_cell_carcinoma.source"),
        (
            ("published_ci95_pct = [12, 21]", "published_ci95_pct = [21, 12]"),
            "melanoma.published_ci95_pct",
        ),
        (("partial = 26", "partial = 26\npartail = 1"), "melanoma.partail"),
    ],
)
def test_a_bad_file_fails_naming_the_field(change: tuple[str, str], field: str) -> None:
    with pytest.raises(RuleTableError) as raised:
        parse_label(GOOD.replace(*change))
    assert raised.value.field == field


def test_a_syntax_error_names_the_file() -> None:
    with pytest.raises(RuleTableError, match=r"label_efficacy\.toml"):
        parse_label("[melanoma")
