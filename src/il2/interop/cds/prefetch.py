"""Prefetch: the FHIR data il2's services ask the EHR for, and the Observations read back.

CDS Hooks 2.0, "Prefetch Template" (https://cds-hooks.hl7.org/2.0/#prefetch-template): each
template is a FHIR read or search with `{{context.patientId}}` as its token, limited to token
search by equality, `_count` and `_sort` ("Prefetch query restrictions"). The EHR answers each
key with the resource (a searchset Bundle for a search), with `null` for no data, and leaves
out a key it chose not to satisfy.

The Observations are the latest of each vital sign and laboratory value il2's before-dose
decision reads that has a LOINC code in codes.toml [fields] (`RuleSet.codes`): a field il2
has no verified code for is never asked for and never read from a code il2 guessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from il2.domain.coding import Section
from il2.domain.findings import FieldType
from il2.rules.loader import RuleSet

PATIENT_KEY = "patient"
PATIENT_TEMPLATE = "Patient/{{context.patientId}}"
# R4 ObservationStatus (hl7.org/fhir/R4/valueset-observation-status.html): the results that
# stand; registered, preliminary, cancelled, entered-in-error and unknown are not read.
STANDING = frozenset({"final", "amended", "corrected"})


@dataclass(frozen=True, slots=True)
class Wanted:
    """One before-dose field asked for as an Observation: its LOINC and UCUM codings."""

    field: str
    system: str
    code: str
    display: str
    unit_system: str | None
    unit_code: str | None

    @property
    def template(self) -> str:
        """The latest Observation with this code (CDS Hooks prefetch query restrictions)."""
        return (
            f"Observation?patient={{{{context.patientId}}}}&code={self.system}|{self.code}"
            "&_sort=-date&_count=1"
        )


def wanted_fields(rules: RuleSet) -> tuple[Wanted, ...]:
    """The number fields of the before-dose assessment that have a LOINC code, one per code
    (`baseline.*` are pre-treatment values, not the latest result, and are not asked for)."""
    found: dict[str, Wanted] = {}
    for path, spec in rules.bedside_fields.items():
        if spec.type is not FieldType.NUMBER or path.startswith("baseline."):
            continue
        coding = rules.codes.coding(Section.FIELDS, path)
        if coding is None:
            continue
        unit = rules.codes.coding(Section.UNITS, spec.unit) if spec.unit else None
        key = f"{coding.system}|{coding.code}"
        found.setdefault(
            key,
            Wanted(
                field=path,
                system=coding.system,
                code=coding.code,
                display=coding.display,
                unit_system=unit.system if unit else None,
                unit_code=unit.code if unit else None,
            ),
        )
    return tuple(found.values())


def templates(rules: RuleSet, *, with_observations: bool) -> dict[str, str]:
    """The prefetch templates of a service: the Patient, and the Observations if it decides."""
    found = {PATIENT_KEY: PATIENT_TEMPLATE}
    if with_observations:
        found |= {w.field: w.template for w in wanted_fields(rules)}
    return found


@dataclass(frozen=True, slots=True)
class Reading:
    """One Observation read into a before-dose field, or the reason it was not used."""

    field: str
    value: Decimal | None
    at: datetime | None
    note: str


def resources(found: object) -> Iterator[Mapping[str, Any]]:
    """The resources of a prefetch value: the resource itself or a Bundle's entries."""
    if not isinstance(found, Mapping):
        return
    if found.get("resourceType") == "Bundle":
        for entry in found.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping):
                yield resource
    else:
        yield found


def _moment(observation: Mapping[str, Any]) -> datetime | None:
    raw = observation.get("effectiveDateTime") or observation.get("effectiveInstant")
    if not isinstance(raw, str) or "T" not in raw:
        return None  # a date without a time cannot be placed against a dose
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _coded(observation: Mapping[str, Any], wanted: Wanted) -> bool:
    codings = (observation.get("code") or {}).get("coding") or ()
    return any(
        isinstance(c, Mapping) and c.get("system") == wanted.system and c.get("code") == wanted.code
        for c in codings
    )


def read(wanted: Wanted, found: object, *, not_before: datetime | None) -> Reading:
    """The latest standing Observation of `wanted` in a prefetch value, in il2's unit.

    A value in another unit is not converted, and one made before `not_before` (the patient's
    last dose given) does not describe the patient now: either is left out, with why.
    """
    candidates = [
        (moment, o)
        for o in resources(found)
        if o.get("resourceType") == "Observation"
        and o.get("status") in STANDING
        and _coded(o, wanted)
        and (moment := _moment(o)) is not None
    ]
    if not candidates:
        return Reading(wanted.field, None, None, "no final result with a date and time")
    moment, latest = max(candidates, key=lambda pair: pair[0])
    quantity = latest.get("valueQuantity")
    if not isinstance(quantity, Mapping) or "value" not in quantity:
        return Reading(wanted.field, None, moment, "the result has no valueQuantity")
    if (quantity.get("system"), quantity.get("code")) != (wanted.unit_system, wanted.unit_code):
        return Reading(
            wanted.field,
            None,
            moment,
            f"unit {quantity.get('system')}|{quantity.get('code')} is not il2's "
            f"{wanted.unit_system}|{wanted.unit_code} (never converted)",
        )
    if not_before is not None and moment < not_before:
        return Reading(wanted.field, None, moment, "made before the last dose given")
    try:
        value = Decimal(str(quantity["value"]))
    except InvalidOperation:
        return Reading(wanted.field, None, moment, "the value is not a number")
    return Reading(wanted.field, value, moment, "")


def assessment(readings: list[Reading], now: datetime) -> dict[str, Any]:
    """The before-dose fields the readings give, nested as the assessment document nests them;
    `labs.hours_since_drawn` counts from the oldest laboratory result used."""
    document: dict[str, Any] = {}
    drawn: list[datetime] = []
    for reading in readings:
        if reading.value is None:
            continue
        head, _, tail = reading.field.partition(".")
        number = (
            int(reading.value)
            if reading.value == reading.value.to_integral()
            else float(reading.value)
        )
        if tail:
            document.setdefault(head, {})[tail] = number
        else:
            document[head] = number
        if head == "labs" and reading.at is not None:
            drawn.append(reading.at)
    if drawn:
        hours = (now - min(drawn)).total_seconds() / 3600
        document.setdefault("labs", {})["hours_since_drawn"] = round(max(hours, 0.0), 1)
    return document
