"""A patient's record (as `read_patient` returns it) shaped for the pages that show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from il2.domain.errors import NotFoundError

Record = Mapping[str, Any]


def label(record: Record) -> str:
    """The patient's name, or their study number for a de-identified record."""
    patient = record["patient"]
    return str(patient.get("name") or patient.get("study_id") or f"patient {patient['id']}")


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned dose and its ledger entry, if any."""

    cycle: int
    number: int
    day: int
    due_at: str
    record: Mapping[str, Any] | None
    home: str = ""
    """What the patient's diary reports of a self-injected dose (taken_at_home, missed_at_home)."""

    @property
    def status(self) -> str:
        """given / held / stopped, what the diary reports, or planned when nothing is."""
        if self.record:
            return str(self.record["outcome"])
        return self.home or "planned"

    @property
    def overridden(self) -> bool:
        """Whether a physician gave this dose against the before-dose decision."""
        return bool(self.record and self.record.get("override_by"))


@dataclass(frozen=True, slots=True)
class Cycle:
    """A cycle of a course with its dose slots."""

    number: int
    first_day: str
    slots: tuple[Slot, ...]

    def count(self, status: str) -> int:
        """How many slots have this status."""
        return sum(1 for s in self.slots if s.status == status)


@dataclass(frozen=True, slots=True)
class Course:
    """A planned course, its plan document and its cycles."""

    id: int
    number: int
    regimen_id: str
    weight_kg: str
    first_dose_at: str
    plan: Mapping[str, Any]
    recorded_by: str
    cycles: tuple[Cycle, ...] = field(default=())

    def slot(self, cycle: int, number: int) -> Slot:
        """One dose slot, or NotFoundError naming it."""
        for c in self.cycles:
            for s in c.slots:
                if (s.cycle, s.number) == (cycle, number):
                    return s
        raise NotFoundError(kind=f"dose slot of course {self.number}", key=f"{cycle}.{number}")

    @property
    def doses(self) -> list[Mapping[str, Any]]:
        """The ledger, in dose order."""
        return [s.record for c in self.cycles for s in c.slots if s.record]


def plan_cycles(
    plan: Mapping[str, Any],
    ledger: Mapping[tuple[int, int], Mapping[str, Any]] | None = None,
    home: Mapping[tuple[int, int], str] | None = None,
) -> tuple[Cycle, ...]:
    """A plan document's cycles, each slot matched to its ledger entry (keyed cycle, number)
    and to what the diary reports of it."""
    recorded = ledger or {}
    reported = home or {}
    return tuple(
        Cycle(
            number=c["cycle"],
            first_day=c["first_day"],
            slots=tuple(
                Slot(
                    cycle=c["cycle"],
                    number=d["number"],
                    day=d.get("day", 0),
                    due_at=d["due_at"],
                    record=recorded.get((c["cycle"], d["number"])),
                    home=reported.get((c["cycle"], d["number"]), ""),
                )
                for d in c["doses"]
            ),
        )
        for c in plan.get("cycles", [])
    )


def courses(record: Record) -> list[Course]:
    """The patient's courses with every slot matched to its ledger entry."""
    result = []
    for raw in record["courses"]:
        ledger = {
            (d["cycle"], d["dose_number"]): d
            for d in record["doses"]
            if d["course_id"] == raw["id"]
        }
        home = {
            (e["cycle"], e["dose_number"]): f"{e['status']}_at_home"
            for e in record.get("diary", [])
            if e["course_id"] == raw["id"] and e["current"]
        }
        result.append(
            Course(
                id=raw["id"],
                number=raw["number"],
                regimen_id=raw["regimen_id"],
                weight_kg=raw["weight_kg"],
                first_dose_at=raw["first_dose_at"],
                plan=raw["plan"],
                recorded_by=raw["recorded_by"],
                cycles=plan_cycles(raw["plan"], ledger, home),
            )
        )
    return result


def days(cycle: Cycle, zone: tzinfo) -> list[tuple[date, list[Slot]]]:
    """A cycle's slots by calendar day in the site's time zone."""
    by_day: dict[date, list[Slot]] = {}
    for slot in cycle.slots:
        local = datetime.fromisoformat(slot.due_at).astimezone(zone).date()
        by_day.setdefault(local, []).append(slot)
    return sorted(by_day.items())


def course(record: Record, course_id: int) -> Course:
    """One of the patient's courses, or NotFoundError."""
    for found in courses(record):
        if found.id == course_id:
            return found
    raise NotFoundError(kind="course of this patient", key=str(course_id))


def current(entries: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """Entries of a kind with the corrected ones left out (the newest of a chain stands)."""
    corrected = {e["corrects_id"] for e in entries if e.get("corrects_id")}
    return [e for e in entries if e["kind"] == kind and e["id"] not in corrected]


def discharges(entries: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Each course's latest current discharge day (ISO), by course id."""
    found: dict[int, str] = {}
    for entry in current(entries, "discharge"):
        day = str(entry["observed_on"])
        course_id = int(entry["course_id"])
        found[course_id] = max(found.get(course_id, day), day)
    return found


def hours_between(earlier: str, later: datetime) -> float:
    """Hours from an ISO date-time to a moment, to two decimals (as the ledger counts them)."""
    return round((later - datetime.fromisoformat(earlier)).total_seconds() / 3600, 2)


@dataclass(frozen=True, slots=True)
class TermGrades:
    """One CTCAE term across a patient's toxicity entries: its worst grade and its latest."""

    term: str
    name: str
    worst: int
    worst_on: str
    latest: int
    latest_on: str
    entries: int


def worst_grades(
    toxicities: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> list[TermGrades]:
    """Each term's worst grade (first reached on), and its latest grade, worst first.

    Every current entry counts, however many later entries there are: a grade 3 stays on the
    chart behind any number of later grade 1s. `names` gives each term id its CTCAE name.
    """
    seen: dict[str, list[tuple[str, int, int]]] = {}
    for order, entry in enumerate(toxicities):
        for graded in entry["content"].get("grades", {}).get("grades", []):
            day = str(entry["observed_on"])
            seen.setdefault(str(graded["term"]), []).append((day, order, int(graded["grade"])))
    rows = []
    for term, found in seen.items():
        ordered = sorted(found)
        worst = max(grade for _, _, grade in ordered)
        first_worst = next(day for day, _, grade in ordered if grade == worst)
        latest_on, _, latest = ordered[-1]
        rows.append(
            TermGrades(
                term=term,
                name=names.get(term, term.replace("_", " ")),
                worst=worst,
                worst_on=first_worst,
                latest=latest,
                latest_on=latest_on,
                entries=len(ordered),
            )
        )
    return sorted(rows, key=lambda r: (-r.worst, r.name))
