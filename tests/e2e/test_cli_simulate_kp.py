"""`il2 simulate kirschner-panetta` and `il2 simulate sbml` as a real process (contract.md
"Simulation"): JSON out, readable summary, errors naming the option, the SBML file."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).parents[2]
IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"


def il2(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `il2` on this checkout's sources."""
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return subprocess.run(  # noqa: S603 - our own command with fixed arguments
        [IL2, *args], capture_output=True, text=True, check=False, env=env, timeout=120
    )


def test_the_contract_trajectory_as_json() -> None:
    done = il2("simulate", "kirschner-panetta", "--c", "0.025", "--days", "120",
               "--every-days", "0.01", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"t_days", "E", "T", "IL"}
    assert len(result["t_days"]) == 12001
    assert result["t_days"][35] == 0.35
    assert result["t_days"][-1] == 120.0
    assert [result[k][0] for k in ("E", "T", "IL")] == [1.0, 1.0, 1.0]  # defaults 1, 1, 1
    assert all(v >= 0 and math.isfinite(v) for k in ("E", "T", "IL") for v in result[k])


def test_treatment_options_change_the_outcome_and_the_summary_says_so() -> None:
    done = il2("simulate", "kirschner-panetta", "--c", "0.025", "--days", "1000",
               "--every-days", "10", "--s1", "550", "--e0", "18333.33", "--t0", "10",
               "--il0", "0")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tumour gone (below 1 cell) on day" in done.stdout
    assert "s1_cr = 540" in done.stdout


def test_bad_options_exit_2_naming_the_option() -> None:
    for args, field in [
        (("--c", "0.5"), "'c'"),
        (("--c", "0.02", "--every-days", "0"), "'every-days'"),
        (("--c", "0.02", "--t0", "-1"), "'t0'"),
    ]:
        done = il2("simulate", "kirschner-panetta", *args)
        assert done.returncode == 2, done.stderr
        assert field in done.stderr


def test_the_sbml_export_to_a_file_and_to_stdout(tmp_path: Path) -> None:
    target = tmp_path / "kp.xml"
    done = il2("simulate", "sbml", "kirschner-panetta", "--out", str(target))
    assert done.returncode == 0, done.stderr
    root = ET.parse(target).getroot()  # noqa: S314 - our own output
    assert root.tag == "{http://www.sbml.org/sbml/level3/version2/core}sbml"
    assert il2("simulate", "sbml", "kirschner-panetta").stdout == target.read_text()
    wrong = il2("simulate", "sbml", "lorenz")
    assert wrong.returncode == 2
    assert "'model'" in wrong.stderr
