"""Studies a program runs, their arms, and which arm each patient is assigned to.

Program data, not clinical rules: a study (for example NCT01416831, SBRT then high-dose IL-2
against high-dose IL-2 alone) has two or more arms, and a patient is assigned to at most one
arm of a study at a time. Assignments are never overwritten: each patient's assignments in a
study form one numbered chain (1, 2, ...): an assignment, then perhaps a correction (another
arm, with a reason) or a withdrawal (with a reason), then perhaps a new assignment; the last
record of the chain says where the patient stands. The database keeps the chain unbroken (one
record per study, patient and number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

MIN_ARMS = 2
MAX_ARMS = 10
ARM_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
ARM_CODE_WORDS = "1-20 lower-case letters, digits or hyphens, starting with a letter or digit"
REGISTRY_FORMATS: Mapping[str, re.Pattern[str]] = {
    "ClinicalTrials.gov (NCT followed by 8 digits, e.g. NCT01416831)": re.compile(r"NCT\d{8}"),
    "ISRCTN (ISRCTN followed by 8 digits)": re.compile(r"ISRCTN\d{8}"),
    "EudraCT (YYYY-NNNNNN-NN)": re.compile(r"(19|20)\d{2}-\d{6}-\d{2}"),
    "EU CT (YYYY-NNNNNN-NN-NN)": re.compile(r"(19|20)\d{2}-\d{6}-\d{2}-\d{2}"),
}


def registry_format(registry_id: str) -> str | None:
    """The registry whose format `registry_id` has, or None when it has none of them."""
    for registry, pattern in REGISTRY_FORMATS.items():
        if pattern.fullmatch(registry_id):
            return registry
    return None


class AssignmentKind(StrEnum):
    """What one record of a patient's chain in a study does."""

    ASSIGNED = "assigned"
    """Into an arm: the first record, or after a withdrawal."""
    CORRECTED = "corrected"
    """Into another arm, replacing an assignment recorded wrongly (with a reason)."""
    WITHDRAWN = "withdrawn"
    """Out of the study (with a reason): the patient is in no arm of it now."""


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of a study: a short id (`code`, unique in its study), a name and a description."""

    id: int
    study_id: int
    code: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Study:
    """A study the program runs, with its arms in the order they were defined."""

    id: int
    name: str
    registry_id: str | None
    description: str
    arms: tuple[Arm, ...]
    recorded_by: str
    recorded_at: datetime

    def arm(self, arm_id: int) -> Arm | None:
        """The study's arm with this id."""
        return next((a for a in self.arms if a.id == arm_id), None)

    def arm_by_code(self, code: str) -> Arm | None:
        """The study's arm with this short id."""
        return next((a for a in self.arms if a.code == code), None)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One record of a patient's chain in a study: `sequence` 1, 2, ... in the chain; `arm_id`
    the arm the patient is in from `on` (None when withdrawn)."""

    id: int
    study_id: int
    patient_id: int
    sequence: int
    kind: AssignmentKind
    arm_id: int | None
    on: date
    reason: str | None
    recorded_by: str
    recorded_at: datetime


def current(chain: Iterable[Assignment]) -> Assignment | None:
    """The last record of one patient's chain in one study (None: never assigned)."""
    return max(chain, key=lambda a: a.sequence, default=None)


def _last(assignments: Iterable[Assignment], *, with_arm: bool) -> dict[int, Assignment]:
    last: dict[int, Assignment] = {}
    for record in assignments:
        if with_arm and record.arm_id is None:
            continue
        known = last.get(record.patient_id)
        if known is None or record.sequence > known.sequence:
            last[record.patient_id] = record
    return last


def current_arms(assignments: Iterable[Assignment]) -> dict[int, int]:
    """Each patient's arm now, by patient id, from every record of one study (the last record
    of each chain; a patient withdrawn is in no arm)."""
    return {
        p: a.arm_id for p, a in _last(assignments, with_arm=False).items() if a.arm_id is not None
    }


def intention_to_treat_arms(assignments: Iterable[Assignment]) -> dict[int, int]:
    """Each patient's arm for an intention-to-treat analysis, by patient id: the last arm the
    chain assigned them to (a correction replaces a wrong arm), whether or not they were ever
    treated and whether or not they were withdrawn later."""
    return {
        p: a.arm_id for p, a in _last(assignments, with_arm=True).items() if a.arm_id is not None
    }


def intention_to_treat_assigned_on(assignments: Iterable[Assignment]) -> dict[int, date]:
    """Each patient's time zero for an intention-to-treat analysis, by patient id: the date of
    the assignment that put them in their intention-to-treat arm (randomisation). A correction
    keeps the date of the assignment it corrects; an assignment after a withdrawal has its own.
    """
    chains: dict[int, list[Assignment]] = {}
    for record in assignments:
        chains.setdefault(record.patient_id, []).append(record)
    dates: dict[int, date] = {}
    for patient, chain in chains.items():
        in_arm = _last(chain, with_arm=True).get(patient)
        if in_arm is None:
            continue
        assigned = [
            r for r in chain if r.kind is AssignmentKind.ASSIGNED and r.sequence <= in_arm.sequence
        ]
        dates[patient] = max(assigned, key=lambda r: r.sequence, default=in_arm).on
    return dates
