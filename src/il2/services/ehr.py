"""Reading the site's EHR (FHIR R4): values offered for the bedside form, a referral pre-filled,
and a referred patient registered from a FHIR Bundle.

Nothing read from the EHR is ever used silently. The bedside values and the referral fields are
offers: a page shows each with its time and source, fills the form, and the user still reviews
and submits it (the record is made by `submit_dose` or `create_patient`, as if typed). A value
il2 cannot use as it stands (another unit, no time, outside the entry guards, not a final
result) is listed with the reason and never converted or filled. A Bundle is registered through
`create_patient`, so its checks and its audit are the registration's own.

Codes are il2's data (codes.toml through `RuleSet.codes`): an Observation is asked for only by
a verified LOINC code of a bedside field, its unit compared with the UCUM code of il2's unit,
and a diagnosis is mapped only through codes.toml [diagnoses] or, reported as such, by the
exact words of il2's diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from il2.domain import limits
from il2.domain.coding import Section
from il2.domain.errors import InvalidInputError, NotFoundError, UnavailableError
from il2.domain.findings import FieldSpec, FieldType
from il2.domain.records import Actor, Patient
from il2.rules.loader import RuleSet
from il2.services.auditing import audit, refusals_audited
from il2.services.context import Services, patient_or_404
from il2.services.parsing import text
from il2.services.patients import DIAGNOSES, SEXES, create_patient
from il2.services.permissions import require
from il2.services.ports import EhrRecords

LABS = "labs."
LABS_DRAWN = "labs.hours_since_drawn"
LAB_AGE_POLICY = "lab_max_age_h"
MRN_POLICY = "ehr_mrn_system"
# R4 ObservationStatus (https://hl7.org/fhir/R4/valueset-observation-status.html): results that
# stand; registered, preliminary, cancelled, entered-in-error and unknown are never offered.
STANDING = frozenset({"final", "amended", "corrected"})
# R4 ConditionVerificationStatus (https://hl7.org/fhir/R4/valueset-condition-ver-status.html):
# a Condition entered in error, or refuted, says nothing of the patient's diagnosis.
NOT_A_DIAGNOSIS = frozenset({"entered-in-error", "refuted"})
# R4 Bundle.type (https://hl7.org/fhir/R4/valueset-bundle-type.html) a referral is read from.
REFERRAL_BUNDLES = frozenset({"transaction", "batch", "collection"})
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def ehr_configured(services: Services) -> bool:
    """Whether the site has an EHR to read (IL2_EHR_FHIR_URL); pages offer the import only then."""
    return services.ehr is not None


def _ehr(services: Services) -> EhrRecords:
    if services.ehr is None:
        raise UnavailableError(
            "no EHR is configured at this site (IL2_EHR_FHIR_URL is not set)", system="ehr"
        )
    return services.ehr


def ehr_mrn_system(services: Services) -> str:
    """The identifier system of the MRN in the EHR: the site setting `ehr_mrn_system`."""
    setting = next(p for p in services.rules.policies if p.name == MRN_POLICY)
    return str(setting.value)


def _ehr_patient(services: Services, ehr: EhrRecords, mrn: str) -> Mapping[str, Any]:
    system = ehr_mrn_system(services)
    found = ehr.patient_by_identifier(system, mrn)
    if found is None or not found.get("id"):
        raise NotFoundError(kind="patient in the EHR with the identifier", key=f"{system}|{mrn}")
    return found


# ------------------------------------------------------------------------- bedside values


@dataclass(frozen=True, slots=True)
class Wanted:
    """A bedside number field asked of the EHR as an Observation: its LOINC coding and il2's
    UCUM unit (the dose form's offers and the CDS Hooks prefetch ask for the same)."""

    spec: FieldSpec
    system: str
    code: str
    display: str
    unit_system: str | None
    unit_code: str | None

    @property
    def field(self) -> str:
        """The field's path in the before-dose assessment (`vitals.sbp_mmhg`)."""
        return self.spec.path


def wanted_fields(rules: RuleSet) -> tuple[Wanted, ...]:
    """The bedside number fields with a verified LOINC code, one per code (`baseline.*` are
    values from before treatment, never the latest result)."""
    found: dict[tuple[str, str], Wanted] = {}
    for path, spec in rules.bedside_fields.items():
        if spec.type is not FieldType.NUMBER or path.startswith("baseline."):
            continue
        coding = rules.codes.coding(Section.FIELDS, path)
        if coding is None:
            continue
        unit = rules.codes.coding(Section.UNITS, spec.unit) if spec.unit else None
        found.setdefault(
            (coding.system, coding.code),
            Wanted(spec, coding.system, coding.code, coding.display,
                   unit.system if unit else None, unit.code if unit else None),
        )  # fmt: skip
    return tuple(found.values())


def observation_moment(observation: Mapping[str, Any]) -> datetime | None:
    """The Observation's effective time, when it is a date-time with its offset."""
    raw = observation.get("effectiveDateTime") or observation.get("effectiveInstant")
    if not isinstance(raw, str) or "T" not in raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def observation_coded(observation: Mapping[str, Any], wanted: Wanted) -> bool:
    """Whether the Observation carries the wanted field's coding."""
    codings = (observation.get("code") or {}).get("coding") or ()
    return any(
        isinstance(c, Mapping) and (c.get("system"), c.get("code")) == (wanted.system, wanted.code)
        for c in codings
    )


def _number_text(number: Decimal) -> str:
    """A decimal as a form field takes it: no exponent, no separators, no trailing zeros."""
    normal = number.normalize()
    return f"{normal:f}" if normal != normal.to_integral_value() else str(int(normal))


def _hours(later: datetime, earlier: datetime) -> Decimal:
    seconds = Decimal(str((later - earlier).total_seconds()))
    return (seconds / 3600).quantize(Decimal("0.1"))


def _lab_limit(services: Services) -> Decimal | None:
    return services.rules.bedside_policy.lab_max_age_h


def _offer(
    services: Services, ehr: EhrRecords, wanted: Wanted, found: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """One Observation as an offer for its field: usable, or the reason it is not."""
    spec = wanted.spec
    quantity = found.get("valueQuantity")
    moment = observation_moment(found)
    offer: dict[str, Any] = {
        "field": spec.path,
        "label": spec.label or spec.path,
        "value": None,
        "unit": spec.unit,
        "effective": moment.isoformat() if moment else None,
        "age_hours": None if moment is None else str(_hours(now, moment)),
        "observation": f"{ehr.where}/Observation/{found.get('id')}",
        "usable": False,
        "old": False,
        "reason": "",
    }
    if isinstance(quantity, Mapping) and quantity.get("value") is not None:
        offer["ehr_value"] = str(quantity.get("value"))
        offer["ehr_unit"] = f"{quantity.get('system', '')}|{quantity.get('code', '')}"
    reason = _unusable(services, wanted, found, moment, now)
    if reason:
        return offer | {"reason": reason}
    assert isinstance(quantity, Mapping)  # noqa: S101 - checked by _unusable
    value = Decimal(str(quantity["value"]))
    offer |= {"value": _number_text(value), "usable": True}
    limit = _lab_limit(services)
    assert moment is not None  # noqa: S101 - checked by _unusable
    if spec.path.startswith(LABS) and limit is not None and _hours(now, moment) > limit:
        offer |= {
            "old": True,
            "reason": f"drawn over {_number_text(limit)} h ago (site policy {LAB_AGE_POLICY}): "
            "old labs can stop a dose but never clear one",
        }
    return offer


def _unusable(  # noqa: PLR0911 - one reason per way a result can be unusable
    services: Services,
    wanted: Wanted,
    found: Mapping[str, Any],
    moment: datetime | None,
    now: datetime,
) -> str:
    """Why the Observation cannot fill its field ('' if it can)."""
    spec = wanted.spec
    if found.get("status") not in STANDING:
        return f"status {found.get('status')!r} is not a final result"
    if moment is None:
        return "no effective date-time with a time zone"
    if moment > now:
        return "dated in the future"
    quantity = found.get("valueQuantity")
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        return "no valueQuantity"
    unit = (quantity.get("system"), quantity.get("code"))
    if unit != (wanted.unit_system, wanted.unit_code):
        return (
            f"unit {unit[0] or '?'}|{unit[1] or '?'} is not il2's "
            f"{wanted.unit_system}|{wanted.unit_code} ({spec.unit}); never converted"
        )
    try:
        value = Decimal(str(quantity["value"]))
    except InvalidOperation:
        return "the value is not a number"
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        return f"outside il2's entry range {low} to {high} {spec.unit}"
    drawn = services.rules.bedside_fields.get(LABS_DRAWN)
    oldest = drawn.maximum if drawn is not None else None
    if spec.path.startswith(LABS) and oldest is not None and _hours(now, moment) > oldest:
        return f"drawn over {oldest} h ago, more than il2 takes for labs"
    return ""


def _fill(offers: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The form values the usable offers give, and where each came from: the labs' age is the
    age of the oldest lab offered, so that old labs never read as the day's."""
    fill: dict[str, str] = {}
    sources: dict[str, str] = {}
    for offer in offers:
        if offer["usable"]:
            fill[offer["field"]] = offer["value"]
            sources[offer["field"]] = str(offer["effective"])
    labs = [o for o in offers if o["usable"] and o["field"].startswith(LABS)]
    if labs:
        oldest = max(labs, key=lambda o: Decimal(o["age_hours"]))
        fill[LABS_DRAWN] = _number_text(Decimal(oldest["age_hours"]))
        sources[LABS_DRAWN] = str(oldest["effective"])
    return fill, sources


def ehr_bedside_values(
    services: Services, actor: Actor, course_id: int, cycle: int, dose_number: int
) -> dict[str, Any]:
    """The latest vital signs and labs of the course's patient in the EHR, offered for the
    before-dose form of (cycle, dose_number): each with its time, age and Observation, usable
    or not and why. Nothing is recorded; one audit entry says who read which patient and
    which fields came back.

    `fill` holds the values a form may be filled with (with `labs.hours_since_drawn` from the
    oldest lab offered) and `sources` the time of each.
    """
    require(services, actor, "dose.record")
    ehr = _ehr(services)
    with services.uow() as uow:
        course = uow.courses.get(course_id)
        if course is None:
            raise NotFoundError(kind="course", key=str(course_id))
        patient = patient_or_404(uow, course.patient_id)
    _check_slot(course.plan, cycle, dose_number)
    with refusals_audited(
        services, actor, action="ehr_read", entity="patient", entity_id=patient.id,
        patient_id=patient.id,
    ):  # fmt: skip
        found = _ehr_patient(services, ehr, patient.mrn)
        wanted = wanted_fields(services.rules)
        observations = ehr.latest_observations(
            str(found["id"]), [(w.system, w.code) for w in wanted]
        )
    now = services.clock()
    offers = []
    for item in wanted:
        latest = [o for o in observations if observation_coded(o, item)]
        if latest:
            offers.append(_offer(services, ehr, item, max(latest, key=_sort_key), now))
    fill, sources = _fill(offers)
    document = {
        "ehr": ehr.where,
        "ehr_patient": f"{ehr.where}/Patient/{found['id']}",
        "patient_id": patient.id,
        "course_id": course_id,
        "cycle": cycle,
        "dose_number": dose_number,
        "read_at": now.isoformat(),
        "offers": offers,
        "not_in_ehr": [
            w.spec.path for w in wanted if w.spec.path not in {o["field"] for o in offers}
        ],
        "fill": fill,
        "sources": sources,
    }
    with services.uow() as uow:
        audit(
            uow, services, actor, action="ehr_read", entity="patient", entity_id=patient.id,
            patient_id=patient.id,
            after={
                "ehr_patient": document["ehr_patient"], "for": "bedside",
                "course_id": course_id, "cycle": cycle, "dose_number": dose_number,
                "fields": [o["field"] for o in offers], "usable": sorted(fill),
            },
        )  # fmt: skip
        uow.commit()
    return document


def _sort_key(observation: Mapping[str, Any]) -> str:
    moment = observation_moment(observation)
    return moment.isoformat() if moment else ""


def _check_slot(plan: Mapping[str, Any], cycle: int, dose_number: int) -> None:
    """Refuse a dose the course's plan does not have, naming what it has."""
    cycles = plan.get("cycles", [])
    planned = next((c for c in cycles if c["cycle"] == cycle), None)
    if planned is None:
        raise InvalidInputError(
            field="cycle",
            value=cycle,
            allowed="one of " + ", ".join(str(c["cycle"]) for c in cycles),
        )
    if not 1 <= dose_number <= len(planned["doses"]):
        raise InvalidInputError(
            field="dose_number", value=dose_number, allowed=f"1 to {len(planned['doses'])}"
        )


# ----------------------------------------------------------------------------- referrals


def _words(value: object) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True, slots=True)
class DiagnosisMatch:
    """A Condition read as one of il2's diagnoses: by a code in codes.toml, or by its words."""

    term: str
    by: str  # "code" or "text"
    said: str  # the code or words that matched
    where: str  # the Condition (its URL, or its path in a Bundle)


def match_diagnosis(
    services: Services, condition: Mapping[str, Any], where: str
) -> DiagnosisMatch | None:
    """The il2 diagnosis a Condition names, or None: through codes.toml [diagnoses] only, else
    by an exact (any case) match of code.text or a coding's display with il2's diagnosis in
    words (`renal cell carcinoma`); a Condition entered in error or refuted names none."""
    status = (condition.get("verificationStatus") or {}).get("coding") or ()
    if any(isinstance(c, Mapping) and c.get("code") in NOT_A_DIAGNOSIS for c in status):
        return None
    concept = condition.get("code") or {}
    if not isinstance(concept, Mapping):
        return None
    codings = [c for c in concept.get("coding") or () if isinstance(c, Mapping)]
    coded = services.rules.codes.codings.get(Section.DIAGNOSES, {})
    for coding in codings:
        for term, cited in coded.items():
            if (coding.get("system"), coding.get("code")) == (
                cited.coding.system,
                cited.coding.code,
            ):
                return DiagnosisMatch(
                    term, "code", f"{cited.coding.system}|{cited.coding.code}", where
                )
    names = {_words(term.replace("_", " ")): term for term in DIAGNOSES}
    for said in [concept.get("text"), *(c.get("display") for c in codings)]:
        if isinstance(said, str) and _words(said) in names:
            return DiagnosisMatch(names[_words(said)], "text", said, where)
    return None


def _name(patient: Mapping[str, Any]) -> str | None:
    """The Patient's name as one line: its official name (else the first), text or parts."""
    names = [n for n in patient.get("name") or () if isinstance(n, Mapping)]
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if chosen is None:
        return None
    if isinstance(chosen.get("text"), str) and chosen["text"].strip():
        return " ".join(chosen["text"].split())
    parts = [*(chosen.get("given") or ()), chosen.get("family")]
    words = " ".join(str(p) for p in parts if isinstance(p, str) and p.strip())
    return " ".join(words.split()) or None


def _birth_date(raw: object) -> date | None:
    if not isinstance(raw, str) or not _FULL_DATE.fullmatch(raw):
        return None  # FHIR allows a year or a month alone; il2 needs the day
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def ehr_referral_fields(services: Services, actor: Actor, mrn: str) -> dict[str, Any]:
    """The referral form pre-filled from the EHR's Patient with this MRN: name, birth date,
    sex, and the diagnosis its Conditions name (by a code in codes.toml, or by text, said so;
    else left for the user to choose). Nothing is registered: the user submits the form."""
    require(services, actor, "patient.create")
    wanted = str(text(mrn, "mrn", limit=limits.MAX_IDENTIFIER))
    ehr = _ehr(services)
    with refusals_audited(
        services, actor, action="ehr_read", entity="ehr_patient", entity_id=wanted, patient_id=None
    ):
        found = _ehr_patient(services, ehr, wanted)
        conditions = ehr.conditions(str(found["id"]))
    fields: dict[str, str] = {"mrn": wanted}
    notes: dict[str, str] = {}
    name = _name(found)
    if name:
        fields["name"] = name
    else:
        notes["name"] = "the EHR's Patient has no name"
    born = _birth_date(found.get("birthDate"))
    if born is not None:
        fields["birth_date"] = born.isoformat()
    else:
        notes["birth_date"] = f"the EHR's birth date {found.get('birthDate')!r} is not a full date"
    if found.get("gender") in SEXES:
        fields["sex"] = str(found["gender"])
    matches: dict[str, DiagnosisMatch] = {}
    for condition in conditions:
        match = match_diagnosis(services, condition, f"{ehr.where}/Condition/{condition.get('id')}")
        if match is not None:
            matches.setdefault(match.term, match)
    if len(matches) == 1:
        match = next(iter(matches.values()))
        fields["diagnosis"] = match.term
        how = "by the code" if match.by == "code" else "by text (no code is mapped in codes.toml)"
        notes["diagnosis"] = f"matched {how}: {match.said!r} in {match.where}"
    elif matches:
        notes["diagnosis"] = (
            "the EHR names more than one of il2's diagnoses ("
            + ", ".join(sorted(matches))
            + "): choose"
        )
    else:
        notes["diagnosis"] = (
            f"none of the patient's {len(conditions)} Conditions names one of il2's diagnoses "
            "by a mapped code or by its words: choose"
        )
    with services.uow() as uow:
        audit(
            uow, services, actor, action="ehr_read", entity="ehr_patient", entity_id=wanted,
            patient_id=None,
            after={"ehr_patient": f"{ehr.where}/Patient/{found['id']}", "for": "referral",
                   "fields": sorted(fields)},
        )  # fmt: skip
        uow.commit()
    return {
        "ehr": ehr.where,
        "ehr_patient": f"{ehr.where}/Patient/{found['id']}",
        "read_at": services.clock().isoformat(),
        "fields": fields,
        "notes": notes,
    }


# ---------------------------------------------------------------------------- a Bundle


@dataclass(frozen=True, slots=True)
class BundleReferral:
    """A patient registered from a Bundle: the record, and which entries it came from."""

    patient: Patient
    patient_entry: int
    condition_entry: int | None
    diagnosis: DiagnosisMatch


def _refuse(path: str, value: object, allowed: str) -> InvalidInputError:
    return InvalidInputError(field=path, value=value, allowed=allowed)


def _entries(bundle: object) -> list[tuple[int, Mapping[str, Any]]]:
    """The Bundle's (index, resource) pairs, each entry checked."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise _refuse("Bundle.resourceType", None if not isinstance(bundle, Mapping)
                      else bundle.get("resourceType"), "Bundle")  # fmt: skip
    kind = bundle.get("type")
    if kind not in REFERRAL_BUNDLES:
        raise _refuse("Bundle.type", kind, "transaction, batch or collection")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise _refuse("Bundle.entry", None, "a Patient and its Condition")
    found = []
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            raise _refuse(f"{path}.resource", None, "a Patient or a Condition")
        if resource.get("resourceType") not in {"Patient", "Condition"}:
            raise _refuse(
                f"{path}.resource.resourceType",
                resource.get("resourceType"),
                "Patient or Condition (a referral is registered from these alone)",
            )
        if kind != "collection":
            request = entry.get("request") if isinstance(entry, Mapping) else None
            method = request.get("method") if isinstance(request, Mapping) else None
            if method != "POST":
                raise _refuse(f"{path}.request.method", method, "POST (il2 only creates)")
        found.append((index, resource))
    return found


def _full_url(bundle: Mapping[str, Any], index: int) -> str:
    entry = bundle["entry"][index]
    return str(entry.get("fullUrl") or "")


def _refers_to(reference: object, patient: Mapping[str, Any], full_url: str) -> bool:
    """Whether a Condition's subject is the Bundle's Patient: its fullUrl, or a relative
    `Patient/<id>` (resolved as https://hl7.org/fhir/R4/bundle.html#references says)."""
    if not isinstance(reference, Mapping):
        return False
    ref = str(reference.get("reference") or "")
    if ref and ref == full_url:
        return True
    pid = patient.get("id")
    return bool(ref) and (ref == full_url or (bool(pid) and ref == f"Patient/{pid}"))


def referral_from_bundle(services: Services, actor: Actor, bundle: object) -> BundleReferral:
    """Register the referred patient a FHIR Bundle holds (a transaction, batch or collection
    of one Patient and its Condition) with `create_patient`; anything unusable is refused with
    InvalidInputError naming its FHIR path, and nothing is written."""
    require(services, actor, "patient.create")
    entries = _entries(bundle)
    assert isinstance(bundle, Mapping)  # noqa: S101 - checked by _entries
    patients = [(i, r) for i, r in entries if r["resourceType"] == "Patient"]
    conditions = [(i, r) for i, r in entries if r["resourceType"] == "Condition"]
    if not patients:
        raise _refuse("Bundle.entry", None, "one Patient")
    if len(patients) > 1:
        raise _refuse(f"Bundle.entry[{patients[1][0]}].resource", "a second Patient", "one Patient")
    if len(conditions) > 1:
        raise _refuse(f"Bundle.entry[{conditions[1][0]}].resource", "a second Condition",
                      "one Condition: the cancer referred")  # fmt: skip
    index, patient = patients[0]
    at = f"Bundle.entry[{index}].resource"
    system = ehr_mrn_system(services)
    mrn = next(
        (str(i.get("value")) for i in patient.get("identifier") or ()
         if isinstance(i, Mapping) and i.get("system") == system and i.get("value")),
        None,
    )  # fmt: skip
    if mrn is None:
        raise _refuse(
            f"{at}.identifier",
            None,
            f"an identifier with system {system} (site policy {MRN_POLICY}) and the MRN",
        )
    name = _name(patient)
    if name is None:
        raise _refuse(f"{at}.name", None, "a name with text, or given and family names")
    born = _birth_date(patient.get("birthDate"))
    if born is None:
        raise _refuse(f"{at}.birthDate", patient.get("birthDate"), "a full date, YYYY-MM-DD")
    gender = patient.get("gender", "unknown")
    if gender not in SEXES:
        raise _refuse(f"{at}.gender", gender, "one of " + ", ".join(SEXES))
    if not conditions:
        raise _refuse(
            "Bundle.entry",
            None,
            "the Patient's Condition: il2 registers a referral with its diagnosis",
        )
    c_index, condition = conditions[0]
    c_at = f"Bundle.entry[{c_index}].resource"
    if not _refers_to(condition.get("subject"), patient, _full_url(bundle, index)):
        raise _refuse(
            f"{c_at}.subject",
            condition.get("subject"),
            f"a reference to the Patient of Bundle.entry[{index}]",
        )
    match = match_diagnosis(services, condition, c_at)
    if match is None:
        raise _refuse(
            f"{c_at}.code", (condition.get("code") or {}).get("text"),
            "a Condition naming one of il2's diagnoses ("
            + ", ".join(d.replace("_", " ") for d in DIAGNOSES)
            + ") by a code in codes.toml [diagnoses] or by its words",
        )  # fmt: skip
    paths = {"mrn": f"{at}.identifier", "name": f"{at}.name", "birth_date": f"{at}.birthDate",
             "sex": f"{at}.gender", "diagnosis": f"{c_at}.code"}  # fmt: skip
    document = {"mrn": mrn, "name": name, "birth_date": born.isoformat(), "sex": gender,
                "diagnosis": match.term}  # fmt: skip
    try:
        created = create_patient(services, actor, document)
    except InvalidInputError as error:
        raise _refuse(paths.get(error.field, error.field), error.value, error.allowed) from None
    return BundleReferral(created, index, c_index, match)


def fill_form(
    found: Mapping[str, Any], typed: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A form's values with the usable EHR values (`ehr_bedside_values`, or the `fields` of
    `ehr_referral_fields`) in the fields left empty, and the EHR's time of each value filled.

    What was typed is never replaced. The labs' age is the oldest of the labs used: when a lab
    is filled, `labs.hours_since_drawn` becomes the larger of what was typed and the EHR's.
    """
    values = dict(typed)
    marks: dict[str, str] = {}
    offered: Mapping[str, Any] = (
        found.get("fill") if "fill" in found else found.get("fields")
    ) or {}
    sources = found.get("sources") or {}
    when = str(found.get("read_at", ""))
    for name, value in offered.items():
        if name == LABS_DRAWN or str(values.get(name) or "").strip():
            continue
        values[name] = value
        marks[name] = str(sources.get(name, when))
    if LABS_DRAWN in offered and any(m.startswith(LABS) for m in marks):
        ehr_age = Decimal(str(offered[LABS_DRAWN]))
        try:
            typed_age = Decimal(str(values.get(LABS_DRAWN) or "").strip())
        except InvalidOperation:
            typed_age = None
        if typed_age is None or typed_age < ehr_age:
            values[LABS_DRAWN] = offered[LABS_DRAWN]
            marks[LABS_DRAWN] = str(sources.get(LABS_DRAWN, when))
    return values, marks
