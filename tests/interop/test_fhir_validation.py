"""Every resource il2 writes, checked twice and against its value sets (issue 19, done-when 1).

One realistic program record (tests/interop/programs.py: screening with ECOG, an hd-label
course given, held and discontinued, a corrected toxicity, a RECIST response, an outpatient
diary taken and missed) is read through the facade, every type by patient, as staff and as a
researcher, and the audit trail as an administrator. Each resource must pass (a) fhir.resources
R4B, (b) Medplum's validator, (c) declare the registry's profiles, (d) carry LOINC, SNOMED CT,
UCUM, MedDRA and NCIt codes only as codes.toml holds them, inside the value sets codes.toml
binds them to, and (e) keep every status, intent and category in its R4 value set. The checks
answer lists of problems, so the last tests can show each one rejecting a broken copy.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from il2.bootstrap import App
from il2.domain.coding import CodeTable
from il2.interop.fhir import records
from il2.interop.fhir.resources import TYPES
from il2.server import create_server
from il2.services.accounts import actor_for_username
from il2.services.patients import RECORD_PARTS
from tests.fhir_peer import MedplumValidator
from tests.integration.builders import outpatient_app, staff
from tests.integration.conftest import FixedClock
from tests.interop.programs import Program, toxicity_and_response, treat

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

Resource = dict[str, Any]
READERS = ("physician", "researcher")

_HL7 = "http://hl7.org/fhir/R4"
# (resource type, element) -> (the R4 value set page, its codes). Required bindings unless
# noted; the category bindings are preferred or extensible in R4, and il2 uses only their codes.
R4_CODES: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("Patient", "gender"): (
        f"{_HL7}/valueset-administrative-gender.html",
        frozenset({"male", "female", "other", "unknown"}),
    ),
    ("Condition", "clinicalStatus"): (
        f"{_HL7}/valueset-condition-clinical.html",
        frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"}),
    ),
    ("Condition", "verificationStatus"): (
        f"{_HL7}/valueset-condition-ver-status.html",
        frozenset(
            {
                "unconfirmed",
                "provisional",
                "differential",
                "confirmed",
                "refuted",
                "entered-in-error",
            }
        ),
    ),
    ("Condition", "category"): (  # extensible
        f"{_HL7}/valueset-condition-category.html",
        frozenset({"problem-list-item", "encounter-diagnosis"}),
    ),
    ("MedicationRequest", "status"): (
        f"{_HL7}/valueset-medicationrequest-status.html",
        frozenset(
            {
                "active",
                "on-hold",
                "cancelled",
                "completed",
                "entered-in-error",
                "stopped",
                "draft",
                "unknown",
            }
        ),
    ),
    ("MedicationRequest", "intent"): (
        f"{_HL7}/valueset-medicationrequest-intent.html",
        frozenset(
            {
                "proposal",
                "plan",
                "order",
                "original-order",
                "reflex-order",
                "filler-order",
                "instance-order",
                "option",
            }
        ),
    ),
    ("MedicationRequest", "category"): (  # example binding
        f"{_HL7}/valueset-medicationrequest-category.html",
        frozenset({"inpatient", "outpatient", "community", "discharge"}),
    ),
    ("MedicationAdministration", "status"): (
        f"{_HL7}/valueset-medication-admin-status.html",
        frozenset(
            {
                "in-progress",
                "not-done",
                "on-hold",
                "completed",
                "entered-in-error",
                "stopped",
                "unknown",
            }
        ),
    ),
    ("MedicationAdministration", "category"): (  # preferred
        f"{_HL7}/valueset-medication-admin-category.html",
        frozenset({"inpatient", "outpatient", "community"}),
    ),
    ("Observation", "status"): (
        f"{_HL7}/valueset-observation-status.html",
        frozenset(
            {
                "registered",
                "preliminary",
                "final",
                "amended",
                "corrected",
                "cancelled",
                "entered-in-error",
                "unknown",
            }
        ),
    ),
    ("Observation", "category"): (  # preferred
        f"{_HL7}/valueset-observation-category.html",
        frozenset(
            {
                "social-history",
                "vital-signs",
                "imaging",
                "laboratory",
                "procedure",
                "survey",
                "exam",
                "therapy",
                "activity",
            }
        ),
    ),
    ("AdverseEvent", "actuality"): (
        f"{_HL7}/valueset-adverse-event-actuality.html",
        frozenset({"actual", "potential"}),
    ),
    ("AdverseEvent", "category"): (  # extensible
        f"{_HL7}/valueset-adverse-event-category.html",
        frozenset(
            {
                "product-problem",
                "product-quality",
                "product-use-error",
                "wrong-dose",
                "incorrect-prescribing-information",
                "wrong-technique",
                "wrong-route-of-administration",
                "wrong-rate",
                "wrong-duration",
                "wrong-time",
                "expired-drug",
                "medical-device-use-error",
                "problem-different-manufacturer",
                "unsafe-physical-environment",
            }
        ),
    ),
    ("AuditEvent", "action"): (
        f"{_HL7}/valueset-audit-event-action.html",
        frozenset({"C", "R", "U", "D", "E"}),
    ),
    ("AuditEvent", "outcome"): (
        f"{_HL7}/valueset-audit-event-outcome.html",
        frozenset({"0", "4", "8", "12"}),
    ),
    ("Bundle", "type"): (
        f"{_HL7}/valueset-bundle-type.html",
        frozenset(
            {
                "document",
                "message",
                "transaction",
                "transaction-response",
                "batch",
                "batch-response",
                "history",
                "searchset",
                "collection",
            }
        ),
    ),
    ("CapabilityStatement", "status"): (
        f"{_HL7}/valueset-publication-status.html",
        frozenset({"draft", "active", "retired", "unknown"}),
    ),
    ("CapabilityStatement", "kind"): (
        f"{_HL7}/valueset-capability-statement-kind.html",
        frozenset({"instance", "capability", "requirements"}),
    ),
}
CODED_ELEMENTS = frozenset({"status", "intent", "category", "actuality", "action", "outcome",
                            "gender", "clinicalStatus", "verificationStatus", "kind", "type"})  # fmt: skip
"""The top-level elements whose codes are checked: each one a resource has must be in R4_CODES
(`type` only for the types listed there: Observation.code and AuditEvent.type are codes of
another kind, checked by (d) or extensible)."""
SEARCH_MODE = (
    f"{_HL7}/valueset-search-entry-mode.html",
    frozenset({"match", "include", "outcome"}),
)
ISSUE_SEVERITY = (
    f"{_HL7}/valueset-issue-severity.html",
    frozenset({"fatal", "error", "warning", "information"}),
)
ISSUE_TYPE = (
    f"{_HL7}/valueset-issue-type.html",
    frozenset({"invalid", "structure", "required", "value", "invariant", "security", "login",
               "unknown", "expired", "forbidden", "suppressed", "processing", "not-supported",
               "duplicate", "multiple-matches", "not-found", "deleted", "too-long",
               "code-invalid", "extension", "too-costly", "business-rule", "conflict",
               "transient", "lock-error", "no-store", "exception", "timeout", "incomplete",
               "throttled", "informational"}),
)  # fmt: skip

CHECKED_SYSTEMS = ("loinc", "snomed", "ucum", "meddra", "ncit")
"""The code systems whose codes must be ones codes.toml holds (d)."""
PROFILE_FIXED = {("http://loinc.org", "97509-4")}
"""Codes a profile fixes rather than il2 maps, cited where they are used: mCODE
CancerDiseaseStatus fixes its Observation.code to LOINC 97509-4 (resources/observation.py)."""
AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"

_VITALS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-"
OBSERVATION_PROFILES: dict[str, list[str]] = {
    "89247-1": [f"{_MCODE}ecog-performance-status"],
    "97509-4": [f"{_MCODE}cancer-disease-status"],
    "8867-4": [_VITALS, "http://hl7.org/fhir/StructureDefinition/heartrate"],
    "8310-5": [_VITALS, "http://hl7.org/fhir/StructureDefinition/bodytemp"],
    "29463-7": [_VITALS, "http://hl7.org/fhir/StructureDefinition/bodyweight"],
}
"""Observation is the one type with several profiles: which one each code declares. The rest
declare none (resources/observation.py says why: the systolic pressure is only a component of
the R4 blood pressure panel, the R4 oxygensat profile fixes another LOINC code than il2's SpO2,
and R4 has no lab or oxygen-flow profile)."""


# --- the record, read once per engine ---------------------------------------------------------


@pytest.fixture(scope="module")
def program(shared_app: App, shared_clock: FixedClock) -> Iterator[Program]:
    lifted = outpatient_app(shared_app)
    staff(lifted)
    with TestClient(create_server(lifted)) as client:
        treated = treat(client, lifted, shared_clock)
        toxicity_and_response(client, treated.patient_id, treated.hd_course)
        yield treated


def _audit_trail(program: Program) -> list[Resource]:
    """Every AuditEvent, following the `next` links."""
    found: list[Resource] = []
    answer = program.get("AuditEvent", "administrator", _count=100)
    while True:
        found += [e["resource"] for e in answer.get("entry", [])]
        following = [link["url"] for link in answer["link"] if link["relation"] == "next"]
        if not following:
            return found
        page = program.client.get(following[0], headers=program.headers("administrator"))
        assert page.status_code == 200, page.text
        answer = page.json()


@pytest.fixture(scope="module")
def written(program: Program) -> dict[str, list[Resource]]:
    """Every resource il2 answers for the program, by reader: staff and researcher read the
    patient and every compartment type by patient; the administrator reads the audit trail."""
    found: dict[str, list[Resource]] = {}
    for role in READERS:
        found[role] = [program.get(f"Patient/{program.fhir_id(role)}", role)]
        for name, kind in TYPES.items():
            if kind.in_compartment:
                found[role] += program.search(name, role)
    found["administrator"] = _audit_trail(program)
    return found


def _all(written: dict[str, list[Resource]]) -> list[Resource]:
    return [resource for resources in written.values() for resource in resources]


# --- the checks: each answers the problems it finds -------------------------------------------


def r4b_problems(resource: Resource) -> list[str]:
    """(a) What fhir.resources' R4B model refuses."""
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValidationError, KeyError, ValueError) as error:
        return [str(error)]
    return []


def profile_problems(resource: Resource) -> list[str]:
    """(c) meta.profile, as the registry declares it for the type."""
    kind = TYPES[resource["resourceType"]]
    declared = resource.get("meta", {}).get("profile", [])
    if kind.name == "Observation":
        code = resource["code"]["coding"][0]["code"]
        wanted = OBSERVATION_PROFILES.get(code, [])
    else:
        wanted = list(kind.profiles)
    problems = [] if declared == wanted else [f"{resource['id']}: profile {declared} != {wanted}"]
    return problems + [f"{p} is not in the registry" for p in declared if p not in kind.profiles]


def _codings(value: Any) -> Iterator[dict[str, Any]]:
    """Every Coding (and coded Quantity) within a resource: what has a system and a code."""
    if isinstance(value, dict):
        if isinstance(value.get("system"), str) and "code" in value:
            yield value
        for inner in value.values():
            yield from _codings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _codings(inner)


def code_problems(resource: Resource, codes: CodeTable) -> list[str]:
    """(d) Codes of LOINC, SNOMED CT, UCUM, MedDRA and NCIt: only those codes.toml holds, with
    its display, and inside the value sets codes.toml binds their sections to."""
    uris = {codes.systems[name].uri for name in CHECKED_SYSTEMS}
    held = {
        (cited.coding.system, cited.coding.code): (section, cited.coding.display)
        for section, terms in codes.codings.items()
        for cited in terms.values()
    }
    bound = {vs.binds: vs for vs in codes.value_sets.values()}
    problems = []
    for coding in _codings(resource):
        key = (coding["system"], coding["code"])
        if coding["system"] not in uris or key in PROFILE_FIXED:
            continue
        if key not in held:
            problems.append(f"{key} is not in codes.toml")
            continue
        section, display = held[key]
        if "display" in coding and coding["display"] != display:
            problems.append(f"{key}: display {coding['display']!r} != {display!r}")
        if section in bound and coding["code"] not in bound[section].codes:
            problems.append(f"{key} is outside {bound[section].url}")
    return problems + _bound_element_problems(resource, codes)


def _bound_element_problems(resource: Resource, codes: CodeTable) -> list[str]:
    """The elements bound to a codes.toml value set hold only its codes: CancerDiseaseStatus's
    value (ConditionStatusTrendVS) and the ae-grade extension (THO AE grades)."""
    found: list[tuple[str, dict[str, Any]]] = []
    profiles = resource.get("meta", {}).get("profile", [])
    if any(p.endswith("mcode-cancer-disease-status") for p in profiles):
        found += [("condition_status_trend", c) for c in _codings(resource["valueCodeableConcept"])]
    for extension in resource.get("extension", []):
        if extension["url"] == AE_GRADE:
            concept = extension["valueCodeableConcept"]
            found += [("ae_clinical_research_grades", c) for c in _codings(concept)]
    problems = []
    for name, coding in found:
        value_set = codes.value_sets[name]
        if coding["system"] != value_set.system or coding["code"] not in value_set.codes:
            problems.append(f"{coding} is outside {value_set.url}")
    return problems


def _codes_of(value: Any) -> list[str]:
    """The codes of a code, a CodeableConcept, a Coding or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [code for inner in value for code in _codes_of(inner)]
    return [str(coding["code"]) for coding in _codings(value)]


def r4_code_problems(resource: Resource) -> list[str]:
    """(e) Every status, intent and category (and the like) inside its R4 value set."""
    kind = resource["resourceType"]
    problems = []
    for element in CODED_ELEMENTS & set(resource):
        if element == "type" and (kind, element) not in R4_CODES:
            continue
        if (kind, element) not in R4_CODES:
            problems.append(f"{kind}.{element} has no R4 value set in this test")
            continue
        url, allowed = R4_CODES[(kind, element)]
        problems += [
            f"{kind}.{element} {code!r} is not in {url}"
            for code in _codes_of(resource[element])
            if code not in allowed
        ]
    return problems


def bundle_problems(bundle: Resource) -> list[str]:
    """(e) for a searchset Bundle: its type and each entry's search mode."""
    problems = r4_code_problems(bundle)
    url, modes = SEARCH_MODE
    problems += [
        f"search.mode {e['search']['mode']!r} is not in {url}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] not in modes
    ]
    return problems


def outcome_problems(outcome: Resource) -> list[str]:
    """(e) for an OperationOutcome: each issue's severity and code."""
    problems = []
    for issue in outcome["issue"]:
        for (url, allowed), code in (
            (ISSUE_SEVERITY, issue["severity"]),
            (ISSUE_TYPE, issue["code"]),
        ):
            if code not in allowed:
                problems.append(f"{code!r} is not in {url}")
    return problems


# --- every resource ---------------------------------------------------------------------------


def test_every_type_is_read_by_every_reader(written: dict[str, list[Resource]]) -> None:
    for role in READERS:
        kinds = {r["resourceType"] for r in written[role]}
        assert kinds == set(TYPES) - {"AuditEvent"}, role
    assert {r["resourceType"] for r in written["administrator"]} == {"AuditEvent"}
    counts = {kind: sum(r["resourceType"] == kind for r in written["physician"]) for kind in TYPES}
    assert counts["MedicationAdministration"] == 5
    assert counts["AdverseEvent"] == 1
    assert len(written["administrator"]) > 20


def test_every_resource_is_valid_r4b(written: dict[str, list[Resource]]) -> None:
    problems = [p for resource in _all(written) for p in r4b_problems(resource)]
    assert problems == []


def test_medplum_finds_no_issue_in_any_resource(
    written: dict[str, list[Resource]], medplum_validator: MedplumValidator
) -> None:
    problems = {
        f"{r['resourceType']}/{r['id']}": issues
        for r in _all(written)
        if (issues := medplum_validator.validate(r))
    }
    assert problems == {}


def test_every_resource_declares_its_types_profiles(written: dict[str, list[Resource]]) -> None:
    problems = [p for resource in _all(written) for p in profile_problems(resource)]
    assert problems == []
    observations = [r for r in written["physician"] if r["resourceType"] == "Observation"]
    declared = {p for r in observations for p in r.get("meta", {}).get("profile", [])}
    assert declared == set(TYPES["Observation"].profiles)  # each profile the registry lists


def test_every_standard_code_is_one_codes_toml_holds(
    written: dict[str, list[Resource]], program: Program
) -> None:
    codes = program.app.rules.codes
    problems = [p for resource in _all(written) for p in code_problems(resource, codes)]
    assert problems == []
    systems = {codes.systems[name].uri for name in CHECKED_SYSTEMS}
    used = {c["system"] for r in _all(written) for c in _codings(r)} & systems
    assert used == systems  # the record exercises all five


def test_every_status_intent_and_category_is_in_its_r4_value_set(
    written: dict[str, list[Resource]],
) -> None:
    problems = [p for resource in _all(written) for p in r4_code_problems(resource)]
    assert problems == []


# --- the facade's own documents ---------------------------------------------------------------


def test_the_capability_statement_passes_both_validators(
    program: Program, medplum_validator: MedplumValidator
) -> None:
    statement = program.client.get("/fhir/metadata").json()
    assert r4b_problems(statement) == []
    assert medplum_validator.validate(statement) == []
    assert r4_code_problems(statement) == []


def test_a_searchset_bundle_with_includes_passes_both_validators(
    program: Program, medplum_validator: MedplumValidator
) -> None:
    bundle = program.get("MedicationAdministration", patient=f"Patient/{program.patient_id}",
                         _include="MedicationAdministration:request", _count=2)  # fmt: skip
    assert {e["search"]["mode"] for e in bundle["entry"]} == {"match", "include"}
    assert r4b_problems(bundle) == []
    assert medplum_validator.validate(bundle) == []
    assert bundle_problems(bundle) == []


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [("Patient/999999", "physician", 404), ("Patient?_count=lots", "physician", 400),
     ("AuditEvent", "nurse", 403)],
)  # fmt: skip
def test_an_operation_outcome_passes_both_validators(
    program: Program, medplum_validator: MedplumValidator, path: str, role: str, status: int
) -> None:
    answer = program.client.get(f"/fhir/{path}", headers=program.headers(role))
    assert answer.status_code == status
    outcome = answer.json()
    assert r4b_problems(outcome) == []
    assert medplum_validator.validate(outcome) == []
    assert outcome_problems(outcome) == []


# --- the checks can fail ----------------------------------------------------------------------


def _one(written: dict[str, list[Resource]], kind: str, **having: Any) -> Resource:
    found = next(
        r
        for r in written["physician"]
        if r["resourceType"] == kind and all(r.get(k) == v for k, v in having.items())
    )
    return copy.deepcopy(found)


def test_both_validators_refuse_a_resource_without_its_required_elements(
    written: dict[str, list[Resource]], medplum_validator: MedplumValidator
) -> None:
    broken = _one(written, "MedicationAdministration", status="not-done")
    del broken["subject"]  # MedicationAdministration.subject is 1..1
    broken["effectiveDateTime"] = "yesterday"
    assert r4b_problems(broken) != []
    issues = medplum_validator.validate(broken)
    assert any("effective[x]" in issue for issue in issues), issues
    assert any("subject" in issue for issue in issues), issues


def test_the_value_set_checks_refuse_codes_outside_them(
    written: dict[str, list[Resource]], program: Program
) -> None:
    codes = program.app.rules.codes
    given = _one(written, "MedicationAdministration", status="completed")
    given["status"] = "given"  # not an R4 MedicationAdministration status
    assert r4_code_problems(given) == [
        f"MedicationAdministration.status 'given' is not in {_HL7}/valueset-medication-admin-status.html"
    ]
    vital = next(r for r in written["physician"] if "valueQuantity" in r)
    vital = copy.deepcopy(vital)
    vital["code"]["coding"][0]["code"] = "8462-4"  # diastolic: a real LOINC code il2 never maps
    vital["valueQuantity"]["code"] = "[in_i'Hg]"
    assert len(code_problems(vital, codes)) == 2
    event = _one(written, "AdverseEvent")
    event["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "not-a-grade"
    assert any("adverse-event-clinical-research-grades" in p for p in code_problems(event, codes))
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": given, "search": {"mode": "matched"}}]}  # fmt: skip
    assert len(bundle_problems(bundle)) == 1
    assert outcome_problems({"issue": [{"severity": "bad", "code": "oops"}]}) != []


def test_the_profile_check_refuses_a_missing_or_foreign_profile(
    written: dict[str, list[Resource]],
) -> None:
    request = _one(written, "MedicationRequest", status="stopped")
    del request["meta"]
    assert profile_problems(request) != []
    ecog = next(copy.deepcopy(r) for r in written["physician"] if r.get("valueInteger") is not None)
    ecog["meta"]["profile"] = [_VITALS]
    assert len(profile_problems(ecog)) == 1


@pytest.mark.parametrize("role", READERS)
def test_each_type_builds_the_same_from_only_the_parts_it_names(
    program: Program, role: str
) -> None:
    """A read or search reads only the record parts a type names (`ResourceType.parts`): the
    resources must be those the whole record gives, or a type reads a part it does not name."""
    services = program.app.services
    actor = actor_for_username(services, role)
    whole, context = records.read(
        services, actor, program.fhir_id(role), base="", parts=RECORD_PARTS
    )
    for name, kind in TYPES.items():
        if not kind.in_compartment and name != "Patient":
            continue
        partial, _ = records.read(services, actor, program.fhir_id(role), base="", parts=kind.parts)
        expected = list(kind.build(whole, context))
        assert expected, f"the program has no {name} to compare"
        assert list(kind.build(partial, context)) == expected, name
    assert RECORD_PARTS - frozenset().union(*(k.parts for k in TYPES.values())) == set()
