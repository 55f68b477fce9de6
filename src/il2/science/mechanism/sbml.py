"""SBML Level 3 Version 2 export of the simulator's models, so other tools can run them.

A small writer of our own (`xml.etree.ElementTree`, no libSBML): compartments, species and
parameters whose values change by rate rules (no reactions), assignment rules and events. Formulas
are written as infix text (`+ - * / ^`, parentheses, comparisons, `&&`, `||`, functions `exp`,
`ln`, `piecewise(value, condition, ..., otherwise)`, the symbol `time`) and turned into MathML.

Models: `kirschner_panetta_sbml` (KP 1998, linear T, as other tools integrate it, with the
extinction rule as an event) and `cells_sbml` (the cell-and-tumour model of one patient, with its
dosing intervals, SBRT fractions and extinction as events).
"""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from il2.domain.errors import InvalidInputError

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
    """When `trigger` turns true, set each variable to its formula (values at trigger time)."""

    id: str
    trigger: str
    assignments: tuple[tuple[str, str], ...]
    priority: float | None = None
    initial_value: bool = False


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
        """Events: persistent triggers, values from trigger time."""
        if self.events:
            listing = ET.SubElement(model, "listOfEvents")
            for ev in self.events:
                element = ET.SubElement(listing, "event", id=ev.id, useValuesFromTriggerTime="true")
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

CELL_STATES = ("E", "N", "R", "x", "L", "A")
CELL_SIGNALS = ("cd8", "nk", "treg", "endothelium")
CELL_PARAMETERS = (
    "s_E",
    "c",
    "h_T",
    "p_E",
    "d_E",
    "k_sup",
    "K_R",
    "s_N",
    "p_N",
    "d_N",
    "s_R",
    "p_R",
    "d_R",
    "r",
    "K",
    "k_E",
    "k_N",
    "g",
    "q",
    "k_L",
    "N_0",
    "w_a",
    "k_Lr",
    "tau_RT",
    "A_RT",
    "alpha",
    "beta",
)
EXTINCT_X = -1.0


def _signal_matrix(name: str, value: object, intervals: int) -> list[list[float]]:
    rows = [[float(v) for v in row] for row in value]  # type: ignore[attr-defined]
    if len(rows) != intervals or any(len(r) != len(CELL_SIGNALS) for r in rows):
        raise InvalidInputError(
            field=name,
            value=f"{len(rows)} rows",
            allowed=(
                f"{intervals} intervals x {len(CELL_SIGNALS)} signals ({', '.join(CELL_SIGNALS)})"
            ),
        )
    for row in rows:
        for v in row:
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise InvalidInputError(field=name, value=v, allowed="occupancies from 0 to 1")
    return rows


def _check_cells_inputs(
    parameters: Mapping[str, float],
    y0: Sequence[float],
    rt_days: Sequence[float],
    rt_gy: Sequence[float],
) -> None:
    unknown = sorted(set(parameters) - set(CELL_PARAMETERS))
    if unknown:
        allowed = f"one of {', '.join(CELL_PARAMETERS)}"
        raise InvalidInputError(field=unknown[0], value=parameters[unknown[0]], allowed=allowed)
    for name in CELL_PARAMETERS:
        if name not in parameters:
            raise InvalidInputError(field=name, value=None, allowed="a value for every parameter")
    if len(y0) != len(CELL_STATES):
        allowed = f"{len(CELL_STATES)} states {', '.join(CELL_STATES)}"
        raise InvalidInputError(field="y0", value=list(y0), allowed=allowed)
    if len(rt_days) != len(rt_gy):
        allowed = "one dose per SBRT time (rt_days)"
        raise InvalidInputError(field="rt_gy", value=list(rt_gy), allowed=allowed)


def _edges(edges_days: Sequence[float]) -> list[float]:
    edges = [float(_number("edges_days", e)) for e in edges_days]
    increasing = all(b > a for a, b in itertools.pairwise(edges))
    if len(edges) < 2 or edges[0] < 0 or not increasing:
        allowed = "at least 2 increasing days from 0"
        raise InvalidInputError(field="edges_days", value=edges, allowed=allowed)
    return edges


def cells_sbml(  # noqa: PLR0917 - the kernel's arguments, for one patient
    parameters: Mapping[str, float],
    y0: Sequence[float],
    edges_days: Sequence[float],
    signals_given: Sequence[Sequence[float]],
    signals_held: Sequence[Sequence[float]],
    hold_above: float,
    rt_days: Sequence[float],
    rt_gy: Sequence[float],
) -> str:
    """The cell-and-tumour model of one patient as SBML L3V2 text (time in days, from 0).

    States E, N, R (cells, species), x = ln T, L, A (parameters changed by rate rules); T = exp(x)
    by an assignment rule. Signals u_cd8, u_nk, u_treg, u_endothelium are 0 until edges_days[0];
    at each edge k < K the dose is given iff L <= hold_above (then the signals take
    signals_given[k], and `doses_given` counts it), otherwise signals_held[k]; at the last edge
    every signal is 0. SBRT fraction j at rt_days[j] (nan = none) of rt_gy[j] Gy: x -= alpha*D +
    beta*D^2 and A += A_RT. Extinction: once x < 0, x is set to -1 and frozen (a flag `alive`
    multiplies dx/dt) and `extinct_day` records the time."""
    _check_cells_inputs(parameters, y0, rt_days, rt_gy)
    edges = _edges(edges_days)
    intervals = len(edges) - 1
    given = _signal_matrix("signals_given", signals_given, intervals)
    held = _signal_matrix("signals_held", signals_held, intervals)
    hold = float(hold_above)
    if math.isnan(hold):
        raise InvalidInputError(field="hold_above", value=hold_above, allowed="a number or inf")

    model = SbmlModel(
        "il2_cells_patient",
        "il2 cell-and-tumour model, one patient",
        notes="Exported by il2 (il2.science.mechanism.sbml.cells_sbml); time in days; "
        "x = ln(tumour cells); extinction: x < 0 sets x = -1 and freezes it.",
    )
    model.compartment("body", 1.0)
    for ident, value in zip(CELL_STATES, y0, strict=True):
        amount = float(_number(f"y0.{ident}", value))
        if ident in {"E", "N", "R"}:
            model.add_species(ident, "body", amount)
        else:
            model.parameter(ident, amount, constant=False)
    for name in CELL_PARAMETERS:
        model.parameter(name, float(_number(name, parameters[name])))
    model.parameter("T", 0.0, constant=False)
    model.assign("T", "exp(x)")
    for signal in CELL_SIGNALS:
        model.parameter(f"u_{signal}", 0.0, constant=False)
    model.parameter("alive", 1.0, constant=False)
    model.parameter("extinct_day", math.nan, constant=False)
    model.parameter("doses_given", 0.0, constant=False)

    model.rate("E", "s_E + c*(1 + A)*T/(h_T + T) + p_E*u_cd8*E - d_E*E - k_sup*R/(R + K_R)*E")
    model.rate("N", "s_N + p_N*u_nk*N - d_N*N")
    model.rate("R", "s_R + p_R*u_treg*R - d_R*R")
    model.rate("x", "alive*(r*(1 - T/K) - (k_E*E + k_N*N)/(g + T)/(1 + R/(q*E)))")
    model.rate("L", "k_L*(u_nk*N/N_0 + w_a*u_endothelium) - k_Lr*L")
    model.rate("A", "-A/tau_RT")

    model.event(
        Event(
            "extinction",
            "x < 0",
            (("x", repr(EXTINCT_X)), ("alive", "0"), ("extinct_day", "time")),
            priority=10.0,
            initial_value=False,
        )
    )
    for k in range(intervals):
        allowed = "L <= " + repr(hold) if math.isfinite(hold) else ("true" if hold > 0 else "false")
        assignments = [("doses_given", f"doses_given + piecewise(1, {allowed}, 0)")]
        for i, signal in enumerate(CELL_SIGNALS):
            formula = f"piecewise({given[k][i]!r}, {allowed}, {held[k][i]!r})"
            assignments.append((f"u_{signal}", formula))
        model.event(Event(f"edge_{k}", f"time >= {edges[k]!r}", tuple(assignments), priority=5.0))
    model.event(
        Event(
            f"edge_{intervals}",
            f"time >= {edges[-1]!r}",
            tuple((f"u_{s}", "0") for s in CELL_SIGNALS),
            priority=5.0,
        )
    )
    for j, (day, dose) in enumerate(zip(rt_days, rt_gy, strict=True)):
        if math.isnan(float(day)):
            continue
        when = float(_number("rt_days", day))
        gy = float(_number("rt_gy", dose))
        if when < 0 or gy < 0:
            raise InvalidInputError(field="rt_days", value=when, allowed="days >= 0, Gy >= 0")
        kill = f"(alpha*{gy!r} + beta*{gy!r}^2)"
        model.event(
            Event(
                f"sbrt_{j}",
                f"time >= {when!r}",
                (("x", f"piecewise(x - {kill}, alive > 0.5, x)"), ("A", "A + A_RT")),
                priority=1.0,
            )
        )
    return model.to_xml()
