"""Closed-form two-compartment pharmacokinetics of IL-2 agents (modelling reference, (a) layer 1).

The central (serum) concentration after a dose is a sum of two exponentials, alpha and beta,
whose rates follow from the micro-constants k10, k12 and k21 (per minute). A dose is given as an
ideal IV bolus (`infusion_min` 0), as a zero-order IV infusion over `infusion_min` minutes (a
15-min bolus infusion, or a 24-h bag of a continuous infusion), or subcutaneously (route "sc"):
a first-order absorption from a depot at rate `sc_ka_per_min`, of which the share
`sc_bioavailability` reaches the serum. The model is linear, so many doses superpose.

Units: time in minutes, amounts in IU, concentrations in IU/mL (nM through the agent's specific
activity and molar mass). Volumes and clearance scale with body weight from the reference adult
of the data file (`data/pk.toml`); each patient may carry its own clearance and volume factors.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node

_FILE = "pk.toml"
# The receptor signals, in the order of the cell model's inputs (sim-spec, "fixed names").
SIGNALS = ("cd8", "nk", "treg", "endothelium")
# How a dose reaches the serum: intravenously (bolus or infusion) or subcutaneously.
ROUTES = ("iv", "sc")
STATUSES = ("published", "derived", "assumption", "calibrated")
_PARAMETER_KEYS = ("value", "unit", "source", "status", "range")
_NUMBERS = (
    "iu_per_mg",
    "molar_mass_g_per_mol",
    "reference_bsa_m2",
    "reference_weight_kg",
    "half_life_alpha_min",
    "half_life_beta_min",
    "clearance_ml_per_min",
    "bolus_peak_u_per_ml",
    "infusion_css_u_per_ml",
    "infusion_h",
    "v1_l",
    "k10_per_min",
    "k21_per_min",
    "k12_per_min",
    "clearance_cv",
    "sc_bioavailability",
    "sc_plateau_fraction",
    "sc_plateau_h",
    "sc_ka_per_min",
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AgentPK:
    """One agent's pharmacokinetics and receptor affinities, as `data/pk.toml` gives them.

    Volumes in mL, rates per minute, affinities in nM (in `SIGNALS` order). The `konrad_*`
    figures are the published observations the constants were derived from (kept for checks).
    """

    name: str
    iu_per_mg: float
    molar_mass_g_per_mol: float
    reference_weight_kg: float
    reference_bsa_m2: float
    v1_ml: float
    k10_per_min: float
    k12_per_min: float
    k21_per_min: float
    clearance_ml_per_min: float
    clearance_cv: float
    sc_ka_per_min: float
    sc_bioavailability: float
    kd_nm: tuple[float, float, float, float]
    kd_range_nm: tuple[tuple[float, float] | None, ...]
    half_life_alpha_min: float
    half_life_beta_min: float
    konrad_bolus_peak_u_per_ml: float
    konrad_infusion_css_u_per_ml: float
    konrad_infusion_h: float
    konrad_sc_plateau_fraction: float
    konrad_sc_plateau_h: float

    @property
    def v1_ml_per_kg(self) -> float:
        """Central volume per kg of body weight (mL/kg), scaled from the reference adult."""
        return self.v1_ml / self.reference_weight_kg

    @property
    def nm_per_iu_per_ml(self) -> float:
        """nM of agent per IU/mL: 1e9 / (IU per mg x g/mol), since mg/mL = g/L."""
        return 1e9 / (self.iu_per_mg * self.molar_mass_g_per_mol)

    def disposition(
        self, *, weight_kg: float, cl_scale: float = 1.0, v1_scale: float = 1.0
    ) -> Disposition:
        """The patient's central volume and exponentials (see `Disposition`).

        V1 and clearance scale linearly with body weight (so k10 does not depend on weight);
        `cl_scale` and `v1_scale` multiply the patient's clearance and central volume.
        """
        _positive("weight_kg", weight_kg)
        _positive("cl_scale", cl_scale)
        _positive("v1_scale", v1_scale)
        v1 = self.v1_ml_per_kg * weight_kg * v1_scale
        k10 = self.k10_per_min * cl_scale / v1_scale
        alpha, beta = macro_rates(k10, self.k12_per_min, self.k21_per_min)
        a = (alpha - self.k21_per_min) / (alpha - beta)
        return Disposition(v1_ml=v1, rates=(alpha, beta), coefficients=(a, 1.0 - a))


@dataclass(frozen=True, slots=True)
class Disposition:
    """A patient's unit-bolus response: C(t) = dose / v1_ml * sum(coef * exp(-rate * t)).

    `rates` are (alpha, beta) per minute, alpha > beta; `coefficients` add up to 1.
    """

    v1_ml: float
    rates: tuple[float, float]
    coefficients: tuple[float, float]


def macro_rates(k10: float, k12: float, k21: float) -> tuple[float, float]:
    """The two-compartment hybrid rates (alpha, beta) per minute from the micro-constants: the
    roots of x^2 - (k10 + k12 + k21) x + k10 k21 = 0, alpha the larger."""
    total = k10 + k12 + k21
    root = math.sqrt(total * total - 4.0 * k10 * k21)
    alpha = 0.5 * (total + root)
    return alpha, k10 * k21 / alpha


def half_lives_min(k10: float, k12: float, k21: float) -> tuple[float, float]:
    """The alpha and beta half-lives in minutes: ln 2 / rate."""
    alpha, beta = macro_rates(k10, k12, k21)
    return math.log(2) / alpha, math.log(2) / beta


def _positive(field: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvalidInputError(field=field, value=value, allowed="a finite number above 0")


def _phi(x: FloatArray) -> FloatArray:
    """(1 - exp(-x)) / x for x >= 0, with its limit 1 at 0 (accurate near 0)."""
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 1e-12, -np.expm1(-safe) / safe, 1.0 - 0.5 * x)


def check_doses(
    dose_min: ArrayLike, dose_amount: ArrayLike, infusion_min: ArrayLike, route: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Dose times (min), amounts and infusion minutes as float arrays of one length; refuses
    non-finite or negative amounts and infusion minutes, and routes other than `ROUTES`."""
    if route not in ROUTES:
        raise InvalidInputError(field="route", value=route, allowed=" or ".join(ROUTES))
    times = np.atleast_1d(np.asarray(dose_min, dtype=np.float64))
    amounts = np.atleast_1d(np.asarray(dose_amount, dtype=np.float64))
    if times.ndim != 1 or amounts.shape != times.shape:
        raise InvalidInputError(
            field="dose_iu", value=amounts.shape, allowed=f"one amount per dose time {times.shape}"
        )
    infusion = np.broadcast_to(np.asarray(infusion_min, dtype=np.float64), times.shape).copy()
    for field, values in (("dose_min", times), ("dose_iu", amounts), ("infusion_min", infusion)):
        if not np.all(np.isfinite(values)) or (field != "dose_min" and np.any(values < 0)):
            raise InvalidInputError(
                field=field, value=values.tolist(), allowed="finite numbers (amounts >= 0)"
            )
    if route == "sc" and np.any(infusion != 0):
        raise InvalidInputError(
            field="infusion_min",
            value=infusion.tolist(),
            allowed="0 for a subcutaneous dose (an injection, not an infusion)",
        )
    return times, amounts, infusion


def concentration(
    t_min: ArrayLike,
    *,
    dose_min: ArrayLike,
    dose_iu: ArrayLike,
    infusion_min: ArrayLike,
    route: str,
    pk: AgentPK,
    weight_kg: float,
    cl_scale: float = 1.0,
    v1_scale: float = 1.0,
) -> FloatArray:
    """Serum concentration in IU/mL at times `t_min` (minutes; any shape) after doses of
    `dose_iu` IU starting at `dose_min`, each an IV bolus (`infusion_min` 0), a zero-order IV
    infusion over `infusion_min` minutes, or (route "sc") a subcutaneous injection. A dose
    contributes nothing before it starts; doses superpose.
    """
    times, amounts, infusion = check_doses(dose_min, dose_iu, infusion_min, route)
    body = pk.disposition(weight_kg=weight_kg, cl_scale=cl_scale, v1_scale=v1_scale)
    t = np.asarray(t_min, dtype=np.float64)
    since = t.reshape(-1, 1) - times.reshape(1, -1)  # (points, doses)
    started = since >= 0
    elapsed = np.where(started, since, 0.0)
    total = np.zeros_like(elapsed)
    for rate, coefficient in zip(body.rates, body.coefficients, strict=True):
        if route == "sc":
            ka = pk.sc_ka_per_min
            gap = abs(ka - rate)
            # (exp(-rate t) - exp(-ka t)) / (ka - rate), without overflow or cancellation
            shape = np.exp(-min(ka, rate) * elapsed) * elapsed * _phi(gap * elapsed)
            total += coefficient * pk.sc_bioavailability * ka * shape
        else:
            length = infusion.reshape(1, -1)
            given = np.minimum(elapsed, length)  # minutes of the infusion given so far
            share = np.where(length > 0, given / np.where(length > 0, length, 1.0), 1.0)
            total += coefficient * share * np.exp(-rate * (elapsed - given)) * _phi(rate * given)
    per_dose = np.where(started, total, 0.0) * amounts.reshape(1, -1) / body.v1_ml
    result: FloatArray = per_dose.sum(axis=1).reshape(t.shape)
    return result


def iu_per_ml_to_nm(concentration_iu_ml: ArrayLike, pk: AgentPK) -> FloatArray:
    """IU/mL to nM, through the agent's specific activity (IU/mg) and molar mass (g/mol)."""
    return np.asarray(concentration_iu_ml, dtype=np.float64) * pk.nm_per_iu_per_ml


def nm_to_iu_per_ml(concentration_nm: ArrayLike, pk: AgentPK) -> FloatArray:
    """nM to IU/mL (the inverse of `iu_per_ml_to_nm`)."""
    return np.asarray(concentration_nm, dtype=np.float64) / pk.nm_per_iu_per_ml


# ----------------------------------------------------------------------------- the data file
def _parameter(node: Node, key: str) -> tuple[float, tuple[float, float] | None]:
    entry = node.table(key)
    entry.only(*_PARAMETER_KEYS)
    entry.text("unit")
    entry.text("source")
    entry.choice("status", STATUSES)
    value = float(entry.number("value"))
    if not math.isfinite(value) or value <= 0:
        raise entry.fail("value", f"must be a finite number above 0, not {value!r}")
    span: tuple[float, float] | None = None
    if entry.has("range"):
        raw = entry.raw("range")
        ok = isinstance(raw, list) and len(raw) == 2
        if (
            not ok
            or not all(isinstance(v, int | float) for v in raw)
            or not raw[0] <= value <= raw[1]
        ):
            raise entry.fail("range", f"must be [low, high] around the value {value}, not {raw!r}")
        span = (float(raw[0]), float(raw[1]))
    return value, span


def _agent(node: Node) -> AgentPK:
    node.only("name", "kd_nm", *_NUMBERS)
    values = {key: _parameter(node, key)[0] for key in _NUMBERS}
    for share in ("clearance_cv", "sc_bioavailability", "sc_plateau_fraction"):
        if values[share] > 1:
            raise node.fail(
                f"{share}.value", f"is a share and must be at most 1, not {values[share]}"
            )
    kd = node.table("kd_nm")
    kd.only(*SIGNALS)
    affinities = [_parameter(kd, signal) for signal in SIGNALS]
    return AgentPK(
        name=node.text("name"),
        iu_per_mg=values["iu_per_mg"],
        molar_mass_g_per_mol=values["molar_mass_g_per_mol"],
        reference_weight_kg=values["reference_weight_kg"],
        reference_bsa_m2=values["reference_bsa_m2"],
        v1_ml=values["v1_l"] * 1000.0,
        k10_per_min=values["k10_per_min"],
        k12_per_min=values["k12_per_min"],
        k21_per_min=values["k21_per_min"],
        clearance_ml_per_min=values["clearance_ml_per_min"],
        clearance_cv=values["clearance_cv"],
        sc_ka_per_min=values["sc_ka_per_min"],
        sc_bioavailability=values["sc_bioavailability"],
        kd_nm=(affinities[0][0], affinities[1][0], affinities[2][0], affinities[3][0]),
        kd_range_nm=tuple(span for _, span in affinities),
        half_life_alpha_min=values["half_life_alpha_min"],
        half_life_beta_min=values["half_life_beta_min"],
        konrad_bolus_peak_u_per_ml=values["bolus_peak_u_per_ml"],
        konrad_infusion_css_u_per_ml=values["infusion_css_u_per_ml"],
        konrad_infusion_h=values["infusion_h"],
        konrad_sc_plateau_fraction=values["sc_plateau_fraction"],
        konrad_sc_plateau_h=values["sc_plateau_h"],
    )


def parse_pk(text: str, *, file: str = _FILE) -> dict[str, AgentPK]:
    """Validate a PK data file into agents by id; a bad one raises `RuleTableError` naming the
    file and the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "agents")
    root.table("meta").text("reference")
    return {name: _agent(node) for name, node in root.table("agents").children()}


@cache
def agents() -> dict[str, AgentPK]:
    """The bundled agents (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_pk(text)


def agent_pk(name: str = "aldesleukin") -> AgentPK:
    """One bundled agent by id."""
    known = agents()
    if name not in known:
        raise InvalidInputError(field="agent", value=name, allowed=" or ".join(known))
    return known[name]
