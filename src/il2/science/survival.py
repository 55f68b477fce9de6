"""Kaplan-Meier estimates (lifelines) and the survival endpoints of a program.

Times are in days from the endpoint's origin; the report shows months of 365.25 / 12 days.
Follow-up ends at the program's data cut-off (`as_of`): an event after it is censored there.
Overall and progression-free survival count from the first dose by default (treated patients
only); a comparison of trial arms counts from each patient's arm assignment instead
(`TimeOrigin`), so a patient assigned and never dosed counts too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Self

import numpy as np
from lifelines import KaplanMeierFitter  # type: ignore[import-untyped]
from lifelines.utils import median_survival_times  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.science.dataset import DIAGNOSES, RESPONDERS, Diagnosis, Patient, Program, Response

DAYS_PER_MONTH = 365.25 / 12
CI_METHOD = (
    "pointwise 95% CI by the exponential Greenwood formula (log(-log) transform), "
    "lifelines KaplanMeierFitter default; the median's CI is where the CI bands cross 0.5"
)


class KaplanMeier:
    """The product-limit estimate of a survival function, with pointwise confidence bands.

    A typed wrapper of lifelines' `KaplanMeierFitter`. An empty sample fits to an empty curve
    with no median.
    """

    n_: int
    events_: int
    timeline_: NDArray[np.float64]
    survival_: NDArray[np.float64]
    ci_lower_: NDArray[np.float64]
    ci_upper_: NDArray[np.float64]
    median_: float | None
    median_ci_: tuple[float | None, float | None]

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def fit(self, durations: ArrayLike, events: ArrayLike) -> Self:
        """Estimate S(t) from `durations` (non-negative) and `events` (True: event observed)."""
        times = np.asarray(durations, dtype=np.float64)
        observed = np.asarray(events, dtype=bool)
        if times.shape != observed.shape or times.ndim != 1:
            raise InvalidInputError(
                field="events", value=observed.shape, allowed=f"one flag per duration {times.shape}"
            )
        if np.any(times < 0) or not np.all(np.isfinite(times)):
            raise InvalidInputError(
                field="durations", value="a negative or missing time", allowed="times >= 0"
            )
        self.n_ = int(times.size)
        self.events_ = int(observed.sum())
        self._sorted_times = np.sort(times)
        if self.n_ == 0:
            empty = np.empty(0, dtype=np.float64)
            self.timeline_ = self.survival_ = self.ci_lower_ = self.ci_upper_ = empty
            self.median_, self.median_ci_ = None, (None, None)
            return self
        fitter = KaplanMeierFitter(alpha=self.alpha).fit(times, event_observed=observed)
        self.timeline_ = np.asarray(fitter.timeline, dtype=np.float64)
        self.survival_ = np.asarray(fitter.survival_function_.to_numpy()[:, 0], np.float64)
        bands = np.asarray(fitter.confidence_interval_.to_numpy(), dtype=np.float64)
        self.ci_lower_, self.ci_upper_ = bands[:, 0], bands[:, 1]
        self.median_ = _finite(fitter.median_survival_time_)
        crossing = median_survival_times(fitter.confidence_interval_).to_numpy()[0]
        self.median_ci_ = (_finite(crossing[0]), _finite(crossing[1]))
        return self

    def _step(self, values: NDArray[np.float64], times: ArrayLike) -> NDArray[np.float64]:
        at = np.asarray(times, dtype=np.float64)
        index = np.searchsorted(self.timeline_, at, side="right") - 1
        return np.where(index >= 0, values[np.maximum(index, 0)], 1.0)

    def survival_at(self, times: ArrayLike) -> NDArray[np.float64]:
        """S(t) at each of `times` (right-continuous steps)."""
        return self._step(self.survival_, times)

    def ci_at(self, times: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The pointwise confidence band at each of `times`."""
        return self._step(self.ci_lower_, times), self._step(self.ci_upper_, times)

    def at_risk_at(self, times: ArrayLike) -> NDArray[np.int64]:
        """How many were still followed (time >= t) at each of `times`."""
        at = np.asarray(times, dtype=np.float64)
        before = np.searchsorted(self._sorted_times, at, side="left")
        return (self.n_ - before).astype(np.int64)


def _finite(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class Durations:
    """Times (days) and event flags for one endpoint and one group of patients."""

    days: NDArray[np.float64]
    events: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TimeOrigin:
    """Where survival time starts: `name` as the output says it, and `dates`, each patient's
    time zero (None: the first dose, so treated patients only; given: every patient with a
    date, treated or not, as a trial counts from randomisation)."""

    name: str
    dates: Mapping[int, date] | None = None


FIRST_DOSE = TimeOrigin("first_dose")


def from_assignment(assigned_on: Mapping[int, date]) -> TimeOrigin:
    """Time zero at each patient's arm assignment (randomisation), by patient id."""
    return TimeOrigin("assignment", dict(assigned_on))


def first_doses(program: Program) -> dict[int, date]:
    """Each treated patient's first IL-2 dose: the earliest course, else the response record."""
    first: dict[int, date] = {}
    for course in program.courses:
        known = first.get(course.patient_id)
        if known is None or course.first_dose_on < known:
            first[course.patient_id] = course.first_dose_on
    for response in program.responses:
        first.setdefault(response.patient_id, response.first_dose_on)
    return first


def _earliest(*days: date | None) -> date | None:
    present = [d for d in days if d is not None]
    return min(present) if present else None


_Origin = Callable[[Patient, Response | None, dict[int, date]], date | None]
_Event = Callable[[Patient, Response | None], date | None]


def _endpoint(
    program: Program,
    origin: _Origin,
    event: _Event,
    *,
    needs_progression: bool,
    untreated: bool = False,
) -> dict[Diagnosis, Durations]:
    left_out = program.unfollowed | (program.unprogressed if needs_progression else frozenset())
    responses = {r.patient_id: r for r in program.responses}
    first = first_doses(program)
    as_of = program.as_of
    rows: dict[Diagnosis, tuple[list[int], list[bool]]] = {d: ([], []) for d in DIAGNOSES}
    for patient in program.patients:
        if not (patient.treated or untreated) or patient.patient_id in left_out:
            continue
        response = responses.get(patient.patient_id)
        start = origin(patient, response, first)
        if start is None or start > as_of:
            continue
        end = event(patient, response)
        happened = end is not None and end <= as_of
        stop = end if happened and end is not None else min(patient.last_contact_on, as_of)
        days, flags = rows[patient.diagnosis]
        days.append(max((stop - start).days, 0))
        flags.append(happened)
    return {
        d: Durations(np.asarray(rows[d][0], dtype=np.float64), np.asarray(rows[d][1], dtype=bool))
        for d in DIAGNOSES
    }


def _from_first_dose(patient: Patient, _: Response | None, first: dict[int, date]) -> date | None:
    return first.get(patient.patient_id)


def _from_response(_: Patient, response: Response | None, __: dict[int, date]) -> date | None:
    if response is None or response.best_overall_response not in RESPONDERS:
        return None
    return response.response_on


def _death(patient: Patient, _: Response | None) -> date | None:
    return patient.death_on


def _progression_or_death(patient: Patient, response: Response | None) -> date | None:
    """Death, RECIST progression or progression a follow-up recorded, whichever came first."""
    return _earliest(
        patient.death_on, response.progression_on if response else None, patient.progression_on
    )


def _progression_or_death_after_response(
    patient: Patient, response: Response | None
) -> date | None:
    """As `_progression_or_death`, but a follow-up's progression before the response is not
    the end of that response (RECIST progression before it is already dropped)."""
    since = response.response_on if response else None
    clinical = patient.progression_on
    if clinical is not None and since is not None and clinical < since:
        clinical = None
    return _earliest(patient.death_on, response.progression_on if response else None, clinical)


def _from_dates(dates: Mapping[int, date]) -> _Origin:
    def origin(patient: Patient, _: Response | None, __: dict[int, date]) -> date | None:
        return dates.get(patient.patient_id)

    return origin


def _survival(
    program: Program, event: _Event, *, origin: TimeOrigin, needs_progression: bool
) -> dict[Diagnosis, Durations]:
    if origin.dates is None:
        return _endpoint(program, _from_first_dose, event, needs_progression=needs_progression)
    return _endpoint(
        program,
        _from_dates(origin.dates),
        event,
        needs_progression=needs_progression,
        untreated=True,
    )


def overall_survival(
    program: Program, *, origin: TimeOrigin = FIRST_DOSE
) -> dict[Diagnosis, Durations]:
    """Overall survival: `origin` (the first dose, treated patients) to death, censored at last
    contact."""
    return _survival(program, _death, origin=origin, needs_progression=False)


def progression_free_survival(
    program: Program, *, origin: TimeOrigin = FIRST_DOSE
) -> dict[Diagnosis, Durations]:
    """Progression-free survival: `origin` (the first dose, treated patients) to progression
    (RECIST, or recorded at a follow-up contact) or death, censored at last contact."""
    return _survival(program, _progression_or_death, origin=origin, needs_progression=True)


def duration_of_response(program: Program) -> dict[Diagnosis, Durations]:
    """Duration of response: first CR/PR to progression or death, censored at last contact."""
    return _endpoint(
        program, _from_response, _progression_or_death_after_response, needs_progression=True
    )


ENDPOINTS: dict[str, Callable[[Program], dict[Diagnosis, Durations]]] = {
    "overall_survival": overall_survival,
    "progression_free_survival": progression_free_survival,
    "duration_of_response": duration_of_response,
}


def fit(durations: Durations) -> KaplanMeier:
    """A Kaplan-Meier estimate of one endpoint's durations."""
    return KaplanMeier().fit(durations.days, durations.events)
