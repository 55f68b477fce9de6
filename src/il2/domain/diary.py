"""The patient's diary of outpatient self-injection: what the patient reports of each injection.

An outpatient regimen given under the skin (setting `outpatient`, route `subcutaneous`) is
injected by the patient at home. Their nurse or coordinator enters what the patient (or a
caregiver) reports for each planned injection of the course's plan, identified as the dose
ledger identifies a dose (course, cycle, dose number): taken, with the date-time it was taken,
or missed, with a reason if one was given, and the side effects felt, each a CTCAE v5.0 term
with a grade that term has.

Nothing is deleted: a correction is a new entry that points at the entry it replaces
(`corrects_id`), and the entry no other entry corrects is the current one of its injection. The
database keeps one first entry per injection and lets an entry be corrected once, so each
injection has one chain and one current entry.

The summary counts, up to a given moment, the injections planned (those whose day has come, in
the site's time zone), taken, missed and not yet reported; adherence is taken over planned,
as an exact fraction; side effects by term with the highest grade reported; and the dose taken
in IU (each taken injection at its planned dose).

Pure: `now`, the time zone and the CTCAE table come in as arguments.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from fractions import Fraction
from typing import Any

from il2.domain.ctcae import CtcaeTable
from il2.domain.errors import InvalidInputError
from il2.domain.regimen import CareSetting, Regimen, Route


class Taken(StrEnum):
    """What the patient reports of one planned injection."""

    TAKEN = "taken"
    MISSED = "missed"


class Reporter(StrEnum):
    """Who reported the injection to the nurse or coordinator."""

    PATIENT = "patient"
    CAREGIVER = "caregiver"


MAX_SIDE_EFFECTS = 20
"""Side effects one entry may list (a data-entry bound, not a clinical one)."""


@dataclass(frozen=True, slots=True)
class PlannedInjection:
    """One planned injection of a course: its slot, when it is due and its dose in IU."""

    cycle: int
    dose_number: int
    due_at: datetime
    dose_iu: int


@dataclass(frozen=True, slots=True)
class SideEffect:
    """A side effect the patient reports: a CTCAE v5.0 term id and a grade the term has."""

    term: str
    grade: int


@dataclass(frozen=True, slots=True)
class Report:
    """What is entered for one injection (checked by `check_report`)."""

    status: Taken
    taken_at: datetime | None
    missed_reason: str | None
    side_effects: tuple[SideEffect, ...]
    reported_by: Reporter
    note: str | None


@dataclass(frozen=True, slots=True)
class DiaryEntry:
    """One kept entry of the diary: the report for an injection, and the chain it is in."""

    id: int
    course_id: int
    cycle: int
    dose_number: int
    report: Report
    corrects_id: int | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class SideEffectSummary:
    """One term reported in the diary: the highest grade and how many entries report it."""

    term: str
    name: str
    highest_grade: int
    entries: int


@dataclass(frozen=True, slots=True)
class DiarySummary:
    """The diary counted up to `as_of`: `adherence` is taken / planned (None: none planned)."""

    as_of: datetime
    planned: int
    planned_to_date: int
    taken: int
    missed: int
    not_reported: int
    adherence: Fraction | None
    taken_iu: int
    side_effects: tuple[SideEffectSummary, ...]
    in_clinic: int = 0


def is_self_injected(regimen: Regimen) -> bool:
    """Whether the patient injects the regimen at home (outpatient, subcutaneous)."""
    return regimen.setting is CareSetting.OUTPATIENT and regimen.route is Route.SUBCUTANEOUS


def check_self_injected(regimen: Regimen, regimens: Iterable[Regimen]) -> None:
    """Refuse a course whose regimen the patient does not inject at home."""
    if not is_self_injected(regimen):
        kept = sorted(r.id for r in regimens if is_self_injected(r))
        raise InvalidInputError(
            field="course",
            value=f"a course of {regimen.id} ({regimen.route.value}, {regimen.setting.value})",
            allowed="a course of an outpatient regimen the patient injects under the skin at "
            f"home, which has a diary: {', '.join(kept) or 'none in the library'}",
        )


def planned_injections(plan: Mapping[str, Any]) -> tuple[PlannedInjection, ...]:
    """Every planned injection of a course's plan document, in cycle and dose order."""
    return tuple(
        PlannedInjection(
            cycle=int(cycle["cycle"]),
            dose_number=int(dose["number"]),
            due_at=datetime.fromisoformat(dose["due_at"]),
            dose_iu=int(dose["dose_iu"]),
        )
        for cycle in plan.get("cycles", [])
        for dose in cycle["doses"]
    )


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def day_has_come(injection: PlannedInjection, *, now: datetime, zone: tzinfo) -> bool:
    """Whether the injection's day (in the site's time zone) is today or past."""
    return _day(injection.due_at, zone) <= _day(now, zone)


def find_injection(
    planned: Sequence[PlannedInjection],
    *,
    cycle: int,
    dose_number: int,
    now: datetime,
    zone: tzinfo,
) -> PlannedInjection:
    """The planned injection (cycle, dose number), refused unless the plan has it and its day
    has come."""
    cycles = sorted({p.cycle for p in planned})
    if cycle not in cycles:
        raise InvalidInputError(
            field="cycle",
            value=cycle,
            allowed="a cycle of the course's plan: " + ", ".join(str(c) for c in cycles),
        )
    numbers = [p.dose_number for p in planned if p.cycle == cycle]
    found = next((p for p in planned if (p.cycle, p.dose_number) == (cycle, dose_number)), None)
    if found is None:
        raise InvalidInputError(
            field="dose_number",
            value=dose_number,
            allowed=f"an injection of cycle {cycle} of the plan: {min(numbers)} to {max(numbers)}",
        )
    today = _day(now, zone)
    if _day(found.due_at, zone) > today:
        raise InvalidInputError(
            field="dose_number",
            value=dose_number,
            allowed=f"an injection planned up to today ({today.isoformat()}); injection "
            f"{cycle}.{dose_number} is planned on {_day(found.due_at, zone).isoformat()}",
        )
    return found


def check_taken_at(
    taken_at: datetime, *, now: datetime, planned: Sequence[PlannedInjection], zone: tzinfo
) -> None:
    """Refuse a time taken in the future or before the course's first planned day."""
    if taken_at > now:
        raise InvalidInputError(
            field="taken_at",
            value=taken_at.isoformat(),
            allowed=f"a date-time not after now ({now.isoformat(timespec='minutes')})",
        )
    first = min(_day(p.due_at, zone) for p in planned)
    if _day(taken_at, zone) < first:
        raise InvalidInputError(
            field="taken_at",
            value=taken_at.isoformat(),
            allowed=f"a date-time on or after the course's first planned day ({first.isoformat()})",
        )


def check_side_effects(effects: Sequence[SideEffect], table: CtcaeTable) -> None:
    """Refuse an unknown term, a grade the term does not have, or a term listed twice."""
    if len(effects) > MAX_SIDE_EFFECTS:
        raise InvalidInputError(
            field="side_effects",
            value=f"{len(effects)} side effects",
            allowed=f"at most {MAX_SIDE_EFFECTS}",
        )
    seen: set[str] = set()
    for place, effect in enumerate(effects):
        term = table.terms.get(effect.term)
        if term is None:
            raise InvalidInputError(
                field=f"side_effects[{place}].term",
                value=effect.term,
                allowed=f"a CTCAE v{table.version} term id, such as injection_site_reaction, "
                "fever, chills or nausea",
            )
        if effect.grade not in term.grades:
            grades = ", ".join(str(g) for g in sorted(term.grades))
            raise InvalidInputError(
                field=f"side_effects[{place}].grade",
                value=effect.grade,
                allowed=f"a grade {term.name} has in CTCAE v{table.version}: {grades}",
            )
        if effect.term in seen:
            raise InvalidInputError(
                field=f"side_effects[{place}].term",
                value=effect.term,
                allowed="a term not listed already in this entry (give its highest grade once)",
            )
        seen.add(effect.term)


def check_report(
    report: Report,
    *,
    now: datetime,
    planned: Sequence[PlannedInjection],
    zone: tzinfo,
    table: CtcaeTable,
) -> None:
    """Refuse a report whose parts do not fit: a taken injection needs its time (and no
    missed reason), a missed one no time; side effects as `check_side_effects`."""
    if report.status is Taken.TAKEN:
        if report.taken_at is None:
            raise InvalidInputError(
                field="taken_at", value=None, allowed="the date and time the injection was taken"
            )
        if report.missed_reason is not None:
            raise InvalidInputError(
                field="missed_reason",
                value="(given)",
                allowed="no missed reason for an injection taken",
            )
        check_taken_at(report.taken_at, now=now, planned=planned, zone=zone)
    elif report.taken_at is not None:
        raise InvalidInputError(
            field="taken_at",
            value=report.taken_at.isoformat(),
            allowed="no time for a missed injection",
        )
    check_side_effects(report.side_effects, table)


def current_entries(entries: Iterable[DiaryEntry]) -> dict[tuple[int, int], DiaryEntry]:
    """Each injection's current entry, by (cycle, dose number): the one no entry corrects.

    Should a chain ever hold two uncorrected entries (the database refuses it), the newest
    counts, so the diary never counts one injection twice.
    """
    kept = list(entries)
    corrected = {e.corrects_id for e in kept if e.corrects_id is not None}
    current: dict[tuple[int, int], DiaryEntry] = {}
    for entry in kept:
        if entry.id in corrected:
            continue
        slot = (entry.cycle, entry.dose_number)
        known = current.get(slot)
        if known is None or entry.id > known.id:
            current[slot] = entry
    return current


def summarize(
    planned: Sequence[PlannedInjection],
    entries: Iterable[DiaryEntry],
    *,
    now: datetime,
    zone: tzinfo,
    table: CtcaeTable,
    in_clinic: Collection[tuple[int, int]] = (),
) -> DiarySummary:
    """The diary counted up to `now`: the injections whose day has come and what became of
    them, adherence (taken / planned to date, exact), side effects and the IU taken.

    `in_clinic` are the (cycle, dose number) slots the dose ledger holds: given or held in
    clinic, they are not the patient's to report and are counted apart.
    """
    today = _day(now, zone)
    clinic = set(in_clinic)
    due = {
        (p.cycle, p.dose_number): p
        for p in planned
        if _day(p.due_at, zone) <= today and (p.cycle, p.dose_number) not in clinic
    }
    current = [e for slot, e in current_entries(entries).items() if slot in due]
    taken = [e for e in current if e.report.status is Taken.TAKEN]
    missed = sum(1 for e in current if e.report.status is Taken.MISSED)
    worst: dict[str, int] = {}
    count: dict[str, int] = {}
    for entry in current:
        for effect in entry.report.side_effects:
            worst[effect.term] = max(worst.get(effect.term, 0), effect.grade)
            count[effect.term] = count.get(effect.term, 0) + 1
    effects = tuple(
        SideEffectSummary(
            term=term,
            name=table.terms[term].name if term in table.terms else term,
            highest_grade=worst[term],
            entries=count[term],
        )
        for term in sorted(worst, key=lambda t: (-worst[t], t))
    )
    return DiarySummary(
        as_of=now,
        planned=len(planned),
        planned_to_date=len(due),
        taken=len(taken),
        missed=missed,
        not_reported=len(due) - len(current),
        adherence=Fraction(len(taken), len(due)) if due else None,
        taken_iu=sum(due[(e.cycle, e.dose_number)].dose_iu for e in taken),
        side_effects=effects,
        in_clinic=len(clinic & {(p.cycle, p.dose_number) for p in planned}),
    )


@dataclass(frozen=True, slots=True)
class TooSoon:
    """An injection reported taken less than the regimen's minimum interval after another."""

    cycle: int
    dose_number: int
    taken_at: datetime
    after: datetime
    hours: Fraction


def taken_too_soon(
    entries: Iterable[DiaryEntry], *, given: Iterable[datetime], interval_h: int
) -> tuple[TooSoon, ...]:
    """The current taken entries less than `interval_h` after another dose of the patient
    (`given`: the ledger's given doses; the diary's own taken injections are added here). The
    diary records what happened: an injection taken too soon is kept and shown, never refused.
    """
    taken = [
        (entry, entry.report.taken_at)
        for entry in current_entries(entries).values()
        if entry.report.status is Taken.TAKEN and entry.report.taken_at is not None
    ]
    moments = sorted({*given, *(at for _, at in taken)})
    found = []
    for entry, at in sorted(taken, key=lambda pair: (pair[0].cycle, pair[0].dose_number)):
        before = [m for m in moments if m < at]
        if not before:
            continue
        gap = Fraction(int((at - before[-1]).total_seconds()), 3600)
        if gap < interval_h:
            found.append(TooSoon(entry.cycle, entry.dose_number, at, before[-1], gap))
    return tuple(found)


def percent(adherence: Fraction | None) -> str | None:
    """Adherence as a percentage with one decimal, rounded half up (None stays None)."""
    if adherence is None:
        return None
    tenths = adherence * 1000
    whole, rest = divmod(tenths.numerator, tenths.denominator)
    if 2 * rest >= tenths.denominator:
        whole += 1
    return f"{whole // 10}.{whole % 10}"
