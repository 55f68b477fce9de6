"""`il2 --help` and the engine commands start without the database layer or the analytics stack.

Not timed: each case runs in a fresh interpreter and lists the heavy packages it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HEAVY = ("numpy", "scipy", "matplotlib", "pandas", "lifelines", "alembic", "sqlalchemy")
PROBE = """
import contextlib, io, json, sys
from il2.cli.main import app
with contextlib.redirect_stdout(io.StringIO()):
    try:
        app(sys.argv[1:])
    except SystemExit as done:
        assert done.code in (0, None), done.code
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(HEAVY)))))
"""
EXAMPLES = ROOT / "examples"


def _loaded(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(HEAVY))), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


FIRST_DOSE = "2026-12-07T08:00:00-08:00"
COMMANDS = [
    ["--help"],
    ["regimens"],
    ["policy"],
    ["plan", "--regimen", "hd-label", "--weight-kg", "70", "--first-dose", FIRST_DOSE],
    ["screen", str(sorted((EXAMPLES / "candidates").glob("*.json"))[0])],
    ["bedside", str(sorted((EXAMPLES / "bedside").glob("*.json"))[0])],
    ["recist", str(EXAMPLES / "recist" / "partial-response.json")],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_help_and_engine_commands_load_no_database_or_analytics_package(args: list[str]) -> None:
    assert _loaded(*args) == []
