"""Outcome analysis never fails on a record: whatever a program's records hold, the Program is
built and summarized, every patient left out is listed, and every problem names a patient."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il2.domain.records import CourseOutline, CycleTally, EntryOutline, RecistOutline, Referral
from il2.science.report import summarize
from il2.services import quality
from il2.services.outcomes import assemble

AS_OF = date(2026, 12, 7)
DAYS = st.dates(min_value=date(2019, 1, 1), max_value=date(2027, 12, 31))
RESPONSES = st.sampled_from([*quality.KNOWN_RESPONSES, "XX"])
CHANGES = st.one_of(st.none(), st.floats(-150, 80), st.just(math.nan))


def _iso(day: date) -> str:
    return day.isoformat()


@st.composite
def programs(draw: st.DrawFn) -> dict[str, Any]:
    """Up to five patients, each with odd or sound courses, tallies and entries."""
    count = draw(st.integers(1, 5))
    patients = [
        Referral(
            pid, draw(st.sampled_from(["melanoma", "renal_cell_carcinoma", "sarcoma"])), draw(DAYS)
        )
        for pid in range(1, count + 1)
    ]
    courses: dict[int, list[CourseOutline]] = defaultdict(list)
    tallies: dict[int, dict[int, CycleTally]] = defaultdict(dict)
    untimed: dict[tuple[int, int], int] = {}
    entries: dict[int, list[EntryOutline]] = defaultdict(list)
    course_ids = iter(range(100, 200))
    entry_ids = iter(range(1000, 2000))
    for patient in patients:
        for number in range(1, draw(st.integers(0, 2)) + 1):
            course_id = next(course_ids)
            first = draw(DAYS)
            starts = tuple(
                (cycle, datetime.combine(draw(DAYS), time(8), tzinfo=UTC).isoformat())
                for cycle in (1, 2)
            )
            courses[patient.id].append(
                CourseOutline(
                    course_id,
                    patient.id,
                    draw(st.sampled_from([number, 0])),
                    "hd-label",
                    first,
                    draw(st.integers(-1, 4)),
                    starts,
                )
            )
            for cycle in (1, 2):
                if draw(st.booleans()):
                    tallies[course_id][cycle] = CycleTally(
                        course_id, cycle, draw(st.integers(0, 14)), draw(st.integers(0, 3)),
                        draw(st.one_of(st.none(), DAYS)),
                    )  # fmt: skip
                if draw(st.integers(0, 4)) == 0:
                    untimed[course_id, cycle] = 1
        all_courses = [c.id for cs in courses.values() for c in cs] or [None]
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["toxicity", "response", "follow_up"]))
            recist = None
            if kind == "response":
                baseline = draw(DAYS)
                recist = RecistOutline(
                    draw(RESPONSES),
                    draw(st.one_of(st.none(), DAYS.map(_iso))),
                    draw(st.one_of(st.none(), DAYS.map(_iso))),
                    draw(CHANGES),
                    ((_iso(baseline), None), (_iso(draw(DAYS)), draw(CHANGES))),
                )
            entries[patient.id].append(
                EntryOutline(
                    next(entry_ids),
                    patient.id,
                    kind,
                    draw(st.sampled_from(all_courses)) if kind == "toxicity" else None,
                    draw(DAYS),
                    None,
                    draw(st.sampled_from(["dead", "alive"])) if kind == "follow_up" else None,
                    tuple(
                        draw(
                            st.lists(
                                st.tuples(
                                    st.sampled_from(["fever", "hypotension"]), st.integers(-1, 8)
                                ),
                                max_size=2,
                            )
                        )
                    )
                    if kind == "toxicity"
                    else (),
                    recist,
                )
            )
    verdicts = {p.id: "eligible" for p in patients}
    return {"patients": patients, "courses": courses, "tallies": tallies, "entries": entries,
            "verdicts": verdicts, "untimed": untimed}  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_any_records_give_a_program_and_a_list_of_what_was_left_out(
    records: dict[str, Any],
) -> None:
    data, problems = assemble(
        records["patients"], records["courses"], records["tallies"], records["entries"],
        verdicts=records["verdicts"], untimed=records["untimed"], as_of=AS_OF,
    )  # fmt: skip
    given_ids = {p.id for p in records["patients"]}
    kept = {p.patient_id for p in data.patients}
    wholly_out = {p.patient_id for p in problems if quality.EVERYTHING in p.excluded_from}
    assert kept == given_ids - wholly_out
    assert {p.patient_id for p in problems} <= given_ids
    assert all(p.problem and p.record and p.excluded_from for p in problems)
    assert data.unfollowed | data.unprogressed <= kept
    summary = summarize(data)
    assert summary["patients"]["referred"] == len(kept)
