"""`il2 simulate` and `il2 trial`: the mechanistic simulator on the command line.

Each command imports the science it needs when it runs, so `il2 --help` and the engine commands
start without numpy, scipy or numba (tests/unit/test_cli_imports.py keeps it so).
"""

from __future__ import annotations

from typing import Annotated

import typer

simulate_app = typer.Typer(
    help="The mechanistic model of IL-2 therapy: pharmacokinetics and tumour-immune dynamics.",
    no_args_is_help=True,
)


_KP_MODELS = ("kirschner-panetta",)


def _kp_option(name: str, value: float, *, positive: bool = False) -> float:
    """An option's value checked to be a finite number >= 0 (> 0 when `positive`)."""
    import math  # noqa: PLC0415

    from il2.domain.errors import InvalidInputError  # noqa: PLC0415

    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        allowed = f"a finite number {'> 0' if positive else '>= 0'}"
        raise InvalidInputError(field=name, value=value, allowed=allowed)
    return value


@simulate_app.command("kirschner-panetta")
def kirschner_panetta(  # noqa: PLR0917 - typer takes each option as a parameter
    c: Annotated[float, typer.Option("--c", help="Tumour antigenicity c, per day (0 to 0.05).")],
    days: Annotated[float, typer.Option(help="Days to simulate from day 0.")] = 120.0,
    every_days: Annotated[float, typer.Option(help="Output spacing in days.")] = 1.0,
    s1: Annotated[float, typer.Option("--s1", help="Adoptive cell influx, cells/day.")] = 0.0,
    s2: Annotated[float, typer.Option("--s2", help="IL-2 input, model units/day.")] = 0.0,
    t0: Annotated[float, typer.Option("--t0", help="Initial tumour cells.")] = 1.0,
    e0: Annotated[float, typer.Option("--e0", help="Initial effector cells.")] = 1.0,
    il0: Annotated[float, typer.Option("--il0", help="Initial IL-2 (model units).")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trajectory as JSON.")] = False,
) -> None:
    """Kirschner & Panetta 1998 (original parameters): effectors E, tumour T, IL-2 IL over time.

    Integrated in ln T (LSODA, rtol 1e-10, atol 1e-12); a tumour below 1 cell is gone (T = 0).
    """
    import json  # noqa: PLC0415

    from il2.cli.errors import reported  # noqa: PLC0415

    with reported():
        import numpy as np  # noqa: PLC0415 - the science stack, only when simulating

        from il2.domain.errors import InvalidInputError  # noqa: PLC0415
        from il2.science.mechanism.kirschner_panetta import (  # noqa: PLC0415
            critical_s1,
            il2_alone_threshold_s2,
            kp_parameters,
            simulate,
        )

        span = _kp_option("days", days, positive=True)
        step = _kp_option("every-days", every_days, positive=True)
        if span / step > 1_000_000:
            raise InvalidInputError(
                field="every-days",
                value=every_days,
                allowed="at most 1,000,000 outputs over --days",
            )
        initial = (_kp_option("e0", e0), _kp_option("t0", t0), _kp_option("il0", il0))
        p = kp_parameters(c, s1=_kp_option("s1", s1), s2=_kp_option("s2", s2))
        count = int(np.floor(span / step + 1e-9)) + 1
        times = np.round(np.arange(count) * step, 12)
        if times[-1] < span - 1e-9 * span:
            times = np.append(times, span)
        run = simulate(p, initial, times)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "t_days": run.t_days.tolist(),
                    "E": run.E.tolist(),
                    "T": run.T.tolist(),
                    "IL": run.IL.tolist(),
                }
            )
        )
        return
    fate = (
        f"tumour gone (below 1 cell) on day {run.extinct_day:.2f}"
        if run.extinct_day == run.extinct_day
        else "tumour present at the end"
    )
    typer.echo(
        f"Kirschner-Panetta 1998, c = {c:g}/day, s1 = {s1:g}, s2 = {s2:g}, "
        f"{run.t_days.size} outputs over {span:g} days"
    )
    typer.echo(
        f"  day {span:g}: E = {run.E[-1]:.4g} cells, T = {run.T[-1]:.4g} cells, "
        f"IL = {run.IL[-1]:.4g}"
    )
    typer.echo(f"  tumour: max {run.T.max():.4g} cells, min {run.T.min():.4g}; {fate}")
    typer.echo(
        f"  thresholds: s1_cr = {critical_s1(p):g} cells/day; "
        f"IL-2 alone s2 > {il2_alone_threshold_s2(p):.6g} /day"
    )


@simulate_app.command("sbml")
def sbml(
    model: Annotated[str, typer.Argument(help="The model to export: kirschner-panetta.")],
    out: Annotated[str, typer.Option(help="Write to this file instead of stdout.")] = "",
    c: Annotated[
        float | None, typer.Option("--c", help="Antigenicity, per day (default: the data's).")
    ] = None,
    s1: Annotated[float, typer.Option("--s1", help="Adoptive cell influx, cells/day.")] = 0.0,
    s2: Annotated[float, typer.Option("--s2", help="IL-2 input, model units/day.")] = 0.0,
) -> None:
    """Write a model as SBML Level 3 Version 2 (initial E, T, IL = 1, 1, 1), for other tools."""
    from il2.cli.errors import reported  # noqa: PLC0415

    with reported():
        from il2.domain.errors import InvalidInputError  # noqa: PLC0415
        from il2.science.mechanism.kirschner_panetta import kp_data, kp_parameters  # noqa: PLC0415
        from il2.science.mechanism.sbml import kirschner_panetta_sbml, write  # noqa: PLC0415

        if model not in _KP_MODELS:
            raise InvalidInputError(field="model", value=model, allowed=" or ".join(_KP_MODELS))
        antigenicity = kp_data().export_c if c is None else c
        p = kp_parameters(antigenicity, s1=_kp_option("s1", s1), s2=_kp_option("s2", s2))
        document = kirschner_panetta_sbml(p, (1.0, 1.0, 1.0))
        if out:
            try:
                write(document, out)
            except OSError as error:
                raise InvalidInputError(
                    field="out", value=out, allowed=f"a writable file path ({error.strerror})"
                ) from None
    if out:
        typer.echo(f"SBML L3V2 written to {out}", err=True)
    else:
        typer.echo(document, nl=False)
