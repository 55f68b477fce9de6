"""CDISC ADaM rows of a program: ADRS (best overall response) and ADTTE (OS, PFS, RSD).

The variables, their labels and types, and the wording of every coded value come from
`data/adam.toml` (each with its source); this module only derives the rows. ADTTE follows
il2's own survival definitions (`il2.science.survival`), so a Kaplan-Meier fit of AVAL and
CNSR gives the report's figures. Rows are plain dicts: str, float, int, date or None (empty).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node
from il2.science.dataset import RESPONDERS, Patient, Program, Response
from il2.science.survival import first_doses

_FILE = "adam.toml"

Dataset = Literal["adrs", "adtte"]
DATASETS: tuple[Dataset, ...] = ("adrs", "adtte")
AdamType = Literal["Char", "Num"]
ArrowType = Literal["string", "float64", "int64", "date32"]
Value = str | float | int | date | None
Row = dict[str, Value]


@dataclass(frozen=True, slots=True)
class Variable:
    """One ADaM variable: name, label, ADaM type, Arrow type, and where il2 takes it from."""

    name: str
    label: str
    type: AdamType
    arrow: ArrowType
    origin: str
    source: str


@dataclass(frozen=True, slots=True)
class Spec:
    """The ADaM specification il2 writes (data/adam.toml)."""

    standard: str
    version: str
    studyid: str
    siteid: str
    response_aval: Mapping[str, int]
    labels: Mapping[Dataset, str]
    params: Mapping[Dataset, Mapping[str, str]]
    """PARAMCD -> PARAM, in the file's order."""
    variables: Mapping[Dataset, tuple[Variable, ...]]
    events: Mapping[str, str]
    sources: Mapping[str, tuple[str, str]]


def _variable(node: Node) -> Variable:
    node.only("name", "label", "type", "parquet", "origin", "source", "status", "why")
    name = node.text("name")
    if len(name) > 8 or not name.isupper():  # ADaM names: 8 characters, upper case
        raise node.fail("name", f"{name!r} is not an ADaM variable name")
    return Variable(
        name=name,
        label=node.text("label"),
        type=node.choice("type", ("Char", "Num")),  # type: ignore[arg-type]
        arrow=node.choice("parquet", ("string", "float64", "int64", "date32")),  # type: ignore[arg-type]
        origin=node.text("origin"),
        source=node.text("source"),
    )


def parse_spec(text: str, *, file: str = _FILE) -> Spec:
    """Validate an ADaM specification file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "values", "response_aval", "adrs", "adtte")
    meta, values = root.table("meta"), root.table("values")
    meta.texts("sources")
    aval = root.table("response_aval")
    labels: dict[Dataset, str] = {}
    params: dict[Dataset, dict[str, str]] = {}
    variables: dict[Dataset, tuple[Variable, ...]] = {}
    for dataset in DATASETS:
        node = root.table(dataset)
        labels[dataset] = node.text("label")
        params[dataset] = {code: p.text("param") for code, p in node.table("params").children()}
        variables[dataset] = tuple(_variable(v) for v in node.tables("variables"))
        names = [v.name for v in variables[dataset]]
        if len(set(names)) != len(names):
            raise node.fail("variables", "a variable is named twice")
    tte = root.table("adtte")
    events = {k: tte.table("events").text(k) for k in ("death", "progression", "alive",
                                                       "alive_censor", "cutoff")}  # fmt: skip
    sources_node = tte.table("sources")
    sources: dict[str, tuple[str, str]] = {}
    for key in ("death", "recist_progression", "followup_progression", "last_contact", "cutoff"):
        pair = sources_node.texts(key)
        if len(pair) != 2:
            raise sources_node.fail(key, "must be [dataset, variable]")
        sources[key] = (pair[0], pair[1])
    return Spec(
        standard=meta.text("standard"),
        version=meta.text("version"),
        studyid=values.text("STUDYID"),
        siteid=values.text("SITEID"),
        response_aval={k: aval.integer(k, minimum=1) for k in aval.data if k != "source"},
        labels=labels,
        params=params,
        variables=variables,
        events=events,
        sources=sources,
    )


@cache
def spec() -> Spec:
    """The bundled ADaM specification (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_spec(text)


def _first_regimens(program: Program) -> dict[int, str]:
    first: dict[int, tuple[int, str]] = {}
    for course in program.courses:
        known = first.get(course.patient_id)
        if known is None or course.number < known[0]:
            first[course.patient_id] = (course.number, course.regimen_id)
    return {patient: regimen for patient, (_, regimen) in first.items()}


def study_day(day: date, first_dose: date) -> int:
    """ADaM relative day: day 1 is the first dose, the day before it is day -1 (no day 0)."""
    offset = (day - first_dose).days
    return offset + 1 if offset >= 0 else offset


class _Subjects:
    """The subject-level variables of each treated patient, shared by both datasets."""

    def __init__(
        self, program: Program, subject_ids: Mapping[int, str], *, dates: bool, spec: Spec
    ) -> None:
        self.first = first_doses(program)
        self.regimens = _first_regimens(program)
        self.ids, self.dates, self.spec = subject_ids, dates, spec

    def columns(self, patient: Patient) -> Row:
        subject = self.ids.get(patient.patient_id)
        if subject is None:
            raise InvalidInputError(
                field="subject_ids", value=patient.patient_id, allowed="an id for every patient"
            )
        regimen = self.regimens.get(patient.patient_id)
        return {
            "STUDYID": self.spec.studyid,
            "USUBJID": f"{self.spec.studyid}-{subject}",
            "SUBJID": subject,
            "SITEID": self.spec.siteid,
            "DIAGNOS": patient.diagnosis,
            "TRT01P": regimen,
            "TRT01A": regimen,
            "TRTSDT": self.date(self.first.get(patient.patient_id)),
        }

    def date(self, day: date | None) -> date | None:
        return day if self.dates else None


def _ordered(variables: tuple[Variable, ...], row: Row) -> Row:
    return {v.name: row.get(v.name) for v in variables}


def adrs(program: Program, subject_ids: Mapping[int, str], *, dates: bool = True) -> list[Row]:
    """ADRS: one BOR record per treated patient (AVALC MISSING without a response record).

    `subject_ids` gives each patient's SUBJID (the study number); `dates=False` leaves every
    calendar date empty (a researcher's export) and keeps ADY. ANL01FL is Y on exactly the
    records il2's response rates count, so ORR = (CR + PR) / records flagged.
    """
    table = spec()
    subjects = _Subjects(program, subject_ids, dates=dates, spec=table)
    responses = {r.patient_id: r for r in program.responses}
    variables = table.variables["adrs"]
    rows = []
    for patient in program.patients:
        if not patient.treated:
            continue
        response = responses.get(patient.patient_id)
        category = response.best_overall_response if response else "MISSING"
        day = _bor_date(response)
        first = subjects.first.get(patient.patient_id)
        row: Row = {
            **subjects.columns(patient),
            "PARAMCD": "BOR",
            "PARAM": table.params["adrs"]["BOR"],
            "AVALC": category,
            "AVAL": float(table.response_aval[category]),
            "ADT": subjects.date(day),
            "ADY": study_day(day, first) if day and first else None,
            "ANL01FL": "Y" if response else None,
        }
        rows.append(_ordered(variables, row))
    return rows


def _bor_date(response: Response | None) -> date | None:
    """The date of the assessment the BOR was found at, where il2 keeps it."""
    if response is None:
        return None
    if response.best_overall_response in RESPONDERS:
        return response.response_on
    if response.best_overall_response == "PD":
        return response.progression_on
    return None


@dataclass(frozen=True, slots=True)
class _End:
    day: date
    kind: str  # a key of Spec.events
    source: str  # a key of Spec.sources


def _earliest(*ends: _End | None) -> _End | None:
    # Ties keep the first given (progression before death): AVAL and CNSR do not change.
    present = [e for e in ends if e is not None]
    return min(present, key=lambda e: e.day) if present else None


def _death(patient: Patient, _: Response | None) -> _End | None:
    return _End(patient.death_on, "death", "death") if patient.death_on else None


def _progressions(
    patient: Patient, response: Response | None, *, since: date | None
) -> tuple[_End | None, _End | None]:
    recist = response.progression_on if response else None
    clinical = patient.progression_on
    if clinical is not None and since is not None and clinical < since:
        clinical = None  # a follow-up's progression before the response does not end it
    return (
        _End(recist, "progression", "recist_progression") if recist else None,
        _End(clinical, "progression", "followup_progression") if clinical else None,
    )


def _os_end(patient: Patient, response: Response | None) -> _End | None:
    return _death(patient, response)


def _pfs_end(patient: Patient, response: Response | None) -> _End | None:
    return _earliest(*_progressions(patient, response, since=None), _death(patient, response))


def _rsd_end(patient: Patient, response: Response | None) -> _End | None:
    since = response.response_on if response else None
    return _earliest(*_progressions(patient, response, since=since), _death(patient, response))


def adtte(program: Program, subject_ids: Mapping[int, str], *, dates: bool = True) -> list[Row]:
    """ADTTE: OS, PFS and RSD (duration of response) records, one per subject per parameter.

    The populations, origins, events and censoring are il2's report's (science.survival):
    treated patients from the first dose (OS; PFS), responders from the first CR or PR (RSD);
    Program.unfollowed leave every parameter and Program.unprogressed leave PFS and RSD. An
    event after the data cut-off is censored there. AVAL = ADT - STARTDT in days (never below
    0); CNSR 0 is an event, 1 a censored time.
    """
    table = spec()
    subjects = _Subjects(program, subject_ids, dates=dates, spec=table)
    responses = {r.patient_id: r for r in program.responses}
    variables = table.variables["adtte"]
    rows = []
    for patient in program.patients:
        if not patient.treated or patient.patient_id in program.unfollowed:
            continue
        response = responses.get(patient.patient_id)
        first = subjects.first.get(patient.patient_id)
        progression_known = patient.patient_id not in program.unprogressed
        responded = (
            response.response_on
            if response and response.best_overall_response in RESPONDERS
            else None
        )
        for code, start, end in (
            ("OS", first, _os_end),
            ("PFS", first if progression_known else None, _pfs_end),
            ("RSD", responded if progression_known else None, _rsd_end),
        ):
            if start is None or start > program.as_of:
                continue
            row = _tte_row(table, program.as_of, patient, start, end(patient, response))
            row.update(subjects.columns(patient))
            row["PARAMCD"], row["PARAM"] = code, table.params["adtte"][code]
            row["STARTDT"] = subjects.date(start)
            row["ADT"] = subjects.date(row["ADT"])  # type: ignore[arg-type]
            rows.append(_ordered(variables, row))
    return rows


def _tte_row(table: Spec, as_of: date, patient: Patient, start: date, end: _End | None) -> Row:
    if end is not None and end.day <= as_of:
        stop, event, censor, source = end.day, table.events[end.kind], 0, end.source
        described = None
    elif patient.last_contact_on <= as_of:
        stop, censor, source = patient.last_contact_on, 1, "last_contact"
        event, described = table.events["alive"], table.events["alive_censor"]
    else:
        stop, censor, source = as_of, 1, "cutoff"
        event = described = table.events["cutoff"]
    domain, variable = table.sources[source]
    return {
        "AVAL": float(max((stop - start).days, 0)),
        "AVALU": "DAYS",
        "ADT": stop,
        "CNSR": censor,
        "EVNTDESC": event,
        "CNSDTDSC": described,
        "SRCDOM": domain,
        "SRCVAR": variable,
        "SRCSEQ": None,
    }


BUILDERS = {"adrs": adrs, "adtte": adtte}
