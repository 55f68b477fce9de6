"""Data quality: the records outcome analysis cannot use as they stand, and what it leaves out.

Records are kept as entered, and some do not fit together: a dose dated before its cycle's
first planned day, a dose given with no time, a response dated before the first dose or its
baseline scan, a death recorded before a later dose or visit, a toxicity grade outside CTCAE.
Outcome analysis never fails on such a record. Each one is listed here, patient by patient,
with what is wrong in words a researcher understands, and the patient is left out of exactly
the figures that record would corrupt (and counted everywhere else).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from il2.domain.deidentify import days_in_text, study_number
from il2.domain.errors import InvalidInputError
from il2.domain.records import CourseOutline, CycleTally, EntryOutline

USE = "beds, cycles, doses and vials per year; doses per cycle"
RESPONSE = "response rates; waterfall and spider plots"
PROGRESSION = "progression-free survival; duration of response; swimmer plot"
SURVIVAL = "overall survival; progression-free survival; duration of response; swimmer plot"
TOXICITY = "toxicity"
EVERYTHING = "every figure (the patient is left out of the analysis)"

KNOWN_RESPONSES = ("CR", "PR", "SD", "non-CR/non-PD", "PD", "NE")
DIAGNOSIS_NAMES = {"renal_cell_carcinoma": "renal cell carcinoma", "melanoma": "melanoma"}
CTCAE_GRADES = range(1, 6)


@dataclass(frozen=True, slots=True)
class Problem:
    """One record that does not fit: whose, which record, what is wrong, what it is left out of."""

    patient_id: int
    record: str
    problem: str
    excluded_from: tuple[str, ...]
    day_zero: date | None = None
    """The patient's day 0 (first dose, else referral), set once the program is read."""

    def document(self, key: bytes) -> dict[str, Any]:
        """The problem as the outcome summary and the audit trail keep it: the study number
        under `key`, no internal id, and dates as days from the patient's day 0 (Safe
        Harbor, domain/deidentify.py)."""

        def words(text: str) -> str:
            return days_in_text(text, self.day_zero) if self.day_zero else text

        return {
            "study_id": study_number(self.patient_id, key=key),
            "record": words(self.record),
            "problem": words(self.problem),
            "excluded_from": list(self.excluded_from),
        }


def summary(problems: Sequence[Problem], *, key: bytes) -> dict[str, Any]:
    """The `data_quality` block of the outcome summary (study numbers under `key`)."""
    return {
        "patients_with_problems": len({p.patient_id for p in problems}),
        "problems": [p.document(key) for p in problems],
        "method": (
            "Each patient's records are checked before analysis. A record that does not fit "
            "the others is listed here and its patient is left out of the figures named beside "
            "it; the patient counts in every other figure."
        ),
    }


def iso_day(iso: str) -> date:
    """The date of an ISO date-time text as it was written (no time-zone shift)."""
    return datetime.fromisoformat(iso).date()


def diagnosis_problem(patient_id: int, diagnosis: str) -> Problem | None:
    """A diagnosis the analysis does not know leaves the patient out of everything."""
    if diagnosis in DIAGNOSIS_NAMES:
        return None
    return Problem(
        patient_id,
        "registration",
        f"The diagnosis “{diagnosis}” is not one the analysis reports on "
        f"({' or '.join(DIAGNOSIS_NAMES.values())}).",
        (EVERYTHING,),
    )


def cycle_problems(
    course: CourseOutline,
    tallies: Mapping[int, CycleTally],
    untimed: Mapping[tuple[int, int], int],
) -> tuple[list[Problem], set[int]]:
    """The course's cycles whose stay cannot be counted, and why: a dose dated before the
    cycle's first planned day (it would be discharged before admission), or a dose recorded
    as given with no time (its stay would be guessed)."""
    problems: list[Problem] = []
    bad: set[int] = set()
    for number, due_at in course.cycle_starts:
        tally = tallies.get(number)
        if tally is None:
            continue
        record = f"course {course.number}, cycle {number}"
        due = datetime.fromisoformat(due_at)
        # The first planned day, in the plan's time zone and in UTC (as given doses are read),
        # whichever is earlier: a dose is flagged only when it falls before it in both.
        admitted = min(due.date(), due.astimezone(UTC).date() if due.tzinfo else due.date())
        if tally.last_given_on is not None and tally.last_given_on < admitted:
            bad.add(number)
            problems.append(
                Problem(
                    course.patient_id,
                    record,
                    f"A dose is recorded as given on {tally.last_given_on.isoformat()}, before "
                    f"the cycle's first planned day ({admitted.isoformat()}): the stay would end "
                    "before the admission.",
                    (USE,),
                )
            )
        missing = untimed.get((course.id, number), 0)
        if missing:
            bad.add(number)
            doses = "dose is" if missing == 1 else "doses are"
            problems.append(
                Problem(
                    course.patient_id,
                    record,
                    f"{missing} {doses} recorded as given without the time given: the length "
                    "of the stay is unknown.",
                    (USE,),
                )
            )
    return problems, bad


def _response_issue(entry: EntryOutline, first_dose: date) -> str | None:
    result = entry.recist
    if result is None:
        return None
    if result.best_overall_response not in KNOWN_RESPONSES:
        return f"the best overall response “{result.best_overall_response}” is not a RECIST 1.1 one"
    baseline = iso_day(result.timepoints[0][0]) if result.timepoints else None
    for name, value in (("response", result.response_on), ("progression", result.progression_on)):
        if value is None:
            continue
        day = date.fromisoformat(value)
        if day < first_dose:
            return f"the {name} is dated {value}, before the first dose ({first_dose.isoformat()})"
        if baseline is not None and day < baseline:
            return f"the {name} is dated {value}, before its baseline scan ({baseline.isoformat()})"
    change = result.best_change_from_baseline_pct
    if change is not None and not (math.isfinite(change) and change >= -100.0):
        return f"the best change from baseline ({change} %) is below -100 %"
    return None


def response_problems(
    patient_id: int, entries: Sequence[EntryOutline], first_dose: date
) -> list[Problem]:
    """Response assessments that cannot be right; any one leaves the patient's response out."""
    problems = []
    for entry in entries:
        if entry.kind != "response":
            continue
        issue = _response_issue(entry, first_dose)
        if issue:
            problems.append(
                Problem(
                    patient_id,
                    f"response assessment of {entry.observed_on.isoformat()}",
                    issue[0].upper() + issue[1:] + ".",
                    (RESPONSE, PROGRESSION),
                )
            )
    return problems


def toxicity_problems(
    patient_id: int, entry: EntryOutline, course_ids: set[int]
) -> tuple[list[Problem], tuple[tuple[str, int], ...]]:
    """A toxicity's grades that cannot be counted, and the grades that can."""
    record = f"toxicity of {entry.observed_on.isoformat()}"
    if entry.course_id not in course_ids:
        problem = Problem(
            patient_id,
            record,
            "It is recorded against a course that is not one of this patient's.",
            (TOXICITY,),
        )
        return [problem], ()
    problems = []
    kept = []
    for term, grade in entry.grades:
        if grade == 0 or grade in CTCAE_GRADES:
            kept.append((term, grade))
            continue
        problems.append(
            Problem(
                patient_id,
                record,
                f"{term.replace('_', ' ').capitalize()} is graded {grade}; CTCAE grades run "
                "from 1 to 5.",
                (TOXICITY,),
            )
        )
    return problems, tuple(kept)


def death_problem(
    patient_id: int, death: date, later: Sequence[tuple[date, str]]
) -> Problem | None:
    """A death recorded before a dose, a response or a visit of the same patient."""
    after = [(day, what) for day, what in later if day > death]
    if not after:
        return None
    day, what = max(after)
    return Problem(
        patient_id,
        f"follow-up of {death.isoformat()}",
        f"Death is recorded on {death.isoformat()}, before {what} on {day.isoformat()}.",
        (SURVIVAL,),
    )


def unusable(patient_id: int, error: Exception) -> Problem:
    """A record the analysis refused for a reason no check above names."""
    if isinstance(error, InvalidInputError):
        words = error.field.replace(".", ": ").replace("_", " ")
        what = f"{words}; expected {error.allowed}"
    else:
        what = "a value it cannot read"
    return Problem(
        patient_id,
        "records",
        f"A record does not fit the analysis ({what}).",
        (EVERYTHING,),
    )
