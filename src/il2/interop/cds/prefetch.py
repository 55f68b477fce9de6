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

from il2.rules.loader import RuleSet
from il2.services.ehr import (
    STANDING,
    Wanted,
    observation_coded,
    observation_moment,
    wanted_fields,
)

PATIENT_KEY = "patient"
PATIENT_TEMPLATE = "Patient/{{context.patientId}}"
__all__ = ["STANDING", "Wanted", "assessment", "read", "resources", "template", "templates",
           "wanted_fields"]  # fmt: skip


def template(wanted: Wanted) -> str:
    """The latest Observation with the field's code (CDS Hooks prefetch query restrictions)."""
    return (
        f"Observation?patient={{{{context.patientId}}}}&code={wanted.system}|{wanted.code}"
        "&_sort=-date&_count=1"
    )


def templates(rules: RuleSet, *, with_observations: bool) -> dict[str, str]:
    """The prefetch templates of a service: the Patient, and the Observations if it decides."""
    found = {PATIENT_KEY: PATIENT_TEMPLATE}
    if with_observations:
        found |= {w.field: template(w) for w in wanted_fields(rules)}
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
        and observation_coded(o, wanted)
        and (moment := observation_moment(o)) is not None
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
