"""AuditEvent: il2's audit trail, read by administrators (permission `audit.read`).

Not a patient-compartment type: administrators may read the trail but no patient record, so a
search or read calls the trail's own service (`il2.services.audit.audit_page`, as GET
/api/audit does), which checks the permission, pages and counts in SQL, withholds the records'
content, and audits the read. Nothing of an entry's content (before, after) is mapped here.

The entries follow IHE Basic Audit Log Patterns (BALP, IHE/ITI.BasicAudit input/fsh at
09fe7293: PatientRead.fsh, PatientCreate.fsh, PatientQuery.fsh, PatientUpdate.fsh): type
`rest`, a restful-interaction subtype, the AuditEventAction, success outcome, the user agent
(IRCP for a read or query, AUT for a write), the patient entity (type 1 Person, role 1 Patient)
and the record entity (type 2 System Object, role 4 Domain Resource). No BALP profile is
declared: each requires a client and a server agent with their network addresses
(`agent[client].network` 1..1, `agent[server].network` 1..1), which il2's trail does not keep.
Every entry also carries il2's own action as a subtype (`urn:il2:audit-action`), so nothing is
lost where no standard code fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.limits import MAX_ID
from il2.domain.records import Actor
from il2.interop.fhir.model import (
    Context,
    Criteria,
    Record,
    Resource,
    ResourceType,
    SearchParam,
)
from il2.interop.fhir.search import date_bounds
from il2.services.audit import audit_page
from il2.services.context import Services
from il2.services.ports import AuditQuery

ACTION_SYSTEM = "urn:il2:audit-action"
"""il2's own audit action names (il2.services: create, read, correct, ...)."""
USER_SYSTEM = "urn:il2:username"
"""il2's user names, the identifier of the user agent."""
RECORD_SYSTEM = "urn:il2:record"
"""Which il2 record an entry is about: `<entity>/<id>` (course/3, toxicity/12)."""

_EVENT_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "Restful Operation",
}
_RESTFUL = "http://hl7.org/fhir/restful-interaction"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_USER_TYPES = {  # BALP: IRCP for reads and queries (Read, Query), AUT for writes (DataSources)
    "reader": {"system": _PARTICIPATION, "code": "IRCP", "display": "information recipient"},
    "author": {"system": _PARTICIPATION, "code": "AUT", "display": "author (originator)"},
}
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_PATIENT_ENTITY = {
    "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
    "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"},
}
_RECORD_ENTITY = {
    "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
    "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
}
# AuditEventOutcome (http://hl7.org/fhir/R4/valueset-audit-event-outcome.html): 0 success;
# 4 minor failure, "often equivalent to an HTTP 400 response": a refused request.
_SUCCESS, _REFUSED = "0", "4"

# il2's actions as AuditEventAction (C create, R read/view/print, U update, E execute) and,
# where the act is one of FHIR's RESTful interactions, that interaction. A correction is a new
# entry pointing at the old one (nothing is edited in place), so it is a create. Reads of
# composed views (worklist, outcomes, ...) are reads with no single RESTful interaction;
# sign-ins, previews and look-ups are executions.
_ACTIONS: Mapping[str, tuple[str, str | None]] = {
    "create": ("C", "create"),
    "plan_course": ("C", "create"),
    "record": ("C", "create"),
    "record_dose": ("C", "create"),
    "record_diary": ("C", "create"),
    "record_infusion_event": ("C", "create"),
    "correct": ("C", "create"),
    "correct_diary": ("C", "create"),
    "verify_plan": ("C", "create"),
    "read": ("R", "read"),
    "read_deidentified": ("R", "read"),
    "read_infusion": ("R", "read"),
    "read_schedule": ("R", "read"),
    "read_worklist": ("R", None),
    "read_assignments": ("R", None),
    "read_preparation_list": ("R", None),
    "read_vial_use": ("R", None),
    "read_outcomes": ("R", None),
    "export": ("R", None),
    "search_patients": ("E", "search-type"),
    "study_id_lookup": ("E", None),
    "preview_dose": ("E", None),
    "leave_out_of_outcomes": ("U", None),
    "set_role": ("U", "update"),
    "deactivate": ("U", "update"),
    "reactivate": ("U", "update"),
    "reset_password": ("U", "update"),
    "change_password": ("U", "update"),
    "unlock": ("U", "update"),
    "sign_in": ("E", None),
    "sign_out": ("E", None),
    "sign_in_failed": ("E", None),
    "deny": ("E", None),
}
_FAILED = frozenset({"deny", "sign_in_failed"})


def _action(name: str) -> tuple[str | None, str | None, bool]:
    """(AuditEventAction, restful interaction, refused) of an il2 action."""
    refused = name.startswith("refuse_") or name in _FAILED
    attempted = name.removeprefix("refuse_")
    letter, interaction = _ACTIONS.get(attempted, (None, None))
    return letter, interaction, refused


def audit_event(entry: Mapping[str, Any]) -> Resource:
    """One audit entry as an AuditEvent (who, when, what, which patient and record)."""
    name = str(entry["action"])
    letter, interaction, refused = _action(name)
    subtype = [{"system": ACTION_SYSTEM, "code": name}]
    if interaction is not None:
        subtype.insert(0, {"system": _RESTFUL, "code": interaction, "display": interaction})
    user_type = _USER_TYPES["author" if letter in ("C", "U") else "reader"]
    resource: Resource = {
        "resourceType": "AuditEvent",
        "id": str(entry["id"]),
        "type": _EVENT_TYPE if interaction is not None else {"system": ACTION_SYSTEM, "code": name},
        "subtype": subtype,
        "recorded": str(entry["at"]),
        "outcome": _REFUSED if refused else _SUCCESS,
        "agent": [
            {
                "type": {"coding": [user_type]},
                "who": {"identifier": {"system": USER_SYSTEM, "value": entry["username"]}},
                "altId": entry["username"],
                "requestor": True,
            }
        ],
        "source": {"observer": {"display": "il2"}},
    }
    if letter is not None:
        resource["action"] = letter
    entities: list[dict[str, Any]] = []
    if entry.get("patient_id") is not None:
        entities.append(
            {"what": {"reference": f"Patient/{entry['patient_id']}"}, **_PATIENT_ENTITY}
        )
    if entry.get("entity") != "patient" or entry.get("patient_id") is None:
        record = f"{entry['entity']}/{entry['entity_id']}"
        entities.append(
            {"what": {"identifier": {"system": RECORD_SYSTEM, "value": record}}, **_RECORD_ENTITY}
        )
    resource["entity"] = entities
    return resource


def _patient_id(value: str) -> int:
    tail = value.rstrip("/").split("/")[-1]
    if not tail.isdigit() or not 1 <= int(tail) <= MAX_ID or "," in value:
        raise InvalidInputError(field="patient", value=value, allowed="one Patient/<id>")
    return int(tail)


def _action_filter(value: str) -> str:
    system, bar, code = value.rpartition("|")
    if (bar and system != ACTION_SYSTEM) or not code or "," in value:
        raise InvalidInputError(
            field="subtype", value=value, allowed=f"one il2 action: {ACTION_SYSTEM}|<action>"
        )
    return code


def _narrowed(bounds: dict[str, datetime], value: str) -> None:
    """Narrow `since` and `until` (the service's [since, until)) by one `date` occurrence."""
    if "," in value:
        raise InvalidInputError(field="date", value=value, allowed="one date per occurrence")
    prefix, start, end = date_bounds(value, "date")
    lower = {"ge": start, "gt": end, "sa": end, "eq": start}.get(prefix)
    upper = {"le": end, "lt": start, "eb": start, "eq": end}.get(prefix)
    if lower is None and upper is None:
        raise InvalidInputError(field="date", value=value, allowed="eq, ge, gt, le, lt, sa or eb")
    if lower is not None:
        bounds["since"] = max(lower, bounds.get("since", lower))
    if upper is not None:
        bounds["until"] = min(upper, bounds.get("until", upper))


def _query(criteria: Criteria) -> AuditQuery:
    bounds: dict[str, datetime] = {}
    found: dict[str, Any] = {}
    for param, value in criteria:
        if param.name == "date":
            _narrowed(bounds, value)
        elif param.name == "patient":
            found["patient_id"] = _patient_id(value)
        elif param.name == "altid":
            found["username"] = value.rpartition("|")[2]
        elif param.name == "subtype":
            found["action"] = _action_filter(value)
    return AuditQuery(since=bounds.get("since"), until=bounds.get("until"), **found)


def search(
    services: Services, actor: Actor, criteria: Criteria, count: int, offset: int
) -> tuple[list[Resource], int]:
    """A page of the trail, oldest first, and how many entries match (the service's count).

    Oldest first so that `_offset` pages stay put while the trail grows (every search adds its
    own audit entry); narrow with `date=ge...` for the latest entries."""
    query = _query(criteria)
    page = audit_page(services, actor, query, limit=max(count, 1), offset=offset, oldest_first=True)
    if count == 0:  # the total alone (the service reads at least one entry)
        return [], page.matching
    return [audit_event(e) for e in page.entries], page.matching


def read(services: Services, actor: Actor, resource_id: str) -> Resource:
    """One entry by id."""
    if not resource_id.isdigit() or not 1 <= int(resource_id) <= MAX_ID:
        raise NotFoundError(kind="AuditEvent", key=resource_id[:64])
    page = audit_page(services, actor, AuditQuery(), limit=1, before_id=int(resource_id) + 1)
    if not page.entries or str(page.entries[0]["id"]) != resource_id:
        raise NotFoundError(kind="AuditEvent", key=resource_id)
    return audit_event(page.entries[0])


def _no_record_resources(record: Record, context: Context) -> tuple[Resource, ...]:
    """None: the trail is not part of a patient's record."""
    return ()


def _searched_elsewhere(resource: Resource) -> list[Any]:
    """Never called: the audit service filters (the hooks above)."""
    return []


def _param(name: str, kind: Any, description: str) -> SearchParam:
    return SearchParam(name, kind, _searched_elsewhere, description)


TYPE = ResourceType(
    name="AuditEvent",
    profiles=(),
    build=_no_record_resources,
    search={
        "date": _param("date", "date", "when (eq, ge, gt, le, lt, sa, eb), AND-ed"),
        "patient": _param("patient", "reference", "the patient the entry is about (Patient/<id>)"),
        "altid": _param("altid", "token", "the il2 user name of the agent"),
        "subtype": _param("subtype", "token", f"il2's action ({ACTION_SYSTEM}|read)"),
    },
    description=(
        "il2's audit trail for administrators (audit.read): who did what, when, to which "
        "patient and record, never the record's content"
    ),
    program_search=search,
    program_read=read,
)
