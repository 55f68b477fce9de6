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
        from il2.science.dataset import DIAGNOSES  # noqa: PLC0415 - plain data

        rules = site_rules()
        if diagnosis not in DIAGNOSES:
            raise InvalidInputError(
                field="--diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES)
            )
        if regimen not in rules.regimens:
            raise InvalidInputError(
                field="--regimen",
                value=regimen,
                allowed="a regimen id: " + ", ".join(rules.regimens),
            )
        from il2.science.mechanism.schedule import course_of  # noqa: PLC0415 - numpy only

        try:  # refuse an unmodelled regimen before the compiled model is loaded
            course_of(rules.regimens[regimen])
        except InvalidInputError as error:
            raise InvalidInputError(
                field="--regimen", value=error.value, allowed=error.allowed
            ) from None
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


# ------------------------------------------------------------------------------ il2 simulate pk
_PK_FIRST_DOSE = "2026-01-05T08:00:00"  # any Monday morning: only the time since it matters
_PK_MAX_POINTS = 100_001
_PK_OPTIONS = {"weight_kg": "--weight-kg", "height_cm": "--height-cm"}


def _pk_number(option: str, text: str, *, minimum: float, maximum: float, zero: bool) -> float:
    """A number given on the command line, refused naming `option` unless in range."""
    from il2.domain.errors import InvalidInputError  # noqa: PLC0415 - with the command

    above = f"at least {minimum:g}" if zero else f"above {minimum:g}"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not ((value >= minimum if zero else value > minimum) and value <= maximum):
        allowed = f"a number {above} and at most {maximum:g}"
        raise InvalidInputError(field=option, value=text, allowed=allowed)
    return value


def _pk_course(
    regimen: str, weight_kg: str, height_cm: str | None, infusion_min: str | None
) -> tuple[str, list[float], list[float], list[float], float, str]:
    """The regimen's planned aldesleukin doses from a first dose at time 0: route ("iv" or
    "sc"), start minutes, IU, infusion minutes, the weight in kg and the regimen name."""
    from datetime import datetime, timedelta  # noqa: PLC0415 - with the command

    from il2.bootstrap import site_rules  # noqa: PLC0415
    from il2.domain.errors import InvalidInputError  # noqa: PLC0415
    from il2.domain.regimen import Route  # noqa: PLC0415
    from il2.services.planning import find_regimen, plan  # noqa: PLC0415

    rules = site_rules()
    chosen = find_regimen(rules, regimen)
    routes = {Route.IV_BOLUS: "iv", Route.CONTINUOUS_INFUSION: "iv", Route.SUBCUTANEOUS: "sc"}
    if chosen.route not in routes:
        route_words = chosen.route.value.replace("_", " ")
        raise InvalidInputError(
            field="--regimen",
            value=regimen,
            allowed=f"a regimen given IV or subcutaneously (no serum model for {route_words})",
        )
    route = routes[chosen.route]
    if infusion_min is not None and route == "sc":
        raise InvalidInputError(
            field="--infusion-min", value=infusion_min, allowed="none: the regimen is subcutaneous"
        )
    first = datetime.fromisoformat(_PK_FIRST_DOSE).replace(tzinfo=rules.site.time_zone)
    events = []
    if chosen.anchor is not None and chosen.anchor.required:
        before = first - timedelta(hours=chosen.anchor.min_h)
        events.append({"kind": chosen.anchor.event, "on": before.date().isoformat()})
    try:
        course = plan(
            rules,
            regimen_id=regimen,
            weight_kg=weight_kg,
            first_dose=first,
            cycle_end_rule="dose_count",
            height_cm=height_cm,
            events=events,
        )
    except InvalidInputError as error:
        if error.field not in _PK_OPTIONS:
            raise
        raise InvalidInputError(
            field=_PK_OPTIONS[error.field], value=error.value, allowed=error.allowed
        ) from None
    times: list[float] = []
    amounts: list[float] = []
    minutes: list[float] = []
    for dose in (dose for cycle in course.cycles for dose in cycle.doses):
        shape = course.aldesleukin_doses[dose.step] if course.aldesleukin_doses else None
        times.append((dose.due_at - first).total_seconds() / 60)
        amounts.append(shape.dose_iu if shape else course.dose_iu)
        if route == "sc":
            minutes.append(0.0)
        elif chosen.route is Route.CONTINUOUS_INFUSION:
            minutes.append(float(shape.duration_h if shape and shape.duration_h else 24) * 60)
        else:
            minutes.append(float(chosen.infusion_min))
    return route, times, amounts, minutes, float(course.weight_kg), chosen.name


@simulate_app.command("pk")
def pk(  # noqa: PLR0917 - typer takes each option as a parameter
    regimen: Annotated[str, typer.Option(help="Regimen id, e.g. hd-label (see il2 regimens).")],
    weight_kg: Annotated[str, typer.Option(help="Body weight in kg (20-350).")],
    hours: Annotated[str, typer.Option(help="Hours to simulate from the first dose (to 8760).")],
    every_min: Annotated[str, typer.Option(help="Minutes between output times (above 0).")],
    height_cm: Annotated[
        str | None, typer.Option(help="Height in cm, for a regimen dosed per m².")
    ] = None,
    infusion_min: Annotated[
        str | None,
        typer.Option(
            help="Minutes each IV dose runs (0 = an ideal bolus); default: the regimen's "
            "(15 min for the high-dose bolus, each day's bag for a continuous infusion)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write one JSON document.")] = False,
) -> None:
    """Serum aldesleukin concentration after the regimen's first dose(s): the two-compartment
    model of Konrad 1990 (IU/mL and nM), for a patient of the given weight."""
    import json  # noqa: PLC0415 - the science and its inputs load with the command
    import sys  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from il2.cli.errors import reported  # noqa: PLC0415
    from il2.domain.errors import InvalidInputError  # noqa: PLC0415
    from il2.science.mechanism.pk import agent_pk, concentration, iu_per_ml_to_nm  # noqa: PLC0415

    with reported():
        span = 60 * _pk_number("--hours", hours, minimum=0, maximum=8760, zero=False)
        step = _pk_number("--every-min", every_min, minimum=0, maximum=span, zero=False)
        if span / step + 1 > _PK_MAX_POINTS:
            allowed = f"a step giving at most {_PK_MAX_POINTS} output times over --hours"
            raise InvalidInputError(field="--every-min", value=every_min, allowed=allowed)
        override = None
        if infusion_min is not None:
            override = _pk_number("--infusion-min", infusion_min, minimum=0, maximum=1e4, zero=True)
        route, times, amounts, minutes, weight, name = _pk_course(
            regimen, weight_kg, height_cm, infusion_min
        )
        keep = [i for i, t in enumerate(times) if t <= span]
        agent = agent_pk()
        t = np.arange(0.0, span + step / 2, step)
        t = t[t <= span * (1 + 1e-12)]
        c = concentration(
            t,
            dose_min=[times[i] for i in keep],
            dose_iu=[amounts[i] for i in keep],
            infusion_min=[override if override is not None else minutes[i] for i in keep],
            route=route,
            pk=agent,
            weight_kg=weight,
        )
    document = {
        "t_min": [float(x) for x in t],
        "concentration_iu_ml": [float(x) for x in c],
        "concentration_nm": [float(x) for x in iu_per_ml_to_nm(c, agent)],
    }
    if as_json:
        sys.stdout.write(json.dumps(document) + "\n")
        return
    table = Table(title=f"{name}: {len(keep)} dose(s) in {span / 60:g} h, {weight:g} kg")
    for column in ("t (min)", "IU/mL", "nM"):
        table.add_column(column, justify="right")
    for row in zip(*document.values(), strict=True):
        table.add_row(f"{row[0]:g}", f"{row[1]:.4g}", f"{row[2]:.4g}")
    Console().print(table)
    Console(stderr=True).print("Two-compartment model after Konrad 1990 (il2.science.mechanism.pk)")


# ------------------------------------------------------------------------- il2 simulate whatif
@simulate_app.command("whatif")
def whatif(  # noqa: PLR0917 - typer takes each option as a parameter
    patient: Annotated[
        str,
        typer.Option(help="The patient's record id (staff), or study number (S-..., researchers)."),
    ],
    course: Annotated[
        int | None,
        typer.Option(help="The course's number in the patient's program (default: the latest)."),
    ] = None,
    twins: Annotated[int | None, typer.Option(help="Virtual twins (default 1000).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default 20): the same seed, the same twins.")
    ] = None,
    alternative: Annotated[
        list[str] | None,
        typer.Option(
            help="A schedule to compare (repeatable): as_planned, label, or a regimen id such as "
            "ld-iv-nci (default: as_planned and label)."
        ),
    ] = None,
    as_user: Annotated[
        str, typer.Option("--as-user", help="Run as this user (needs simulation.whatif).")
    ] = "demo-physician",
    as_json: Annotated[bool, typer.Option("--json", help="Write one JSON document.")] = False,
) -> None:
    """What if: the course as its ledger records it (doses given, held, stopped) and other
    schedules, given to the same virtual twins of the patient; ORR and CR with exact 95%
    intervals. A model's what-if, not a clinical decision (the read is audited)."""
    from rich.console import Console  # noqa: PLC0415 - with the command
    from rich.table import Table  # noqa: PLC0415

    from il2.bootstrap import build_app, site_rules  # noqa: PLC0415 - the database, when needed
    from il2.cli.errors import reported  # noqa: PLC0415
    from il2.domain.errors import InvalidInputError  # noqa: PLC0415
    from il2.services.accounts import actor_for_username  # noqa: PLC0415
    from il2.services.whatif import course_whatif, study_course_whatif  # noqa: PLC0415

    with reported():
        for option, value in (("--twins", twins), ("--course", course)):
            if value is not None and value < 1:
                raise InvalidInputError(field=option, value=value, allowed="1 or more")
        if seed is not None and seed < 0:
            raise InvalidInputError(field="--seed", value=seed, allowed="0 or more")
        rules = site_rules()
        named = ("as_planned", "label")  # whatif.AS_PLANNED, LABEL: without loading the model
        for name in alternative or ():
            if name not in named and name not in rules.regimens:
                raise InvalidInputError(
                    field="--alternative", value=name,
                    allowed="as_planned, label or a regimen id: " + ", ".join(rules.regimens),
                )  # fmt: skip
        built = build_app()
        actor = actor_for_username(built.services, as_user)
        try:
            if patient.strip().isdigit():
                document, _ = course_whatif(
                    built.services, actor, int(patient), course_number=course,
                    alternatives=alternative or None, twins=twins, seed=seed,
                )  # fmt: skip
            else:
                document, _ = study_course_whatif(
                    built.services, actor, patient, course_number=course,
                    alternatives=alternative or None, twins=twins, seed=seed,
                )  # fmt: skip
        except InvalidInputError as error:
            flags = {"alternatives": "--alternative", "twins": "--twins", "seed": "--seed",
                     "course": "--course"}  # fmt: skip
            if error.field not in flags:
                raise
            raise InvalidInputError(
                field=flags[error.field], value=error.value, allowed=error.allowed
            ) from None
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    table = Table(
        title=f"What if: course {document['course']} ({document['regimen']}), "
        f"{document['twins']} twins, seed {document['seed']}"
    )
    for column in ("schedule", "doses", "ORR (95% CI)", "CR (95% CI)"):
        table.add_column(column, justify="left" if column == "schedule" else "right")
    for row in document["schedules"]:
        orr, cr = row["orr"], row["cr_rate"]
        table.add_row(
            row["label"], str(row["doses_given"]),
            _pct(orr["value"], tuple(orr["ci95"])), _pct(cr["value"], tuple(cr["ci95"])),
        )  # fmt: skip
    Console().print(table)
    Console(stderr=True).print(document["disclaimer"])
