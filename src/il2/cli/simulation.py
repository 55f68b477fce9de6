"""`il2 simulate` and `il2 trial`: the mechanistic simulator on the command line.

Each command imports the science it needs when it runs, so `il2 --help` and the engine commands
start without numpy, scipy or numba (tests/unit/test_cli_imports.py keeps it so).
"""

from __future__ import annotations

import typer

simulate_app = typer.Typer(
    help="The mechanistic model of IL-2 therapy: pharmacokinetics and tumour-immune dynamics.",
    no_args_is_help=True,
)
