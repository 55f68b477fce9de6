"""Builders for odd records: written straight through the repositories, past every check the
use cases make, as an old import, a bug or a hand edit might have left them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from il2.bootstrap import App
from il2.domain.records import CourseRecord, DoseOutcome
from il2.services.courses import course_fields

BY = "odd-records-builder"
REGIMEN = "hd-label"


def at(day: date, hour: int = 8) -> datetime:
    """A moment on `day` (UTC)."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class OddRecords:
    """Writes records as they are given, with no rule applied."""

    app: App

    def _now(self) -> datetime:
        return self.app.services.clock()

    def patient(
        self, mrn: str, *, diagnosis: str = "melanoma", referred_on: date = date(2026, 1, 5)
    ) -> int:
        """A registered patient; returns the id."""
        with self.app.services.uow() as uow:
            patient = uow.patients.add(
                mrn=mrn,
                name=f"Odd {mrn}",
                birth_date=date(1960, 3, 1),
                sex="female",
                diagnosis=diagnosis,
                referred_on=referred_on,
                at=self._now(),
            )
            uow.commit()
        return patient.id

    def course(self, patient_id: int, first_dose: datetime, *, number: int = 1) -> CourseRecord:
        """A planned course (the plan as planning makes it, the course kept without its checks)."""
        fields = course_fields(
            self.app.services, regimen=REGIMEN, weight_kg="80", first_dose=first_dose.isoformat()
        )
        with self.app.services.uow() as uow:
            course = uow.courses.add(
                patient_id=patient_id, number=number, **fields, recorded_by=BY, at=self._now()
            )
            uow.commit()
        return course

    def dose(
        self,
        course: CourseRecord,
        cycle: int,
        number: int,
        given_at: datetime | None,
        *,
        outcome: DoseOutcome = DoseOutcome.GIVEN,
    ) -> None:
        """A ledger line, as given."""
        with self.app.services.uow() as uow:
            uow.doses.add(
                course_id=course.id,
                cycle=cycle,
                dose_number=number,
                outcome=outcome,
                assessment={},
                decision={},
                decision_action="give" if outcome is DoseOutcome.GIVEN else "hold",
                rules_version="odd",
                given_at=given_at,
                verified_by=None,
                override_reason=None,
                override_by=None,
                idempotency_key=None,
                recorded_by=BY,
                at=self._now(),
            )
            uow.commit()

    def doses_as_planned(self, course: CourseRecord, cycle: int, count: int) -> None:
        """The cycle's first `count` doses given at their due times."""
        planned = next(c for c in course.plan["cycles"] if c["cycle"] == cycle)
        for dose in planned["doses"][:count]:
            self.dose(course, cycle, dose["number"], datetime.fromisoformat(dose["due_at"]))

    def entry(
        self,
        patient_id: int,
        kind: str,
        observed_on: date,
        content: dict[str, Any],
        *,
        course_id: int | None = None,
    ) -> None:
        """A clinical entry, as given."""
        with self.app.services.uow() as uow:
            uow.entries.add(
                patient_id=patient_id,
                kind=kind,
                course_id=course_id,
                observed_on=observed_on,
                content=content,
                summary=f"{kind} (odd record)",
                corrects_id=None,
                reason=None,
                recorded_by=BY,
                at=self._now(),
            )
            uow.commit()

    def response(
        self,
        patient_id: int,
        best: str,
        *,
        baseline_on: date,
        assessed_on: date,
        response_on: date | None = None,
        progression_on: date | None = None,
        change_pct: float | None = -50.0,
    ) -> None:
        """A response assessment carrying a RECIST result."""
        recist = {
            "best_overall_response": best,
            "response_on": response_on.isoformat() if response_on else None,
            "progression_on": progression_on.isoformat() if progression_on else None,
            "best_change_from_baseline_pct": change_pct,
            "timepoints": [
                {"date": baseline_on.isoformat(), "change_from_baseline_pct": None},
                {"date": assessed_on.isoformat(), "change_from_baseline_pct": change_pct},
            ],
        }
        self.entry(patient_id, "response", assessed_on, {"recist": recist})

    def toxicity(
        self, patient_id: int, course_id: int, observed_on: date, grades: list[tuple[str, int]]
    ) -> None:
        """A toxicity entry with these (term, grade) pairs."""
        content = {"grades": {"grades": [{"term": t, "grade": g} for t, g in grades]}}
        self.entry(patient_id, "toxicity", observed_on, content, course_id=course_id)

    def death(self, patient_id: int, on: date) -> None:
        """A follow-up recording death."""
        self.entry(patient_id, "follow_up", on, {"status": "dead"})


def due_time(course: CourseRecord, cycle: int, number: int = 1) -> datetime:
    """The planned due time of a dose of the course."""
    planned = next(c for c in course.plan["cycles"] if c["cycle"] == cycle)
    return datetime.fromisoformat(planned["doses"][number - 1]["due_at"])
