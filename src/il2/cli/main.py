"""`il2`: the clinical engine on the command line (the commands and documents the README lists)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from il2.cli import render
from il2.cli.errors import EXIT_INPUT, reported
from il2.cli.serving import serve_processes, shares_ports
from il2.cli.simulation import simulate_app, trial
from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor, User
from il2.services import documents
from il2.services.accounts import (
    actor_for_username,
    add_user,
    deactivate_user,
    reactivate_user,
    reset_password,
    set_role,
    unlock_user,
)
from il2.services.bedside import assess_before_dose
from il2.services.bulk import BATCH_PATIENTS, BulkWriter
from il2.services.context import Services
from il2.services.demo import (
    DEMO_PASSWORD,
    STAFF,
    ServiceWriter,
    add_demo_accounts,
    add_outpatients,
    add_ward,
    build_demo,
    demo_state,
)
from il2.services.grading import grade_document, grading_document
from il2.services.pathway import next_step, pathway_document
from il2.services.patients import lookup_study_number, patient_count
from il2.services.planning import plan as plan_course
from il2.services.recist import assess_response
from il2.services.retreatment import judge_history
from il2.services.screening import screening_answer

if TYPE_CHECKING:
    from il2.bootstrap import App
    from il2.rules.loader import RuleSet

# The engine commands and --help start without the database layer (SQLAlchemy, Alembic) or the
# analytics stack (numpy, scipy, matplotlib, pandas, lifelines): the commands that need them
# import them when they run (tests/unit/test_cli_imports.py keeps it so).

app = typer.Typer(
    name="il2",
    help="High-dose interleukin-2 (aldesleukin) programs: regimens, plans, screening, bedside.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Write one JSON document to stdout.")]


def _app() -> App:
    from il2.bootstrap import build_app  # noqa: PLC0415 - the database layer, when needed

    with reported():
        return build_app()


def _rules() -> RuleSet:
    """The rule tables with the site's policy: all the engine commands need (no database)."""
    from il2.bootstrap import site_rules  # noqa: PLC0415 - the composition root, storage-free

    with reported():
        return site_rules()


def _emit(document: dict[str, Any], as_json: bool, show: Any) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        show(Console(), document)


def read_document(source: str) -> object:
    """Read a JSON document from a file path, or from standard input for '-'."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(
            field="FILE", value=source, allowed=f"a readable JSON file ({error.strerror})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            field="FILE",
            value=source,
            allowed=f"valid JSON ({error.msg} at line {error.lineno}, column {error.colno})",
        ) from None


@app.command()
def regimens(as_json: JsonFlag = False) -> None:
    """List the regimen library, each regimen with its source."""
    rules = _rules()
    _emit(documents.regimens_document(rules), as_json, render.regimens)


@app.command()
def plan(  # noqa: PLR0917 - typer takes each option as a parameter
    regimen: Annotated[str, typer.Option(help="Regimen id, e.g. hd-label (see il2 regimens).")],
    weight_kg: Annotated[str, typer.Option(help="Body weight in kg (20-350).")],
    first_dose: Annotated[
        str,
        typer.Option(
            help="First dose, ISO 8601 (2026-12-07T08:00:00-08:00); no offset = site zone."
        ),
    ],
    cycle_end: Annotated[
        str | None,
        typer.Option(
            "--cycle-end",
            help="When the first-dose time leaves fewer slots in the dosing days than doses "
            "(hd-label: a first dose at 16:00 or later): 'whichever_first' ends the cycle "
            "within days 1-5, 'dose_count' gives every dose. Needed only then, unless the "
            "site policy decides.",
        ),
    ] = None,
    height_cm: Annotated[
        str | None,
        typer.Option(help="Height in cm, for a regimen dosed per m² (see il2 regimens)."),
    ] = None,
    lesions: Annotated[
        str | None,
        typer.Option(help="Number of lesions (at least 1), for a regimen dosed per lesion."),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="An outside event the regimen is anchored to, KIND=DATE (repeatable), e.g. "
            "sbrt_fraction=2026-12-04 or til_infusion_end=2026-12-07T02:00:00-08:00.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan a course: doses of every agent, preparation, vials and the time of every dose."""
    rules = _rules()
    with (
        reported(),
        _option_named("cycle_end_rule", "--cycle-end"),
        _option_named("height_cm", "--height-cm"),
        _option_named("lesions", "--lesions"),
        _option_named("events", "--event KIND=DATE"),
    ):
        course = plan_course(
            rules,
            regimen_id=regimen,
            weight_kg=weight_kg,
            first_dose=first_dose,
            cycle_end_rule=cycle_end,
            height_cm=height_cm,
            lesions=lesions,
            events=_events(event or []),
        )
    _emit(documents.plan_document(course, rules), as_json, render.plan)


def _events(given: list[str]) -> list[dict[str, str]]:
    """`--event KIND=DATE` options as plan events; one without '=' is refused, naming it."""
    events = []
    for index, text in enumerate(given):
        kind, sign, on = text.partition("=")
        if not sign or not kind.strip() or not on.strip():
            raise InvalidInputError(
                field=f"events[{index}]",
                value=text,
                allowed="KIND=DATE, such as sbrt_fraction=2026-12-04 (give it with --event)",
            )
        events.append({"kind": kind.strip(), "on": on.strip()})
    return events


@contextmanager
def _option_named(field: str, option: str) -> Iterator[None]:
    """Say which command-line option gives `field` when it is refused."""
    try:
        yield
    except InvalidInputError as error:
        if error.field != field:
            raise
        raise InvalidInputError(
            field=field, value=error.value, allowed=f"{error.allowed} (give it with {option})"
        ) from None


@app.command()
def screen(
    file: Annotated[str, typer.Argument(help="Candidate findings as JSON; '-' reads stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Screen a candidate: every eligibility criterion with its verdict, evidence and source."""
    rules = _rules()
    with reported():
        answer = screening_answer(rules, read_document(file))
    _emit(
        answer,
        as_json,
        lambda console, doc: render.screening(console, doc, title=f"Screening: {file}"),
    )


@app.command()
def bedside(
    file: Annotated[str, typer.Argument(help="Before-dose assessment as JSON; '-' reads stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Before a dose: give, hold, stop the cycle or discontinue, with every rule that fired."""
    rules = _rules()
    with reported():
        regimen, decision = assess_before_dose(rules, read_document(file))
    _emit(documents.bedside_document(regimen, decision), as_json, render.bedside)


@app.command()
def grade(
    file: Annotated[str, typer.Argument(help="CTCAE findings as JSON; '-' reads stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Grade toxicities by CTCAE (version pinned and reported), naming the criterion met."""
    rules = _rules()
    with reported():
        result = grade_document(rules.ctcae, read_document(file))
    _emit(grading_document(result), as_json, render.grades)


@app.command()
def recist(
    file: Annotated[str, typer.Argument(help="Lesion measurements as JSON; '-' reads stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """RECIST 1.1 (and iRECIST) time points and best overall response, with reasons."""
    rules = _rules()
    with reported():
        response = assess_response(rules, read_document(file))
    _emit(documents.recist_document(response), as_json, render.recist)


@app.command(name="next")
def next_step_command(
    file: Annotated[str, typer.Argument(help="Courses, history, response as JSON; '-' = stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """What comes next for a course: another course, a scan, follow-up or stop, with reasons.

    response.change_from_pre_course_pct: % change of the target sum since the pre-course scan.
    """
    rules = _rules()
    with reported():
        decision = next_step(rules, read_document(file), rules.pathway)
    _emit(pathway_document(decision), as_json, render.pathway)


@app.command()
def retreatment(
    file: Annotated[str, typer.Argument(help="Earlier toxicities as JSON; '-' reads stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Whether earlier toxicities forbid another course, with the source of each."""
    rules = _rules()
    with reported():
        decision = judge_history(rules, read_document(file))
    _emit(documents.retreatment_document(decision), as_json, render.retreatment)


@app.command()
def policy(as_json: JsonFlag = False) -> None:
    """Show every site-configurable setting in force, its default and its source."""
    rules = _rules()
    _emit(documents.policy_document(rules), as_json, render.policy)


db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts and roles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
study_app = typer.Typer(help="Study numbers (de-identified views).", no_args_is_help=True)
app.add_typer(study_app, name="study-id")
studies_app = typer.Typer(
    help="Studies the program runs, their arms, and patients' arm assignments.",
    no_args_is_help=True,
)
app.add_typer(studies_app, name="studies")
diary_app = typer.Typer(
    help="The self-injection diary of an outpatient course: what the patient reports of each "
    "planned injection.",
    no_args_is_help=True,
)
app.add_typer(diary_app, name="diary")


infusion_app = typer.Typer(
    help="A running continuous infusion (civ-eu, biochemo-cvd): pause, resume, stop, show.",
    no_args_is_help=True,
)
app.add_typer(infusion_app, name="infusion")
app.add_typer(simulate_app, name="simulate")
app.command("trial")(trial)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the schema migrations (IL2_DATABASE_URL, else the SQLite file)."""
    from il2.bootstrap import upgrade_database  # noqa: PLC0415 - Alembic, when needed

    built = _app()
    reached = upgrade_database(built, revision)
    typer.echo(f"database at revision {reached} ({built.settings.database_url})")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Undo schema migrations down to REVISION ('base' empties the schema)."""
    from il2.bootstrap import downgrade_database  # noqa: PLC0415 - Alembic, when needed

    built = _app()
    reached = downgrade_database(built, revision)
    typer.echo(f"database at revision {reached or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision the database is at."""
    from il2.bootstrap import database_revision  # noqa: PLC0415 - Alembic, when needed

    typer.echo(database_revision(_app()) or "base (empty)")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option(help="Sign-in name.")],
    role: Annotated[
        str,
        typer.Option(help="nurse, physician, pharmacist, coordinator, researcher, administrator."),
    ],
    display_name: Annotated[str, typer.Option(help="Name shown in records.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add an account (the password is asked for, or read from stdin)."""
    built = _app()
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    with reported():
        user = add_user(
            built.services,
            None,
            username=username,
            display_name=display_name or username,
            role=role,
            password=password,
        )
    typer.echo(f"added {user.username} ({user.role.value})")


AdminOption = Annotated[
    str, typer.Option("--as", help="The administrator making the change (needs users.manage).")
]


def _admin_change(change: Callable[[Services, Actor], User], as_user: str) -> None:
    """Run one account change as `as_user` and say what the account is now."""
    built = _app()
    with reported():
        user = change(built.services, actor_for_username(built.services, as_user))
    state = "active" if user.active else "inactive"
    typer.echo(f"{user.username}: {user.role.value}, {state}; its sessions were ended")


@users_app.command("deactivate")
def users_deactivate(
    username: Annotated[str, typer.Argument(help="The account to deactivate.")],
    as_user: AdminOption,
) -> None:
    """Take an account's access away: no sign-in, and its sessions end at once."""
    _admin_change(lambda services, actor: deactivate_user(services, actor, username), as_user)


@users_app.command("reactivate")
def users_reactivate(
    username: Annotated[str, typer.Argument(help="The account to reactivate.")],
    as_user: AdminOption,
) -> None:
    """Let a deactivated account sign in again."""
    _admin_change(lambda services, actor: reactivate_user(services, actor, username), as_user)


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(help="The account.")],
    role: Annotated[str, typer.Argument(help="Its new role.")],
    as_user: AdminOption,
) -> None:
    """Give an account another role; its sessions end at once."""
    _admin_change(lambda services, actor: set_role(services, actor, username, role), as_user)


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="The account.")],
    as_user: AdminOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
) -> None:
    """Set a new password for an account (asked for, or read from stdin); sessions end."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    )
    _admin_change(
        lambda services, actor: reset_password(services, actor, username, password), as_user
    )


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str, typer.Argument(help="The account locked by failed sign-ins.")],
    as_user: AdminOption,
) -> None:
    """Let an account locked by failed sign-ins try again now."""
    built = _app()
    with reported():
        forgotten = unlock_user(
            built.services, actor_for_username(built.services, as_user), username
        )
    typer.echo(f"{username}: unlocked ({forgotten} failed sign-ins forgotten)")


@users_app.command("seed-demo")
def users_seed_demo() -> None:
    """Add demo accounts (one per role, password printed) where they do not exist. DEMO ONLY."""
    add_demo_accounts(_app().services)
    typer.echo(
        f"demo accounts demo-<role> (and demo-nurse2), password {DEMO_PASSWORD!r}: demo only"
    )


@app.command()
def demo(  # noqa: PLR0917 - typer takes each option as a parameter
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same program.")
    ] = 1,
    years: Annotated[
        int,
        typer.Option(help="Years of program to simulate (without --patients: 65 cycles a year)."),
    ] = 10,
    until: Annotated[
        str, typer.Option(help="Last day of the program (ISO date); default today.")
    ] = "",
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing if there are patients.")
    ] = False,
    today: Annotated[
        bool,
        typer.Option(
            "--today",
            help="Keep a demo alive (what `make run` does): write the demo if the database is "
            "empty; if it holds only demo patients and nobody was admitted to the ward today, "
            "admit today's ward patients (mid-cycle, doses due within hours); never write to a "
            "database holding any other patient.",
        ),
    ] = False,
    patients: Annotated[
        int | None,
        typer.Option(
            help="Patients referred over --years (e.g. 100000), written in batches of "
            f"{BATCH_PATIENTS}: the same records and audit entries as the services, far faster. "
            "Default: about 35 a year, written record by record through the services."
        ),
    ] = None,
) -> None:
    """Write a synthetic program: every record valid and audited, as the services keep it."""
    from rich.progress import MofNCompleteColumn, Progress  # noqa: PLC0415 - only demo draws one

    from il2.bootstrap import upgrade_database  # noqa: PLC0415 - Alembic, when needed

    built = _app()
    upgrade_database(built)
    state = demo_state(built.services) if today else ""
    if state == "not_demo":
        typer.echo("the database holds patients that are not the demo's; nothing written")
        return
    if state in ("current", "stale"):
        if state == "stale":
            with reported():
                ward = add_ward(built.services, seed=seed)
            typer.echo(f"demo: today's ward patients admitted ({', '.join(ward.mrns)})")
        _demo_accounts()
        return
    if if_empty and patient_count(built.services) > 0:
        typer.echo("the database already holds patients; no demo written")
        return
    with reported():
        last = date.fromisoformat(until) if until else built.services.clock().date()
    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as bar, reported():
        task = bar.add_task("writing the demo program (patients written)", total=None)
        summary = build_demo(
            built.services,
            seed=seed,
            years=years,
            until=last,
            patients=patients,
            writer=ServiceWriter if patients is None else BulkWriter,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(
        f"demo: {summary.patients} patients referred, {summary.treated} treated, "
        f"{summary.courses} courses, "
        f"{summary.doses} doses recorded (seed {seed}, {years} years to {last.isoformat()})"
    )
    if today:
        with reported():
            ward = add_ward(built.services, seed=seed)
            clinic = add_outpatients(built.services, seed=seed)
        typer.echo(f"demo: today's ward patients admitted ({', '.join(ward.mrns)})")
        typer.echo(
            f"demo: outpatients injecting at home ({', '.join(clinic.mrns)}), "
            f"{clinic.diary_entries} diary entries"
        )
        _demo_accounts()
    else:
        typer.echo(f"demo accounts demo-<role>, password {DEMO_PASSWORD!r}")


def _demo_accounts() -> None:
    """The demo's accounts, one a line with its role, and the password they share."""
    typer.echo("demo accounts (demo only):")
    for username, role in STAFF.items():
        typer.echo(f"  {username:<20} {role}")
    typer.echo(f"  password: {DEMO_PASSWORD}")


@app.command()
def report(
    as_of: Annotated[str, typer.Option(help="Data cut-off (ISO date); default today.")] = "",
    output: Annotated[
        str, typer.Option(help="Write the HTML report to this file.")
    ] = "il2-report.html",
    price_per_vial: Annotated[
        float, typer.Option(help="Site price per vial, for cost (0 = omit).")
    ] = 0.0,
    user: Annotated[
        str, typer.Option(help="Run as this user (needs outcomes.read).")
    ] = "demo-researcher",
    as_json: JsonFlag = False,
) -> None:
    """Outcome analysis of the whole program: a self-contained HTML report, or JSON."""
    from il2.services.outcomes import report as outcome_report  # noqa: PLC0415 - analytics
    from il2.web.core import templates  # noqa: PLC0415 - the report's templates
    from il2.web.report import render_report  # noqa: PLC0415

    built = _app()
    with reported():
        cut = date.fromisoformat(as_of) if as_of else built.services.clock().date()
        actor = actor_for_username(built.services, user)
        summary, figures = outcome_report(
            built.services, actor, as_of=cut, price_per_vial=price_per_vial or None
        )
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    html = render_report(templates(built.services.rules), summary, figures)
    Path(output).write_text(html, encoding="utf-8")
    typer.echo(f"report written to {output} ({len(html):,} bytes)")
    quality = summary["data_quality"]
    if quality["problems"]:
        typer.echo(
            f"data quality: {quality['patients_with_problems']} patient(s) left out of some "
            "figures (see the report's Data quality section):"
        )
        for problem in quality["problems"]:
            typer.echo(
                f"  {problem['study_id']} {problem['record']}: {problem['problem']} "
                f"Left out of: {'; '.join(problem['excluded_from'])}."
            )


@app.command()
def adam(
    dataset: Annotated[
        str, typer.Option(help="adrs (best overall response) or adtte (OS, PFS, RSD).")
    ],
    output: Annotated[str, typer.Option(help="Write the dataset to this file.")],
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    as_of: Annotated[str, typer.Option(help="Data cut-off (ISO date); default today.")] = "",
    user: Annotated[
        str, typer.Option(help="Run as this user (needs outcomes.read).")
    ] = "demo-researcher",
) -> None:
    """A CDISC ADaM dataset of the whole program (ADRS or ADTTE), as CSV or Parquet."""
    from il2.services.adam import adam_export, dataset_of, format_of, written  # noqa: PLC0415

    built = _app()
    with reported():
        chosen, kind = dataset_of(dataset), format_of(file_format)
        try:
            cut = date.fromisoformat(as_of) if as_of else built.services.clock().date()
        except ValueError:
            raise InvalidInputError(
                field="as_of", value=as_of, allowed="an ISO date such as 2026-11-01"
            ) from None
        actor = actor_for_username(built.services, user)
        export = adam_export(built.services, actor, dataset=chosen, as_of=cut)
        data = written(export, kind)
    Path(output).write_bytes(data)
    withheld = " (dates withheld: de-identified)" if export.deidentified else ""
    typer.echo(
        f"{chosen.upper()} written to {output}: {len(export.rows)} records, "
        f"{len(export.variables)} variables{withheld}"
    )


@study_app.command("lookup")
def study_id_lookup(
    number: Annotated[str, typer.Argument(help="A study number, e.g. S-ABCDEFGHIJKL.")],
    user: Annotated[str, typer.Option(help="Run as this administrator.")] = "demo-administrator",
) -> None:
    """The patient record a study number stands for (administrators; audited)."""
    built = _app()
    with reported():
        found = lookup_study_number(
            built.services, actor_for_username(built.services, user), number
        )
    if not found:
        typer.echo(f"no patient has study number {number.strip().upper()}", err=True)
        raise typer.Exit(EXIT_INPUT)
    for patient_id in found:
        typer.echo(f"{number.strip().upper()} is patient record {patient_id}")


StudiesUser = Annotated[
    str,
    typer.Option(
        help="Run as this user (defining and assigning need a physician or a coordinator)."
    ),
]


@studies_app.command("list")
def studies_list(user: StudiesUser = "demo-coordinator", as_json: JsonFlag = False) -> None:
    """Every study with its arms and how many patients each arm has."""
    from il2.services.studies import list_studies  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        found = list_studies(built.services, actor_for_username(built.services, user))
    _emit({"studies": found}, as_json, render.studies)


@studies_app.command("create")
def studies_create(
    file: Annotated[str, typer.Argument(help="The study as a JSON document ('-' for stdin).")],
    user: StudiesUser = "demo-coordinator",
    as_json: JsonFlag = False,
) -> None:
    """Define a study: {"name", "registry_id" (e.g. NCT01416831), "description", "arms": [{"id",
    "name", "description"}, ...]} (two or more arms)."""
    from il2.services.studies import create_study, study_document  # noqa: PLC0415

    built = _app()
    with reported():
        document = read_document(file)
        study = create_study(built.services, actor_for_username(built.services, user), document)
    _emit(study_document(study), as_json, render.study_created)


def _assignment(user: str, study_id: int, patient_id: int, as_json: bool, **change: Any) -> None:
    from il2.services.studies import recorded_assignment  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        actor = actor_for_username(built.services, user)
        record = recorded_assignment(built.services, actor, study_id, patient_id, **change)
    _emit(record, as_json, render.assignment)


@studies_app.command("assign")
def studies_assign(  # noqa: PLR0917 - typer takes each option as a parameter
    study_id: Annotated[int, typer.Argument(help="The study's id (see il2 studies list).")],
    patient_id: Annotated[int, typer.Argument(help="The patient's record id.")],
    arm: Annotated[str, typer.Option(help="The arm's short id.")],
    on: Annotated[str, typer.Option(help="Date of the assignment (ISO); default today.")] = "",
    correct: Annotated[
        bool,
        typer.Option("--correct", help="Correct the arm the patient is in (needs --reason)."),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (needed with --correct).")] = "",
    user: StudiesUser = "demo-coordinator",
    as_json: JsonFlag = False,
) -> None:
    """Assign a patient to an arm of a study, or correct their arm (a new record, audited)."""
    _assignment(user, study_id, patient_id, as_json, arm=arm, on=on or None,
                kind="corrected" if correct else "assigned", reason=reason or None)  # fmt: skip


@studies_app.command("withdraw")
def studies_withdraw(  # noqa: PLR0917 - typer takes each option as a parameter
    study_id: Annotated[int, typer.Argument(help="The study's id (see il2 studies list).")],
    patient_id: Annotated[int, typer.Argument(help="The patient's record id.")],
    reason: Annotated[str, typer.Option(help="Why the patient leaves the study.")],
    on: Annotated[str, typer.Option(help="Date of the withdrawal (ISO); default today.")] = "",
    user: StudiesUser = "demo-coordinator",
    as_json: JsonFlag = False,
) -> None:
    """Withdraw a patient from a study (a new record, audited)."""
    _assignment(user, study_id, patient_id, as_json, kind="withdrawn", on=on or None,
                reason=reason or None)  # fmt: skip


DiaryUser = Annotated[
    str,
    typer.Option(help="Run as this user (entering and correcting need a nurse or a coordinator)."),
]
CourseArgument = Annotated[int, typer.Argument(help="The course's record id.")]


@diary_app.command("add")
def diary_add(
    course_id: CourseArgument,
    file: Annotated[str, typer.Argument(help="The entry as a JSON document ('-' for stdin).")],
    user: DiaryUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """Enter what the patient reports of one planned injection: {"cycle", "dose_number",
    "status": "taken" | "missed", "taken_at" (taken), "missed_reason", "side_effects": [{"term":
    a CTCAE v5.0 term id, "grade"}], "reported_by": "patient" | "caregiver", "note"}."""
    from il2.services.diary import record_entry, recorded_entry  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        document = read_document(file)
        actor = actor_for_username(built.services, user)
        entry = record_entry(built.services, actor, course_id, document)
    _emit(recorded_entry(built.services, entry), as_json, render.diary_entry)


@diary_app.command("correct")
def diary_correct(  # noqa: PLR0917 - typer takes each option as a parameter
    course_id: CourseArgument,
    entry_id: Annotated[int, typer.Argument(help="The entry corrected (see il2 diary list).")],
    file: Annotated[str, typer.Argument(help="The corrected report as JSON ('-' for stdin).")],
    reason: Annotated[str, typer.Option(help="Why the entry is corrected.")],
    user: DiaryUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """Correct an injection's current entry: a new entry pointing at it (the old one is kept);
    the document is the report as for add, without cycle and dose number."""
    from il2.services.diary import correct_diary_entry, recorded_entry  # noqa: PLC0415

    built = _app()
    with reported():
        document = read_document(file)
        actor = actor_for_username(built.services, user)
        entry = correct_diary_entry(
            built.services, actor, course_id, entry_id, document, reason=reason
        )
    _emit(recorded_entry(built.services, entry), as_json, render.diary_entry)


@diary_app.command("list")
def diary_list(
    course_id: CourseArgument,
    user: Annotated[str, typer.Option(help="Run as this user (staff who read records).")] = (
        "demo-nurse"
    ),
    as_json: JsonFlag = False,
) -> None:
    """The course's diary: every entry, oldest first, and the summary up to now (audited)."""
    from il2.services.diary import course_diary  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        found = course_diary(built.services, actor_for_username(built.services, user), course_id)
    _emit(found, as_json, render.diary)


Course = Annotated[int, typer.Argument(help="The course's id.")]
Cycle = Annotated[int, typer.Argument(help="The cycle.")]
DoseNumber = Annotated[int, typer.Argument(help="The dose (the day's infusion) number.")]
InfusionUser = Annotated[str, typer.Option(help="Run as this user (a nurse or physician).")]
Assessment = Annotated[
    str,
    typer.Option(
        help="The assessment made now, a JSON file ('-' for stdin): il2 bedside input without "
        "the slot's facts, which the ledger gives."
    ),
]
At = Annotated[str, typer.Option(help="When (ISO 8601; no offset: the site's zone); default now.")]
Reason = Annotated[str, typer.Option(help="A clinician's reason.")]
Corrects = Annotated[
    int, typer.Option(help="The number of the last event (a pause or resume) this one replaces.")
]


def _infusion_event(  # noqa: PLR0917 - one argument an option
    event: str,
    course: int,
    cycle: int,
    number: int,
    assessment: str,
    at: str,
    reason: str,
    corrects: int,
    user: str,
    as_json: bool,
) -> None:
    from il2.services.infusions import (  # noqa: PLC0415 - the database layer
        InfusionSubmission,
        record_infusion_event,
    )
    from il2.services.parsing import aware  # noqa: PLC0415

    built = _app()
    with reported():
        document = read_document(assessment) if assessment else None
        if document is not None and not isinstance(document, dict):
            raise InvalidInputError(field="assessment", value=assessment, allowed="a JSON object")
        submission = InfusionSubmission(
            cycle=cycle,
            dose_number=number,
            event=event,
            at=aware(at, "at", built.services) if at else None,
            assessment=document,
            reason=reason or None,
            corrects=corrects or None,
        )
        actor = actor_for_username(built.services, user)
        state = record_infusion_event(built.services, actor, course, submission)
    _emit(state, as_json, render.infusion)


@infusion_app.command("pause")
def infusion_pause(  # noqa: PLR0917 - typer takes each option as a parameter
    course: Course,
    cycle: Cycle,
    number: DoseNumber,
    assessment: Assessment = "",
    at: At = "",
    reason: Reason = "",
    corrects: Corrects = 0,
    user: InfusionUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """Pause a running infusion: an assessment whose decision holds, or a reason."""
    _infusion_event("pause", course, cycle, number, assessment, at, reason, corrects, user, as_json)


@infusion_app.command("resume")
def infusion_resume(  # noqa: PLR0917 - typer takes each option as a parameter
    course: Course,
    cycle: Cycle,
    number: DoseNumber,
    assessment: Assessment,
    at: At = "",
    corrects: Corrects = 0,
    user: InfusionUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """Resume a paused infusion: only an assessment whose decision is give."""
    _infusion_event("resume", course, cycle, number, assessment, at, "", corrects, user, as_json)


@infusion_app.command("stop")
def infusion_stop(  # noqa: PLR0917 - typer takes each option as a parameter
    course: Course,
    cycle: Cycle,
    number: DoseNumber,
    assessment: Assessment = "",
    at: At = "",
    reason: Reason = "",
    user: InfusionUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """End an infusion early: a decision to stop the cycle or discontinue, or a reason."""
    _infusion_event("stop", course, cycle, number, assessment, at, reason, 0, user, as_json)


@infusion_app.command("show")
def infusion_show(
    course: Course,
    cycle: Cycle,
    number: DoseNumber,
    user: InfusionUser = "demo-nurse",
    as_json: JsonFlag = False,
) -> None:
    """A day's infusion now: its events, hours run and paused, IU delivered (audited)."""
    from il2.services.infusions import read_infusion  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        actor = actor_for_username(built.services, user)
        state = read_infusion(built.services, actor, course, cycle, number)
    _emit(state, as_json, render.infusion)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    upgrade: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes. SQLite takes one writer at a time: keep 1. On PostgreSQL, "
            "up to one a CPU core.",
        ),
    ] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy addresses (comma-separated) whose X-Forwarded-Proto and X-Forwarded-For "
            "are believed, so cookies are Secure behind a proxy terminating TLS. Default: "
            "IL2_FORWARDED_ALLOW_IPS, else 127.0.0.1 only.",
        ),
    ] = None,
) -> None:
    """Serve the web app and the JSON API (OpenAPI at /openapi.json) on the configured database."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from il2.bootstrap import upgrade_database  # noqa: PLC0415 - Alembic, when needed
    from il2.server import SERVER_APP  # noqa: PLC0415 - the API and pages, when serving

    built = _app()
    proxies = forwarded_allow_ips or built.settings.forwarded_allow_ips
    if workers > 1 and built.one_writer:
        raise typer.BadParameter(
            f"{workers} processes: SQLite takes one writer at a time, so il2 serves it from one "
            "process; use PostgreSQL (IL2_DATABASE_URL) for more",
            param_hint="--workers",
        )
    if upgrade:
        upgrade_database(built)
    built.engine.dispose()
    typer.echo(f"il2 on http://{host}:{port}/ (API documentation at /docs)")
    if workers > 1 and shares_ports():
        serve_processes(host, port, workers, SERVER_APP, proxies)
        return
    uvicorn.run(
        SERVER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=proxies,
    )


def main() -> None:  # pragma: no cover - console entry point
    """Run the command line."""
    app()


__all__ = ["EXIT_INPUT", "app", "main"]


ehr_app = typer.Typer(
    help="The site's EHR over FHIR (IL2_EHR_FHIR_URL): values offered, never recorded.",
    no_args_is_help=True,
)
app.add_typer(ehr_app, name="ehr")


@ehr_app.command("values")
def ehr_values(
    course: Annotated[int, typer.Option(help="The course's record id.")],
    cycle: Annotated[int, typer.Option(help="The cycle.")],
    dose: Annotated[int, typer.Option(help="The dose number.")],
    user: Annotated[str, typer.Option(help="Run as this user (a nurse or physician).")] = (
        "demo-nurse"
    ),
) -> None:
    """The latest vital signs and labs of the course's patient in the EHR, offered for the
    before-dose form of the dose, as JSON: each with its time, age and Observation, usable or
    not and why. Nothing is recorded (the read is audited)."""
    from il2.services.ehr import ehr_bedside_values  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        actor = actor_for_username(built.services, user)
        found = ehr_bedside_values(built.services, actor, course, cycle, dose)
    _emit(found, as_json=True, show=None)


@app.command()
def refer(
    bundle: Annotated[
        str, typer.Option(help="A FHIR Bundle (JSON) of one Patient and its Condition; '-' stdin.")
    ],
    user: Annotated[str, typer.Option(help="Run as this user (a physician or coordinator).")] = (
        "demo-coordinator"
    ),
) -> None:
    """Register a referred patient from a FHIR Bundle (transaction, batch or collection): the
    MRN in the site's ehr_mrn_system, name, birth date, sex, and the diagnosis its Condition
    names. Anything unusable is refused naming its FHIR path; nothing is written then."""
    from il2.services.ehr import referral_from_bundle  # noqa: PLC0415 - the database layer

    built = _app()
    with reported():
        actor = actor_for_username(built.services, user)
        done = referral_from_bundle(built.services, actor, read_document(bundle))
    found = done.patient
    document = {
        "id": found.id,
        "mrn": found.mrn,
        "name": found.name,
        "birth_date": found.birth_date.isoformat(),
        "sex": found.sex,
        "diagnosis": found.diagnosis,
        "diagnosis_matched_by": done.diagnosis.by,
        "diagnosis_from": f"{done.diagnosis.where}: {done.diagnosis.said}",
    }
    _emit(document, as_json=True, show=None)
