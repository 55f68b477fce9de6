"""`il2 simulate pk` as a real process: the contract's JSON, a table, and named errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"


def il2(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `il2` console script on this checkout's code."""
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(  # noqa: S603 - our own command with fixed arguments
        [IL2, "simulate", "pk", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def pk_json(*args: str) -> dict[str, Any]:
    done = il2(*args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_label_regimen_peaks_at_the_end_of_its_15_minute_infusion() -> None:
    out = pk_json(
        "--regimen", "hd-label", "--weight-kg", "70", "--hours", "24", "--every-min", "15"
    )
    assert set(out) == {"t_min", "concentration_iu_ml", "concentration_nm"}
    assert out["t_min"][:3] == [0.0, 15.0, 30.0]
    assert len(out["t_min"]) == 24 * 4 + 1
    c = out["concentration_iu_ml"]
    assert c[0] == 0.0
    assert max(c[:32]) == c[1]  # the end of the first infusion, highest of the first 8 h
    assert max(c) < 1.01 * c[1]  # the residual at 8 h adds little
    # 42 MIU into V1 = 2.77 L, less what leaves in 15 min: ~10,600 IU/mL, ~42 nM
    assert 9_000 < c[1] < 42e6 / 2770
    assert out["concentration_nm"][1] == pytest.approx(c[1] / 250.92, rel=1e-3)
    # three doses in 24 h (0, 8 and 16 h): the level rises again at 8 h 15 min
    assert c[33] > 100 * c[32]


def test_an_ideal_bolus_of_1e6_iu_m2_equivalent_starts_at_dose_over_v1() -> None:
    out = pk_json(
        "--regimen",
        "sbrt-hd",
        "--weight-kg",
        "70",
        "--hours",
        "1",
        "--every-min",
        "30",
        "--infusion-min",
        "0",
    )
    assert out["concentration_iu_ml"][0] == pytest.approx(600_000 * 70 / 2770, rel=1e-6)


def test_a_subcutaneous_regimen_stays_low_and_a_table_is_the_default() -> None:
    out = pk_json(
        "--regimen", "ld-sc-nci", "--weight-kg", "70", "--hours", "24", "--every-min", "60"
    )
    bolus_peak = 250_000 * 70 / 2770
    assert 0 < max(out["concentration_iu_ml"]) <= 0.021 * bolus_peak
    shown = il2("--regimen", "ld-sc-nci", "--weight-kg", "70", "--hours", "2", "--every-min", "60")
    assert shown.returncode == 0, shown.stderr
    assert "IU/mL" in shown.stdout
    assert "nM" in shown.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["--regimen", "hd-label", "--weight-kg", "70", "--hours", "0", "--every-min", "5"],
            "--hours",
        ),
        (
            ["--regimen", "hd-label", "--weight-kg", "70", "--hours", "2", "--every-min", "x"],
            "--every-min",
        ),
        (
            ["--regimen", "hd-label", "--weight-kg", "5", "--hours", "2", "--every-min", "5"],
            "--weight-kg",
        ),
        (
            ["--regimen", "civ-eu", "--weight-kg", "70", "--hours", "2", "--every-min", "5"],
            "--height-cm",
        ),
        (
            [
                "--regimen",
                "hd-label",
                "--weight-kg",
                "70",
                "--hours",
                "2",
                "--every-min",
                "5",
                "--infusion-min",
                "-3",
            ],
            "--infusion-min",
        ),
        (
            ["--regimen", "intralesional", "--weight-kg", "70", "--hours", "2", "--every-min", "5"],
            "--regimen",
        ),
    ],
)
def test_bad_options_are_refused_naming_the_option(args: list[str], named: str) -> None:
    done = il2(*args)
    assert done.returncode == 2
    assert f"'{named}'" in done.stderr
    assert done.stdout == ""
