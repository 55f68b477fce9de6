"""RECIST 1.1 from simulated tumour size: time-point responses and the best overall response.

The tumour burden T (cells) is read as one sphere-equivalent lesion whose diameter is the RECIST
sum of diameters: d = 10 * (6 T / (pi * rho))^(1/3) mm with rho cells per cm3
(data/population.toml). So the sum scales with T^(1/3), and RECIST's thresholds on the sum
become thresholds on T: PR at a sum 30% below baseline is T/T0 <= 0.7^3 = 0.343; PD at a sum 20%
above the nadir is T/T_nadir >= 1.2^3 = 1.728, and RECIST's "at least 5 mm" is applied to the
sphere-equivalent diameter. CR: T below the sphere of RECIST's smallest measurable diameter
(10 mm); a lesion below it counts 0 mm in the sum, so a tumour that regrows past it after a CR is
PD (reappearance, recist.toml [reappearance]). The thresholds are the rule set's
(il2.rules recist.toml), never restated here.

Codes: CR 0, PR 1, SD 2, PD 3 (best first). Assessment times are in weeks from baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.domain.recist import RecistCriteria

CR, PR, SD, PD = 0, 1, 2, 3
CATEGORIES = ("CR", "PR", "SD", "PD")
MM_PER_CM = 10.0
# A ratio exactly at a RECIST threshold meets it: T/T0 = 0.343 is a sum exactly 30% smaller, but
# the cube root of 0.343 in floating point may land a few ulps above 0.7. Sums within this
# relative tolerance of a threshold count as at it.
_AT = 1.0 + 1e-12


@dataclass(frozen=True, slots=True)
class ReadoutRules:
    """The RECIST 1.1 thresholds as the read-out uses them (fractions, mm, cells, weeks)."""

    pr_change: float
    """Change of the sum from baseline at or below which a time point is PR (-0.30)."""
    pd_change: float
    """Change of the sum over the nadir at or above which it is PD (+0.20) ..."""
    pd_min_mm: float
    """... when the sum also grew by at least this many mm (5)."""
    measurable_mm: float
    """Smallest measurable diameter (10 mm): below it the lesion counts as gone (CR)."""
    cells_per_cm3: float
    confirmation_weeks: float | None
    """A CR or PR counts only when a later scan this many weeks on or more shows it again
    (None: no confirmation, as in randomised trials)."""
    min_sd_weeks: float
    """SD counts as best response only when met this many weeks after baseline or later."""

    @classmethod
    def from_criteria(
        cls,
        criteria: RecistCriteria,
        *,
        cells_per_cm3: float,
        confirmation_weeks: float | None,
        min_sd_weeks: float,
    ) -> ReadoutRules:
        """The read-out rules from the rule set's RECIST criteria and the population data."""
        if not cells_per_cm3 > 0:
            raise InvalidInputError(field="cells_per_cm3", value=cells_per_cm3, allowed="> 0")
        return cls(
            pr_change=float(criteria.pr_change_from_baseline_pct) / 100.0,
            pd_change=float(criteria.pd_change_from_nadir_pct) / 100.0,
            pd_min_mm=float(criteria.pd_increase_min_mm),
            measurable_mm=float(criteria.non_nodal_target_min_mm),
            cells_per_cm3=cells_per_cm3,
            confirmation_weeks=confirmation_weeks,
            min_sd_weeks=min_sd_weeks,
        )

    @property
    def detection_cells(self) -> float:
        """Tumour cells in the sphere of the smallest measurable diameter (CR below it)."""
        return self.cells_per_cm3 * math.pi / 6.0 * (self.measurable_mm / MM_PER_CM) ** 3

    @property
    def pr_ratio(self) -> float:
        """T/T0 at or below which the sum has shrunk enough for PR ((1 - 0.30)^3)."""
        return (1.0 + self.pr_change) ** 3

    @property
    def pd_ratio(self) -> float:
        """T/T_nadir at or above which the sum has grown enough for PD ((1 + 0.20)^3)."""
        return (1.0 + self.pd_change) ** 3


def diameter_mm(cells: NDArray[np.float64], rules: ReadoutRules) -> NDArray[np.float64]:
    """The sphere-equivalent diameter (mm) of `cells` tumour cells; 0 below detection."""
    t = np.asarray(cells, dtype=np.float64)
    d = MM_PER_CM * np.cbrt(6.0 * np.maximum(t, 0.0) / (math.pi * rules.cells_per_cm3))
    return np.where(t < rules.detection_cells, 0.0, d)


def time_point_responses(
    cells: NDArray[np.float64], baseline: NDArray[np.float64], rules: ReadoutRules
) -> NDArray[np.int8]:
    """RECIST time-point responses (n, M) from tumour cells (n, M) at M scans after baseline.

    Shrinkage is judged against the baseline, growth against the nadir (the smallest sum so far,
    baseline included); once PD, every later time point is PD (the patient is off study)."""
    t = np.asarray(cells, dtype=np.float64)
    t0 = np.asarray(baseline, dtype=np.float64)
    if t.ndim != 2 or t0.shape != (t.shape[0],):
        raise InvalidInputError(
            field="cells", value=t.shape, allowed="(patients, scans) with baseline (patients,)"
        )
    if np.any(t0 < rules.detection_cells):
        raise InvalidInputError(
            field="baseline",
            value=float(t0.min()),
            allowed=f"measurable disease: at least {rules.detection_cells:.3g} cells",
        )
    s0 = diameter_mm(t0, rules)
    nadir = s0.copy()
    out = np.empty(t.shape, dtype=np.int8)
    progressed = np.zeros(t0.shape, dtype=bool)
    for m in range(t.shape[1]):
        s = diameter_mm(t[:, m], rules)
        grown = (s * _AT >= nadir * (1.0 + rules.pd_change)) & (s - nadir >= rules.pd_min_mm / _AT)
        progressed |= grown
        code = np.full(s.shape, SD, dtype=np.int8)
        code[s <= s0 * (1.0 + rules.pr_change) * _AT] = PR
        code[s == 0.0] = CR
        code[progressed] = PD
        out[:, m] = code
        nadir = np.minimum(nadir, s)
    return out


def best_overall_response(
    responses: NDArray[np.int8], weeks: NDArray[np.float64], rules: ReadoutRules
) -> NDArray[np.int8]:
    """The best overall response (n,) from time-point responses (n, M) at `weeks` after
    baseline (RECIST 1.1 section 4.4).

    With confirmation, a CR needs a later CR, and a PR a later PR or CR, at least
    `confirmation_weeks` after it (nothing but PD stops it: after PD all later points are PD).
    An unconfirmed CR or PR, or SD, counts as SD when it was met at `min_sd_weeks` or later;
    otherwise the best response is PD."""
    r = np.asarray(responses)
    w = np.asarray(weeks, dtype=np.float64)
    if r.ndim != 2 or w.shape != (r.shape[1],) or np.any(np.diff(w) <= 0) or np.any(w <= 0):
        raise InvalidInputError(
            field="weeks", value=w.tolist(), allowed="increasing scan times after baseline"
        )
    n, m = r.shape
    best = np.full(n, PD, dtype=np.int8)
    sd_ok = ((r <= SD) & (w >= rules.min_sd_weeks)[None, :]).any(axis=1)
    best[sd_ok] = SD
    if rules.confirmation_weeks is None:
        for code in (PR, CR):
            best[(r == code).any(axis=1)] = code
        return best
    confirmed_pr = np.zeros(n, dtype=bool)
    confirmed_cr = np.zeros(n, dtype=bool)
    for i in range(m):
        for j in range(i + 1, m):
            if w[j] - w[i] < rules.confirmation_weeks:
                continue
            confirmed_cr |= (r[:, i] == CR) & (r[:, j] == CR)
            confirmed_pr |= (r[:, i] <= PR) & (r[:, j] <= PR)
    best[confirmed_pr] = PR
    best[confirmed_cr] = CR
    return best
