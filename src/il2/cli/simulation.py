"""`il2 simulate` and `il2 trial`: the mechanistic simulator on the command line.

Each command imports the science it needs when it runs, so `il2 --help` and the engine commands
start without numpy, scipy or numba (tests/unit/test_cli_imports.py keeps it so).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

simulate_app = typer.Typer(
    help="The mechanistic model of IL-2 therapy: pharmacokinetics and tumour-immune dynamics.",
    no_args_is_help=True,
)


def trial(  # noqa: PLR0917 - typer takes each option as a parameter
    regimen: Annotated[
        str, typer.Option(help="Regimen id (il2 regimens), e.g. hd-label, ld-iv-nci, sbrt-hd.")
    ],
    diagnosis: Annotated[str, typer.Option(help="melanoma or renal_cell_carcinoma.")],
    patients: Annotated[int, typer.Option(help="Virtual patients (1 or more).")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")],
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes of a local Dask cluster (1: this process)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (instead of --workers)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """A virtual trial of one regimen: ORR, CR and PR rates with exact 95% intervals.

    Virtual patients of the calibrated population (data/population.toml) are treated with one
    course of the regimen by the mechanistic model and read out by RECIST 1.1. A progress bar
    goes to stderr; stdout carries only the result.
    """
    from rich.console import Console  # noqa: PLC0415 - only this command draws
    from rich.progress import MofNCompleteColumn, Progress  # noqa: PLC0415

    from il2.bootstrap import site_rules  # noqa: PLC0415 - the composition root, storage-free
    from il2.cli.errors import reported  # noqa: PLC0415
    from il2.domain.errors import InvalidInputError  # noqa: PLC0415

    with reported():
        if workers is not None and scheduler is not None:
            raise InvalidInputError(
                field="--workers",
                value=workers,
                allowed="either --workers or --scheduler, not both",
            )
        for option, value in (("--patients", patients), ("--workers", workers)):
            if value is not None and value < 1:
                raise InvalidInputError(field=option, value=value, allowed="1 or more")
        if seed < 0:
            raise InvalidInputError(field="--seed", value=seed, allowed="0 or more")
        rules = site_rules()
        from il2.science.mechanism.trial import Arm, run_trial  # noqa: PLC0415 - numba

        stderr = Console(stderr=True)
        columns = (*Progress.get_default_columns(), MofNCompleteColumn())
        with Progress(
            *columns, console=stderr, transient=True, disable=not stderr.is_terminal
        ) as bar:
            task = bar.add_task("virtual patients", total=patients)
            try:
                result = run_trial(
                    [Arm(regimen)], diagnosis, patients, seed, workers=workers,
                    scheduler=scheduler, rules=rules,
                    progress=lambda done, _total: bar.update(task, completed=done),
                )  # fmt: skip
            except InvalidInputError as error:
                if error.field not in _OPTIONS:
                    raise
                raise InvalidInputError(
                    field=f"--{error.field}", value=error.value, allowed=error.allowed
                ) from None
    arm = result.arms[0]
    document = {
        "patients": result.patients,
        "regimen": regimen,
        "diagnosis": diagnosis,
        "seed": seed,
        "counts": dict(arm.counts),
        "orr": arm.orr.as_json(),
        "cr_rate": arm.cr_rate.as_json(),
        "pr_rate": arm.pr_rate.as_json(),
        "seconds": round(result.seconds, 3),
    }
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    typer.echo(
        f"{regimen} in {diagnosis}, {patients} virtual patients (seed {seed}): "
        f"ORR {_pct(arm.orr.value, arm.orr.ci95)}, CR {_pct(arm.cr_rate.value, arm.cr_rate.ci95)}, "
        f"PR {_pct(arm.pr_rate.value, arm.pr_rate.ci95)} ({result.seconds:.1f} s)"
    )


_OPTIONS = ("regimen", "diagnosis", "patients", "seed", "workers")


def _pct(value: float, ci: tuple[float, float]) -> str:
    return f"{100 * value:.1f}% (95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f})"
