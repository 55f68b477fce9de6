"""`il2 trial` as scripts use it: a real process, JSON on stdout, errors naming the option."""

from __future__ import annotations

import json

import pytest
from tests.e2e.test_cli import il2


def test_trial_prints_rates_with_exact_intervals_and_repeats_for_a_seed() -> None:
    args = ("trial", "--regimen", "hd-label", "--diagnosis", "melanoma",
            "--patients", "300", "--seed", "4", "--json")  # fmt: skip
    first = il2(*args)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["patients"] == 300
    assert set(doc) >= {"orr", "cr_rate", "pr_rate", "seconds"}
    for key in ("orr", "cr_rate", "pr_rate"):
        low, high = doc[key]["ci95"]
        assert 0.0 <= low <= doc[key]["value"] <= high <= 1.0
    counts = doc["counts"]
    assert sum(counts.values()) == 300
    assert doc["orr"]["value"] == pytest.approx((counts["CR"] + counts["PR"]) / 300)
    again = json.loads(il2(*args).stdout)
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in doc.items() if k != "seconds"
    }


@pytest.mark.parametrize(
    ("change", "option"),
    [
        (("--regimen", "civ-eu"), "--regimen"),
        (("--regimen", "no-such"), "--regimen"),
        (("--diagnosis", "glioma"), "--diagnosis"),
        (("--patients", "0"), "--patients"),
        (("--workers", "0"), "--workers"),
        (("--scheduler", "tcp://127.0.0.1:1", "--workers", "2"), "--workers"),
    ],
)
def test_bad_options_are_refused_naming_the_option(change: tuple[str, ...], option: str) -> None:
    base = {"--regimen": "hd-label", "--diagnosis": "melanoma", "--patients": "10", "--seed": "1"}
    args = [item for pair in base.items() for item in pair]
    done = il2("trial", *args, *change, "--json")
    assert done.returncode == 2
    assert f"field '{option}'" in done.stderr
    assert done.stdout == ""
