"""Benchmark: how long `il2` takes to start, for --help and each engine command.

Target (issue 16): under 0.7 s each. Every command runs as a fresh process, as a person at a
terminal runs it; the figure is the median of five runs, wall-clock, output discarded.

Prints figures; asserts nothing (targets are judged by people reading the numbers).
Run with `make bench`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"
COMMANDS = {
    "il2 --help": ["--help"],
    "il2 regimens": ["regimens"],
    "il2 plan": ["plan", "--regimen", "hd-label", "--weight-kg", "70",
                 "--first-dose", "2026-12-07T08:00:00-08:00"],
    "il2 screen": ["screen", str(sorted((EXAMPLES / "candidates").glob("*.json"))[0])],
    "il2 bedside": ["bedside", str(sorted((EXAMPLES / "bedside").glob("*.json"))[0])],
    "il2 recist": ["recist", str(EXAMPLES / "recist" / "partial-response.json")],
    "il2 policy": ["policy"],
}  # fmt: skip


def _seconds(args: list[str]) -> float:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(  # noqa: S603 - the installed il2 with fixed arguments
            [IL2, *args], capture_output=True, check=True, timeout=120
        )
        timings.append(time.perf_counter() - start)
    return median(timings)


def main() -> None:
    """Time each command's start-up and print one line each."""
    print("CLI start-up (median of 5 fresh processes; target under 0.7 s)")
    for label, args in COMMANDS.items():
        print(f"{label:<38} {_seconds(args):>8.2f} s")


if __name__ == "__main__":
    main()
