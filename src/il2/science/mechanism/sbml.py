"""SBML Level 3 Version 2 export of the simulator's models, so other tools can run them.

A small writer of our own (`xml.etree.ElementTree`, no libSBML): compartments, species and
parameters whose values change by rate rules (no reactions), assignment rules and events. Formulas
are written as infix text (`+ - * / ^`, parentheses, comparisons, `&&`, `||`, functions `exp`,
`ln`, `piecewise(value, condition, ..., otherwise)`, the symbol `time`) and turned into MathML.

Models: `kirschner_panetta_sbml` (KP 1998, linear T, as other tools integrate it, with the
extinction rule as an event) and `cells_sbml` (the cell-and-tumour model of one patient: the
model of `cells.py` with the event rules of `kernel.simulate_population` - dosing intervals with
the hold decision, SBRT fractions and extinction - as events; names from `cells`).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.cells import EXTINCT_X, PARAMETERS, SIGNALS, STATES
from il2.science.mechanism.kernel import validate

SBML_NS = "http://www.sbml.org/sbml/level3/version2/core"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
TIME_URL = "http://www.sbml.org/sbml/symbols/time"
_ID = re.compile(r"^[A-Za-z_]\w*$")

# ------------------------------------------------------------------------- infix -> MathML

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|==|!=|&&|\|\||[-+*/^(),<>]))"
)
_FUNCTIONS = {"exp": "exp", "ln": "ln", "abs": "abs", "floor": "floor"}
_COMPARE = {"<": "lt", "<=": "leq", ">": "gt", ">=": "geq", "==": "eq", "!=": "neq"}
_CONSTANTS = {"true": "true", "false": "false", "INF": "infinity", "pi": "pi"}


class FormulaError(ValueError):
    """A formula the writer cannot read: says which formula and where."""


def _tokens(formula: str) -> list[str]:
    out: list[str] = []
    position = 0
    text = formula.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FormulaError(f"cannot read {formula!r} at {text[position:]!r}")
        out.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return out


def _cn(value: float) -> ET.Element:
    element = ET.Element("cn")
    if math.isinf(value):
        return ET.Element("infinity")
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        element.set("type", "e-notation")
        element.text = mantissa
        sep = ET.SubElement(element, "sep")
        sep.tail = str(int(exponent))
    else:
        element.set("type", "real")
        element.text = text
    return element


def _apply(op: str, *args: ET.Element) -> ET.Element:
    element = ET.Element("apply")
    ET.SubElement(element, op)
    element.extend(args)
    return element


@dataclass
class _Parser:
    formula: str
    tokens: list[str]
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        found = self.peek()
        if found is None or (expected is not None and found != expected):
            want = expected or "more"
            raise FormulaError(f"in {self.formula!r}: expected {want!r}, found {found!r}")
        self.position += 1
        return found

    def parse(self) -> ET.Element:
        tree = self.disjunction()
        if self.peek() is not None:
            raise FormulaError(f"in {self.formula!r}: unexpected {self.peek()!r}")
        return tree

    def disjunction(self) -> ET.Element:
        parts = [self.conjunction()]
        while self.peek() == "||":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _apply("or", *parts)

    def conjunction(self) -> ET.Element:
        parts = [self.comparison()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else _apply("and", *parts)

    def comparison(self) -> ET.Element:
        left = self.additive()
        operator = self.peek()
        if operator in _COMPARE:
            self.take()
            return _apply(_COMPARE[operator], left, self.additive())
        return left

    def additive(self) -> ET.Element:
        tree = self.multiplicative()
        while self.peek() in {"+", "-"}:
            op = "plus" if self.take() == "+" else "minus"
            tree = _apply(op, tree, self.multiplicative())
        return tree

    def multiplicative(self) -> ET.Element:
        tree = self.unary()
        while self.peek() in {"*", "/"}:
            op = "times" if self.take() == "*" else "divide"
            tree = _apply(op, tree, self.unary())
        return tree

    def unary(self) -> ET.Element:
        if self.peek() == "-":
            self.take()
            return _apply("minus", self.unary())
        if self.peek() == "+":
            self.take()
        return self.power()

    def power(self) -> ET.Element:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return _apply("power", base, self.unary())
        return base

    def arguments(self) -> list[ET.Element]:
        self.take("(")
        args = [self.disjunction()]
        while self.peek() == ",":
            self.take()
            args.append(self.disjunction())
        self.take(")")
        return args

    def atom(self) -> ET.Element:
        item = self.take()
        if item == "(":
            tree = self.disjunction()
            self.take(")")
            return tree
        if item[0].isdigit() or item[0] == ".":
            return _cn(float(item))
        if not _ID.match(item):
            raise FormulaError(f"in {self.formula!r}: unexpected {item!r}")
        if self.peek() == "(" and (item in _FUNCTIONS or item == "piecewise"):
            return self.call(item)
        return _symbol(item)

    def call(self, function: str) -> ET.Element:
        args = self.arguments()
        if function == "piecewise":
            return _piecewise(self.formula, args)
        if len(args) != 1:
            raise FormulaError(f"in {self.formula!r}: {function} takes one argument")
        return _apply(_FUNCTIONS[function], *args)


def _symbol(name: str) -> ET.Element:
    if name in _CONSTANTS:
        return ET.Element(_CONSTANTS[name])
    if name == "time":
        symbol = ET.Element("csymbol", encoding="text", definitionURL=TIME_URL)
        symbol.text = "time"
        return symbol
    element = ET.Element("ci")
    element.text = name
    return element


def _piecewise(formula: str, args: list[ET.Element]) -> ET.Element:
    if len(args) < 3 or len(args) % 2 == 0:
        raise FormulaError(f"in {formula!r}: piecewise takes value, condition, ..., otherwise")
    element = ET.Element("piecewise")
    for value, condition in zip(args[:-1:2], args[1:-1:2], strict=True):
        piece = ET.SubElement(element, "piece")
        piece.extend([value, condition])
    ET.SubElement(element, "otherwise").append(args[-1])
    return element


def mathml(formula: str) -> ET.Element:
    """The MathML `<math>` element of an infix formula (see the module's docstring)."""
    root = ET.Element("math", xmlns=MATHML_NS)
    root.append(_Parser(formula, _tokens(formula)).parse())
    return root


def names_in(formula: str) -> set[str]:
    """The identifiers a formula refers to (functions, constants and `time` left out)."""
    reserved = set(_FUNCTIONS) | set(_CONSTANTS) | {"time", "piecewise"}
    return {t for t in _tokens(formula) if _ID.match(t) and t not in reserved}


# ------------------------------------------------------------------------------ the document


@dataclass(frozen=True, slots=True)
class Event:
    """When `trigger` turns true, set each variable to its formula.

    The formulas are evaluated when the event is triggered (`from_trigger_time`, the default)
    or when it executes: the latter matters for events triggered at the same instant, each of
    which then sees what the ones of higher priority did.
    """

    id: str
    trigger: str
    assignments: tuple[tuple[str, str], ...]
    priority: float | None = None
    initial_value: bool = False
    from_trigger_time: bool = True


@dataclass
class SbmlModel:
    """An SBML L3V2 model built piece by piece; `to_xml` writes it (values are float64)."""

    id: str
    name: str = ""
    compartments: dict[str, float] = field(default_factory=dict)
    species: dict[str, tuple[str, float]] = field(default_factory=dict)
    parameters: dict[str, tuple[float, bool]] = field(default_factory=dict)
    rate_rules: dict[str, str] = field(default_factory=dict)
    assignment_rules: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    notes: str = ""

    def _new(self, ident: str) -> str:
        if not _ID.match(ident):
            raise FormulaError(f"{ident!r} is not an SBML identifier")
        if ident in self.compartments or ident in self.species or ident in self.parameters:
            raise FormulaError(f"{ident!r} is defined twice")
        return ident

    def compartment(self, ident: str, size: float = 1.0) -> None:
        """A constant compartment of `size` (volume units of the model)."""
        self.compartments[self._new(ident)] = float(size)

    def add_species(self, ident: str, compartment: str, amount: float) -> None:
        """A species counted as an amount (hasOnlySubstanceUnits), changed only by rules/events."""
        self.species[self._new(ident)] = (compartment, float(amount))

    def parameter(self, ident: str, value: float, *, constant: bool = True) -> None:
        """A parameter; `constant=False` when a rule or event changes it."""
        self.parameters[self._new(ident)] = (float(value), constant)

    def rate(self, variable: str, formula: str) -> None:
        """d(variable)/dt = formula."""
        self.rate_rules[variable] = formula

    def assign(self, variable: str, formula: str) -> None:
        """variable = formula at every instant."""
        self.assignment_rules[variable] = formula

    def event(self, event: Event) -> None:
        """Add an event."""
        self.events.append(event)

    def check(self) -> None:
        """Refuse a model that refers to an undefined name or changes a constant."""
        defined = set(self.compartments) | set(self.species) | set(self.parameters)
        formulas = [*self.rate_rules.values(), *self.assignment_rules.values()]
        for ev in self.events:
            formulas.append(ev.trigger)
            formulas.extend(f for _, f in ev.assignments)
        for formula in formulas:
            unknown = names_in(formula) - defined
            if unknown:
                raise FormulaError(f"{formula!r} refers to undefined {sorted(unknown)}")
        changed = set(self.rate_rules) | set(self.assignment_rules)
        changed |= {v for ev in self.events for v, _ in ev.assignments}
        for variable in changed:
            if variable in self.compartments or self.parameters.get(variable, (0, False))[1]:
                raise FormulaError(f"{variable!r} is constant but a rule or event changes it")
            if variable not in defined:
                raise FormulaError(f"{variable!r} is changed but not defined")

    def _entities(self, model: ET.Element) -> None:
        """Compartments, species and parameters."""
        if self.compartments:
            listing = ET.SubElement(model, "listOfCompartments")
            for ident, size in self.compartments.items():
                ET.SubElement(
                    listing,
                    "compartment",
                    id=ident,
                    spatialDimensions="3",
                    size=_double(size),
                    constant="true",
                )
        if self.species:
            listing = ET.SubElement(model, "listOfSpecies")
            for ident, (compartment, amount) in self.species.items():
                ET.SubElement(
                    listing,
                    "species",
                    id=ident,
                    compartment=compartment,
                    initialAmount=_double(amount),
                    hasOnlySubstanceUnits="true",
                    boundaryCondition="false",
                    constant="false",
                )
        if self.parameters:
            listing = ET.SubElement(model, "listOfParameters")
            for ident, (value, constant) in self.parameters.items():
                ET.SubElement(
                    listing,
                    "parameter",
                    id=ident,
                    value=_double(value),
                    constant="true" if constant else "false",
                )

    def _events(self, model: ET.Element) -> None:
        """Events: persistent triggers."""
        if self.events:
            listing = ET.SubElement(model, "listOfEvents")
            for ev in self.events:
                element = ET.SubElement(
                    listing,
                    "event",
                    id=ev.id,
                    useValuesFromTriggerTime="true" if ev.from_trigger_time else "false",
                )
                trigger = ET.SubElement(
                    element,
                    "trigger",
                    persistent="true",
                    initialValue="true" if ev.initial_value else "false",
                )
                trigger.append(mathml(ev.trigger))
                if ev.priority is not None:
                    ET.SubElement(element, "priority").append(_math_number(ev.priority))
                assignments = ET.SubElement(element, "listOfEventAssignments")
                for variable, formula in ev.assignments:
                    ET.SubElement(assignments, "eventAssignment", variable=variable).append(
                        mathml(formula)
                    )

    def to_xml(self) -> str:
        """The SBML L3V2 document as text (UTF-8 declaration included)."""
        self.check()
        sbml = ET.Element("sbml", xmlns=SBML_NS, level="3", version="2")
        model = ET.SubElement(sbml, "model", id=self.id, name=self.name or self.id)
        model.set("timeUnits", "day")
        units = ET.SubElement(ET.SubElement(model, "listOfUnitDefinitions"), "unitDefinition")
        units.set("id", "day")
        ET.SubElement(
            ET.SubElement(units, "listOfUnits"),
            "unit",
            kind="second",
            exponent="1",
            scale="0",
            multiplier="86400",
        )
        if self.notes:
            notes = ET.Element("notes")
            body = ET.SubElement(notes, "body", xmlns="http://www.w3.org/1999/xhtml")
            ET.SubElement(body, "p").text = self.notes
            model.insert(0, notes)
        self._entities(model)
        if self.rate_rules or self.assignment_rules:
            listing = ET.SubElement(model, "listOfRules")
            for variable, formula in self.assignment_rules.items():
                ET.SubElement(listing, "assignmentRule", variable=variable).append(mathml(formula))
            for variable, formula in self.rate_rules.items():
                ET.SubElement(listing, "rateRule", variable=variable).append(mathml(formula))
        self._events(model)
        ET.indent(sbml)
        return ET.tostring(sbml, encoding="unicode", xml_declaration=True)


def _double(value: float) -> str:
    """An XML Schema double: full precision, NaN and INF spelled as the schema spells them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(float(value))


def _math_number(value: float) -> ET.Element:
    root = ET.Element("math", xmlns=MATHML_NS)
    root.append(_cn(value))
    return root


def write(document: str, path: str | Path) -> Path:
    """Write an SBML document (text from this module) to `path` as UTF-8; returns the path."""
    target = Path(path)
    target.write_text(document, encoding="utf-8")
    return target


def _number(name: str, value: float) -> str:
    """A finite float as formula text (full precision)."""
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(field=name, value=value, allowed="a finite number")
    return repr(number)


# ------------------------------------------------------------------------ Kirschner-Panetta

KP_PARAMETERS = ("c", "mu2", "p1", "g1", "s1", "r2", "b", "a", "g2", "mu3", "p2", "g3", "s2")


def kirschner_panetta_sbml(
    parameters: Mapping[str, float] | object,
    initial: tuple[float, float, float],
    *,
    activation: str = "published",
    extinction_cells: float = 1.0,
) -> str:
    """The Kirschner-Panetta 1998 model as SBML L3V2 text: species E, T (cells) and IL (model
    units) in a unit compartment, changed by rate rules in linear T (as other tools integrate
    it), days as time; an event sets T to 0 once it falls below `extinction_cells` (1 cell).

    `parameters` is a mapping by symbol or a `KPParameters` (whose activation and extinction
    threshold are then used); `initial` = (E0, T0, IL0)."""
    values: dict[str, float] = {}
    if not isinstance(parameters, Mapping):
        activation = str(getattr(parameters, "activation", activation))
        extinction_cells = float(getattr(parameters, "extinction_cells", extinction_cells))
        source: Mapping[str, float] = {n: getattr(parameters, n) for n in KP_PARAMETERS}
    else:
        source = parameters
    for name in KP_PARAMETERS:
        if name not in source:
            raise InvalidInputError(field=name, value=None, allowed="a value for every symbol")
        values[name] = float(_number(name, source[name]))
    if activation not in ("published", "biomodels"):
        raise InvalidInputError(
            field="activation", value=activation, allowed="published or biomodels"
        )
    model = SbmlModel(
        "kirschner_panetta_1998",
        "Kirschner & Panetta 1998, original parameters (J Math Biol 37:235-252)",
        notes="Exported by il2 (il2.science.mechanism.sbml). Activation: "
        f"{activation}; extinction below {extinction_cells:g} cells (T set to 0).",
    )
    model.compartment("tumour_site", 1.0)
    for ident, amount in zip(("E", "T", "IL"), initial, strict=True):
        model.add_species(ident, "tumour_site", float(_number(f"{ident}0", amount)))
    for name in KP_PARAMETERS:
        model.parameter(name, values[name])
    model.parameter("extinction_cells", float(extinction_cells))
    denominator = "(g1 + IL)" if activation == "published" else "g1"
    model.rate("E", f"c*T - mu2*E + p1*E*IL/{denominator} + s1")
    model.rate("T", "r2*T*(1 - b*T) - a*E*T/(g2 + T)")
    model.rate("IL", "p2*E*T/(g3 + T) - mu3*IL + s2")
    model.event(Event("extinction", "T < extinction_cells", (("T", "0"),)))
    return model.to_xml()


# ------------------------------------------------------------------- the cell-and-tumour model

# SBML identifiers of the per-interval signals and the SBRT fractions (the model's own
# parameters take their names from cells.PARAMETERS, the states from cells.STATES).
_DOSES = "doses_given"
_EXTINCT_DAY = "extinct_day"
_HOLD = "hold_above"


def _given(k: int, signal: str) -> str:
    return f"given_{k}_{signal}"


def _held(k: int, signal: str) -> str:
    return f"held_{k}_{signal}"


def _lq(j: int) -> str:
    """The linear-quadratic log kill alpha*D + beta*D^2 of fraction j (D its Gy)."""
    return f"(alpha*rt_gy_{j} + beta*rt_gy_{j}^2)"


@dataclass(frozen=True, slots=True)
class CellsPatient:
    """One patient's inputs of `cells_sbml`, validated by the kernel's own rules.

    `values` maps every SBML identifier that carries a number of this patient to its value at
    day 0: the initial states E, N, R, x, L, A, z (the model's species), and parameters: the model
    parameters (cells.PARAMETERS), the interval signals `given_k_s` / `held_k_s`, `hold_above`,
    the SBRT days `rt_day_j` and doses `rt_gy_j`, and the event-changed `u_s` (0),
    `doses_given` (0) and `extinct_day` (nan, or 0 for a tumour extinct from the start).
    `edges` and the number of SBRT fractions fix the model's structure: patients that share
    them can share one model.
    """

    edges: tuple[float, ...]
    fractions: int
    values: Mapping[str, float]


def cells_patient(  # noqa: PLR0917 - the kernel's arguments, for one patient
    parameters: Mapping[str, float] | ArrayLike,
    y0: ArrayLike,
    edges_days: ArrayLike,
    signals_given: ArrayLike,
    signals_held: ArrayLike,
    hold_above: float,
    rt_days: ArrayLike,
    rt_gy: ArrayLike,
) -> CellsPatient:
    """Check one patient's inputs as `simulate_population` checks them (same errors, for
    patient 0) and name each number as `cells_sbml` names it in the SBML.

    `parameters` is a mapping by name (every name of cells.PARAMETERS, no other) or a vector
    in PARAMETERS order; the others are `simulate_population`'s arguments without the patient
    axis. A tumour compartment below 1 cell in `y0` starts extinct (x or z = -1; extinct_day 0
    when both are), as there."""
    if isinstance(parameters, Mapping):
        unknown = sorted(set(parameters) - set(PARAMETERS))
        if unknown:
            raise InvalidInputError(
                field=unknown[0],
                value=parameters[unknown[0]],
                allowed=f"one of {', '.join(PARAMETERS)}",
            )
        missing = [name for name in PARAMETERS if name not in parameters]
        if missing:
            raise InvalidInputError(
                field=missing[0], value=None, allowed="a value for every parameter"
            )
        vector: ArrayLike = [parameters[name] for name in PARAMETERS]
    else:
        vector = parameters

    def one(name: str, value: ArrayLike, ndim: int) -> NDArray[np.float64]:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(field=name, value=value, allowed="numbers") from None
        if array.ndim != ndim:
            raise InvalidInputError(
                field=name, value=f"shape {array.shape}", allowed=f"a {ndim}-D array"
            )
        return array[None]

    inputs = validate(
        one("parameters", vector, 1),
        one("y0", y0, 1),
        edges_days,
        one("signals_given", signals_given, 2),
        one("signals_held", signals_held, 2),
        hold_above,
        one("rt_days", rt_days, 1),
        one("rt_gy", rt_gy, 1),
        np.zeros(1),
        1.0,
        1.0,
    )
    values: dict[str, float] = dict(zip(PARAMETERS, inputs.params[0].tolist(), strict=True))
    start = inputs.y0[0].tolist()
    extinct_day = math.nan
    for name in ("x", "z"):
        if start[STATES.index(name)] < 0.0:
            start[STATES.index(name)] = EXTINCT_X
    if start[STATES.index("x")] == start[STATES.index("z")] == EXTINCT_X:
        extinct_day = 0.0
    values.update(zip(STATES, start, strict=True))
    values[_EXTINCT_DAY] = extinct_day
    values[_DOSES] = 0.0
    values.update((f"u_{signal}", 0.0) for signal in SIGNALS)
    values[_HOLD] = inputs.hold_above
    for k in range(inputs.edges.size - 1):
        for i, signal in enumerate(SIGNALS):
            values[_given(k, signal)] = float(inputs.signals_given[0, k, i])
            values[_held(k, signal)] = float(inputs.signals_held[0, k, i])
    planned = ~np.isnan(inputs.rt_days[0])
    for j, (day, gy) in enumerate(
        zip(inputs.rt_days[0][planned], inputs.rt_gy[0][planned], strict=True)
    ):
        values[f"rt_day_{j}"] = float(day)
        values[f"rt_gy_{j}"] = float(gy)
    return CellsPatient(
        edges=tuple(inputs.edges.tolist()),
        fractions=int(planned.sum()),
        values=MappingProxyType(values),
    )


def cells_sbml(  # noqa: PLR0917 - the kernel's arguments, for one patient
    parameters: Mapping[str, float] | ArrayLike,
    y0: ArrayLike,
    edges_days: ArrayLike,
    signals_given: ArrayLike,
    signals_held: ArrayLike,
    hold_above: float,
    rt_days: ArrayLike,
    rt_gy: ArrayLike,
) -> str:
    """The cell-and-tumour model of one patient as SBML L3V2 text: the same model, with the
    same event rules, as `kernel.simulate_population` (time in days, from 0).

    Arguments as `cells_patient`. The seven states (STATES) are species changed by rate rules in
    a unit compartment (E, N, R in cells; x, z the logs of the two tumour compartments, L and A
    dimensionless); T = exp(x) + exp(z) by an assignment rule, a compartment counting 0 once it
    is <= -1. Every number of the patient is a named parameter or an
    initial amount (`cells_patient(...).values`), so one loaded model serves any patient of the
    same schedule: set the values (initial amounts for the states) and reset the time to 0.

    The kernel's rules, as events:
    - signals u_cd8, u_nk, u_treg, u_endothelium are 0 before edges[0] and from edges[-1];
    - at edge k < K: an interval whose given and held signals are equal carries no dose (the
      signals take them; nothing is decided or counted); otherwise the dose is held when
      L > hold_above at that instant (signals `held_k_*`), else given (`given_k_*`) and counted
      in `doses_given`;
    - SBRT fraction j at rt_day_j of rt_gy_j Gy: x and z += ln(1 - f_RT + f_RT*exp(-(alpha*D +
      beta*D^2))) (-= alpha*D + beta*D^2 when f_RT >= 1), not on an extinct compartment;
      A += A_RT;
    - extinction, per compartment: once x < 0 (z < 0) it is set to -1 (and stays: derivative 0,
      no cells) and, when the other compartment is extinct too, `extinct_day` records the time;
    - at one instant: extinction first, then SBRT fractions, then the edge (the hold decision),
      each event reading the state the earlier ones left; an output at that instant (the
      simulator's) shows the state after all of them.
    """
    patient = cells_patient(
        parameters, y0, edges_days, signals_given, signals_held, hold_above, rt_days, rt_gy
    )
    values = patient.values
    edges = patient.edges
    model = SbmlModel(
        "il2_cells_patient",
        "il2 cell-and-tumour model, one patient",
        notes="Exported by il2 (il2.science.mechanism.sbml.cells_sbml); the model and event "
        "rules of il2.science.mechanism.kernel; time in days; x, z = ln(cells) of the "
        "immune-accessible and immune-excluded tumour compartments; extinction: x < 0 (z < 0) "
        "sets it to -1, where it stays.",
    )
    model.compartment("body", 1.0)
    for ident in STATES:
        model.add_species(ident, "body", values[ident])
    for name in PARAMETERS:
        model.parameter(name, values[name])
    model.parameter(_HOLD, values[_HOLD])
    model.parameter("T", 0.0, constant=False)
    for signal in SIGNALS:
        model.parameter(f"u_{signal}", values[f"u_{signal}"], constant=False)
    for k in range(len(edges) - 1):
        for signal in SIGNALS:
            model.parameter(_given(k, signal), values[_given(k, signal)])
            model.parameter(_held(k, signal), values[_held(k, signal)])
    for j in range(patient.fractions):
        model.parameter(f"rt_day_{j}", values[f"rt_day_{j}"])
        model.parameter(f"rt_gy_{j}", values[f"rt_gy_{j}"])
    model.parameter(_EXTINCT_DAY, values[_EXTINCT_DAY], constant=False)
    model.parameter(_DOSES, values[_DOSES], constant=False)

    gone = f"x <= {EXTINCT_X!r}"
    gone_z = f"z <= {EXTINCT_X!r}"
    model.assign("T", f"piecewise(0, {gone}, exp(x)) + piecewise(0, {gone_z}, exp(z))")
    model.rate("E", "s_E + c*(1 + A)*T/(h_T + T) + (p_E*u_cd8 - d_E)*E - k_sup*R/(R + K_R)*E")
    model.rate("N", "s_N + (p_N*u_nk - d_N)*N")
    model.rate("R", "s_R + (p_R*u_treg - d_R)*R")
    # 1/(1 + R/(q*E)) written as q*E/(q*E + R), finite when E = 0 (as the kernel does)
    free = "piecewise(q*E/(q*E + R), q*E + R != 0, 0)"
    kill = f"(k_E*E + k_N*N)/(g + T)*{free}"
    model.rate("x", f"piecewise(0, {gone}, r*(1 - T/K) - {kill})")
    model.rate("L", "k_L*(u_nk*N/N_0 + w_a*u_endothelium) - k_Lr*L")
    model.rate("A", "-A/tau_RT")
    model.rate("z", f"piecewise(0, {gone_z}, r*(1 - T/K) - phi*{kill})")

    for name, other, priority in (("x", gone_z, 30.0), ("z", gone, 29.0)):
        model.event(
            Event(
                f"extinction_{name}",
                f"{name} < 0",
                (
                    (name, repr(EXTINCT_X)),
                    (_EXTINCT_DAY, f"piecewise(time, {other}, {_EXTINCT_DAY})"),
                ),
                priority=priority,
                from_trigger_time=False,
            )
        )
    for j in range(patient.fractions):
        lq = _lq(j)
        survive = f"piecewise(-{lq}, f_RT >= 1, ln(1 - f_RT + f_RT*exp(-{lq})))"
        model.event(
            Event(
                f"sbrt_{j}",
                f"time >= rt_day_{j}",
                (
                    ("x", f"piecewise(x, {gone}, x + {survive})"),
                    ("z", f"piecewise(z, {gone_z}, z + {survive})"),
                    ("A", "A + A_RT"),
                ),
                priority=20.0,
                from_trigger_time=False,
            )
        )
    for k in range(len(edges) - 1):
        is_dose = " || ".join(f"{_given(k, s)} != {_held(k, s)}" for s in SIGNALS)
        hold = f"({is_dose}) && L > {_HOLD}"
        assignments = [
            (f"u_{s}", f"piecewise({_held(k, s)}, {hold}, {_given(k, s)})") for s in SIGNALS
        ]
        assignments.append((_DOSES, f"{_DOSES} + piecewise(1, ({is_dose}) && L <= {_HOLD}, 0)"))
        model.event(
            Event(
                f"edge_{k}",
                f"time >= {edges[k]!r}",
                tuple(assignments),
                priority=10.0,
                from_trigger_time=False,
            )
        )
    model.event(
        Event(
            f"edge_{len(edges) - 1}",
            f"time >= {edges[-1]!r}",
            tuple((f"u_{s}", "0") for s in SIGNALS),
            priority=10.0,
            from_trigger_time=False,
        )
    )
    return model.to_xml()
