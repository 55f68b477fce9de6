"""The bulk export's site settings: their defaults, a site's value, and a value out of range
refused naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from il2.domain.errors import RuleTableError
from il2.rules.loader import RuleSet, load_rules


def test_the_defaults_keep_files_a_day_and_read_fifty_patients_a_batch(rules: RuleSet) -> None:
    assert rules.exports.expiry_h == 24
    assert rules.exports.batch_patients == 50


def test_a_site_sets_both(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        '[policy]\nexport_expiry_h = { value = 2, reason = "files leave the site at once" }\n'
        "export_batch_patients = 10\n",
        encoding="utf-8",
    )
    found = load_rules(site_policy=site).exports
    assert (found.expiry_h, found.batch_patients) == (2, 10)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("export_expiry_h = 0", "policy.export_expiry_h"),
        ("export_expiry_h = 721", "policy.export_expiry_h"),
        ("export_batch_patients = 0", "policy.export_batch_patients"),
        ("export_batch_patients = 2.5", "policy.export_batch_patients"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_setting(
    tmp_path: Path, line: str, field: str
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f"[policy]\n{line}\n", encoding="utf-8")
    with pytest.raises(RuleTableError) as refused:
        load_rules(site_policy=site)
    assert refused.value.field == field
