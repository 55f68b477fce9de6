"""What comes next for a patient, from the patient's own records (the engine `il2 next` runs).

The pathway document is built from the record: each treated course (cycles and doses given,
the first and the last dose's dates), the retreatment history (services/history.py) and the
latest current response assessment of the latest treated course. A course's discharge date is
its latest current discharge entry when that is on or after the last dose given; without one
the rest counts from the day of the last dose given, the day discharge can be no earlier than.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from il2.domain.errors import Il2Error
from il2.domain.records import Actor, ClinicalEntry, CourseRecord, DoseRecord, Json
from il2.services.context import Services
from il2.services.history import history_document, recorded_grades
from il2.services.parsing import plain
from il2.services.pathway import next_step, pathway_document
from il2.services.patients import read_patient


def pathway_doses(doses: Iterable[DoseRecord]) -> list[Json]:
    """The doses as the pathway reads them: course, slot, outcome, time given and the
    before-dose assessment (by reference, read only); the lists that ask the pathway of
    thousands of patients skip copying the rest of each record."""
    return [
        {
            "course_id": d.course_id,
            "cycle": d.cycle,
            "dose_number": d.dose_number,
            "outcome": d.outcome.value,
            "given_at": d.given_at.isoformat() if d.given_at else None,
            "assessment": d.assessment,
        }
        for d in doses
    ]


def _given(doses: Sequence[Json], course_id: int) -> list[Json]:
    return [
        d
        for d in doses
        if d["course_id"] == course_id and d["outcome"] == "given" and d["given_at"]
    ]


def _course(course: Json, given: list[Json], entries: Sequence[Json]) -> Json:
    moments = [datetime.fromisoformat(d["given_at"]) for d in given]
    last = max(moments).date().isoformat()
    discharges = [
        str(e["observed_on"])
        for e in _current(entries, "discharge")
        if e.get("course_id") == course["id"] and str(e["observed_on"]) >= last
    ]
    return {
        "number": course["number"],
        "cycles_given": len({d["cycle"] for d in given}),
        "doses_given": len(given),
        "first_dose_on": min(moments).date().isoformat(),
        "last_dose_on": last,
        "discharged_on": max(discharges, default=last),
    }


def _current(entries: Sequence[Json], kind: str) -> list[Json]:
    replaced = {e["corrects_id"] for e in entries if e.get("corrects_id")}
    return [e for e in entries if e["kind"] == kind and e["id"] not in replaced]


def _response(entries: Sequence[Json], course: Json) -> Json | None:
    """The latest time point of the course's latest response, with its change from the scan
    taken before the course started."""
    mine = [e for e in _current(entries, "response") if e.get("course_id") == course["id"]]
    if not mine:
        return None
    latest = max(mine, key=lambda e: (e["observed_on"], e["id"]))
    points = [
        p for p in latest["content"].get("recist", {}).get("timepoints", []) if p.get("overall")
    ]
    if not points:
        return None
    last = points[-1]
    started = datetime.fromisoformat(course["first_dose_at"]).date()
    every = latest["content"]["recist"]["timepoints"]
    before = [p for p in every if date.fromisoformat(p["date"]) <= started and p.get("sum_mm")]
    pre_course = None
    if before and last.get("sum_mm") is not None:
        base = float(before[-1]["sum_mm"])
        pre_course = round((float(last["sum_mm"]) - base) / base * 100, 1) if base else None
    return {
        "assessed_on": last["date"],
        "overall": last["overall"],
        "change_from_baseline_pct": last.get("change_from_baseline_pct"),
        "change_from_pre_course_pct": pre_course,
    }


def pathway_input(services: Services, record: Json, today: date) -> Json | None:
    """The `il2 next` document the patient's record makes; None before any dose was given."""
    treated = [
        (course, given)
        for course in sorted(record["courses"], key=lambda c: c["number"])
        if (given := _given(record["doses"], course["id"]))
    ]
    if not treated:
        return None
    latest = treated[-1][0]
    known = frozenset(services.rules.retreatment_fields["earlier_toxicities"].values)
    return {
        "regimen": latest["regimen_id"],
        "today": today.isoformat(),
        "courses": [_course(course, given, record["entries"]) for course, given in treated],
        "history": history_document(
            (d["assessment"] for d in record["doses"]),
            known,
            recorded_grades(record["doses"], record["entries"], services.rules.site.time_zone),
        ),
        "response": _response(record["entries"], latest),
    }


def next_for_record(services: Services, record: Json) -> Json | None:
    """What comes next for the patient of this record (as read_patient returns it)."""
    today = services.clock().astimezone(services.rules.site.time_zone).date()
    document = pathway_input(services, record, today)
    if document is None:
        return None
    decision = next_step(services.rules, document, services.rules.pathway)
    return pathway_document(decision)


def next_for_patient(services: Services, actor: Actor, patient_id: int) -> Json | None:
    """The pathway engine's answer on the patient's own records (the read is audited)."""
    return next_for_record(services, read_patient(services, actor, patient_id))


_WORDS = {
    "another_course": "another course may be considered",
    "incomplete": "not enough recorded to decide",
    "follow_up": "follow-up, no further course now",
    "response_scan": "response scan due",
    "stop": "no further course",
}


def next_in_words(document: Json) -> str:
    """The pathway answer as a nurse or physician reads it, with its date if any."""
    words = _WORDS.get(document["next"], str(document["next"]).replace("_", " "))
    when = document.get("blocked_until") or document.get("earliest_on")
    return f"{words} (not before {when})" if when else words


def next_for_records(
    services: Services,
    courses: Sequence[CourseRecord],
    doses: Sequence[DoseRecord],
    entries: Sequence[ClinicalEntry],
) -> Json | None:
    """next_for_record from a patient's records already read, as a list reads them many at
    once (Il2Error when the records cannot be judged)."""
    record = {
        "courses": [plain(c) for c in courses],
        "doses": pathway_doses(doses),
        "entries": [plain(e) for e in entries],
    }
    return next_for_record(services, record)


def next_from_records(
    services: Services,
    courses: Sequence[CourseRecord],
    doses: Sequence[DoseRecord],
    entries: Sequence[ClinicalEntry],
) -> str | None:
    """The pathway answer in words from records already read (None before any dose, or when
    the records cannot be judged: an odd record never takes a list down)."""
    try:
        document = next_for_records(services, courses, doses, entries)
    except Il2Error:
        return "not enough recorded to decide"
    return None if document is None else next_in_words(document)
