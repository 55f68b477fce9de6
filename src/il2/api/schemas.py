"""Request bodies as parsed at the edge; the services still check every clinical value."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from il2.domain import limits
from il2.domain.errors import InvalidInputError
from il2.domain.records import DoseOutcome, Role
from il2.domain.scopes import MAX_SCOPE_TEXT
from il2.domain.studies import ARM_CODE_WORDS, MAX_ARMS, MIN_ARMS, REGISTRY_FORMATS
from il2.services.clinical import FOLLOW_UP_STATUSES
from il2.services.patients import DIAGNOSES, SEXES

RecordId = Annotated[
    int, Path(ge=1, le=limits.MAX_ID, description="A record id (a 64-bit signed integer)")
]
"""A record id in a path: a larger number names no record and is refused (422), not looked up."""

CourseId = Annotated[StrictInt, Field(ge=1, le=limits.MAX_ID)]


def _in_range(moment: Any) -> Any:
    try:
        return limits.checked_moment(moment, "date-time")
    except InvalidInputError as error:
        raise ValueError(error.allowed) from None


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A date-time with its offset, in the years limits.MIN_YEAR to limits.MAX_YEAR."""

JsonObject = dict[str, Any]
Number = Annotated[
    StrictInt | StrictFloat | StrictStr,
    Field(description="A number (a JSON number or its text; read exactly, as decimal)."),
]


def _one_of(values: tuple[str, ...]) -> dict[str, Any]:
    """Declare a text field's values in the OpenAPI document. The service checks them (one
    place for the rule, its 422 naming the field and what is allowed); the document says them
    so that clients, and the fuzzer's valid requests, know them."""
    return {"enum": list(values)}


class Body(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SignIn(Body):
    """A username and password."""

    username: str = Field(min_length=1, max_length=limits.MAX_USERNAME)
    password: str = Field(min_length=1, max_length=limits.MAX_PASSWORD)
    scope: str | None = Field(
        default=None,
        max_length=MAX_SCOPE_TEXT,
        description="SMART resource scopes, space-separated (user/Patient.rs user/*.rs "
        "system/*.rs; v1 .read too), narrowing what the token may read through /fhir; "
        "unset: all the role allows. patient/ scopes and granular ?constraints are refused.",
    )


class NewPatient(Body):
    """A referred patient (sex defaults to unknown, the referral date to today)."""

    mrn: str = Field(min_length=1, max_length=limits.MAX_IDENTIFIER)
    name: str = Field(min_length=1, max_length=limits.MAX_NAME)
    birth_date: date
    diagnosis: str = Field(
        min_length=1,
        max_length=limits.MAX_IDENTIFIER,
        description=" or ".join(DIAGNOSES),
        json_schema_extra=_one_of(DIAGNOSES),
    )
    sex: str | None = Field(
        default=None,
        max_length=limits.MAX_IDENTIFIER,
        description=", ".join(SEXES) + " (left out or null: unknown)",
        json_schema_extra={"enum": [*SEXES, None]},
    )
    referred_on: date | None = None


class PlanEvent(Body):
    """An outside event a regimen is anchored to: its kind and its date (or date-time)."""

    kind: str = Field(
        min_length=1, max_length=limits.MAX_IDENTIFIER, description="e.g. sbrt_fraction"
    )
    on: str = Field(
        min_length=1,
        max_length=limits.MAX_IDENTIFIER,
        description="ISO 8601 date (2026-12-04) or date-time",
    )


class CoursePlan(Body):
    """A course to plan: the regimen, the patient's weight and the first dose."""

    regimen: str = Field(
        min_length=1, max_length=limits.MAX_IDENTIFIER, description="A regimen id, e.g. hd-label"
    )
    weight_kg: Number
    first_dose: str = Field(
        min_length=1,
        max_length=limits.MAX_IDENTIFIER,
        description="ISO 8601 date-time, e.g. 2026-12-07T08:00:00-08:00; no offset = site zone",
    )
    cycle_end_rule: str | None = Field(
        default=None,
        max_length=limits.MAX_IDENTIFIER,
        description="When the first-dose time leaves fewer slots in a cycle's dosing days than "
        "doses (hd-label: a first dose at 16:00 or later fits 13 of 14 in days 1-5): "
        "'whichever_first' ends the cycle within the days, 'dose_count' gives every dose. "
        "Needed only then, unless the site policy decides; left out otherwise.",
    )
    height_cm: Number | None = Field(
        default=None, description="Height in cm, for a regimen dosed per m² (il2 regimens)"
    )
    lesions: StrictInt | None = Field(
        default=None, description="Number of lesions (at least 1), for a regimen dosed per lesion"
    )
    events: list[PlanEvent] | None = Field(
        default=None,
        max_length=10,
        description="Outside events the regimen is anchored to, e.g. "
        '[{"kind": "sbrt_fraction", "on": "2026-12-04"}]',
    )
    override_reason: str | None = Field(
        default=None,
        max_length=limits.MAX_FREE_TEXT,
        description="A physician's reason to plan against relative reasons only (a rest "
        "shorter than the regimen's, a retreatment that needs review); kept with the plan. "
        "Never overrides a missing or failed screening, a running course, an earlier "
        "discontinue or a retreatment contraindication.",
    )


class Dose(Body):
    """One scheduled dose: the before-dose assessment and what was done."""

    cycle: StrictInt
    dose_number: StrictInt
    assessment: JsonObject = Field(description="The before-dose assessment (il2 bedside input)")
    outcome: DoseOutcome | None = Field(
        default=None, description="Left out: what the before-dose decision advises"
    )
    given_at: Moment | None = Field(
        default=None,
        description="When the dose was given: inside its window around the due time, never in "
        "the future (a few minutes' clock tolerance) nor before the assessment",
    )
    assessed_at: Moment | None = Field(
        default=None, description="When the before-dose assessment was made (left out: now)"
    )
    verified_by: str | None = Field(
        default=None,
        max_length=limits.MAX_USERNAME,
        description="The second nurse or physician verifying a given dose",
    )
    verifier_password: str | None = Field(
        default=None,
        max_length=limits.MAX_PASSWORD,
        description="The verifier's own password: checked, never kept",
        json_schema_extra={"format": "password", "writeOnly": True},
    )
    override_reason: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)
    overrides: list[Annotated[str, Field(max_length=limits.MAX_IDENTIFIER)]] | None = Field(
        default=None,
        max_length=100,
        description="A physician's override: the hold reasons (rule ids) given against. Left out "
        "with an override_reason: every overridable hold reason. The minimum interval, a stop "
        "or a discontinue are never overridden",
    )


SlotNumber = Annotated[int, Path(ge=1, le=1000, description="A cycle or dose number")]
"""A cycle or dose number in a path."""


class InfusionEvent(Body):
    """An event of a running continuous infusion (a day's infusion recorded given)."""

    event: str = Field(
        description="pause (a decision that holds, or a clinician's reason), resume (only an "
        "assessment whose decision is give) or stop (a decision to stop the cycle or "
        "discontinue, or a clinician's reason)",
        json_schema_extra=_one_of(("pause", "resume", "stop")),
    )
    at: Moment | None = Field(
        default=None,
        description="When (left out: now): not before the infusion's start or its last event, "
        "not in the future, not past its planned end",
    )
    assessment: JsonObject | None = Field(
        default=None,
        description="The assessment made now (il2 bedside input without the slot's facts, "
        "which the ledger gives); required to resume",
    )
    reason: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)
    corrects: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="The number (seq) of the last event, a pause or resume, this one replaces",
    )


class Toxicity(Body):
    """CTCAE findings observed on a day (il2 grade input)."""

    observed_on: date
    course_id: CourseId | None = None
    findings: JsonObject


class Response(Body):
    """Lesion measurements (il2 recist input)."""

    course_id: CourseId | None = None
    measurements: JsonObject


class FollowUp(Body):
    """A follow-up contact."""

    observed_on: date
    status: str = Field(
        min_length=1,
        max_length=limits.MAX_IDENTIFIER,
        description=", ".join(FOLLOW_UP_STATUSES),
        json_schema_extra=_one_of(FOLLOW_UP_STATUSES),
    )
    notes: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)


class Discharge(Body):
    """The day the patient left hospital after a course (the rest counts from it)."""

    course_id: CourseId
    discharged_on: date


class Correction(Body):
    """The corrected content of an entry, and why."""

    content: JsonObject
    reason: str = Field(min_length=1, max_length=limits.MAX_FREE_TEXT)
    observed_on: date | None = Field(
        default=None,
        description="a toxicity's or follow-up's corrected date (a response's is its last scan's; "
        "a discharge's is content.discharged_on)",
    )


class NewArm(Body):
    """One arm of a new study."""

    id: str = Field(
        min_length=1, max_length=20, description="A short id: " + ARM_CODE_WORDS, examples=["il2"]
    )
    name: str = Field(min_length=1, max_length=limits.MAX_NAME)
    description: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)


class NewStudy(Body):
    """A study the program runs, and its two or more arms."""

    name: str = Field(min_length=1, max_length=limits.MAX_NAME)
    registry_id: str | None = Field(
        default=None,
        max_length=limits.MAX_IDENTIFIER,
        description="A trial registry id: " + "; ".join(REGISTRY_FORMATS),
    )
    description: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)
    arms: list[NewArm] = Field(min_length=MIN_ARMS, max_length=MAX_ARMS)


class NewAssignment(Body):
    """A patient assigned to an arm, or a correction of their arm (with a reason)."""

    patient_id: CourseId
    arm: str = Field(min_length=1, max_length=20, description="The arm's short id")
    kind: str = Field(
        default="assigned",
        max_length=20,
        description="assigned (the patient is in no arm of the study now) or corrected "
        "(replaces the arm the patient is in; needs a reason)",
        json_schema_extra=_one_of(("assigned", "corrected")),
    )
    on: date | None = Field(default=None, description="Left out: today")
    reason: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)


class Withdrawal(Body):
    """A patient withdrawn from a study, with the reason."""

    patient_id: CourseId
    on: date | None = Field(default=None, description="Left out: today")
    reason: str = Field(min_length=1, max_length=limits.MAX_FREE_TEXT)


class DiarySideEffect(Body):
    """A side effect the patient reports: a CTCAE v5.0 term id and a grade that term has."""

    term: str = Field(min_length=1, max_length=80, description="e.g. injection_site_reaction")
    grade: StrictInt = Field(ge=0, le=5)


class DiaryReport(Body):
    """What the patient (or a caregiver) reports of one planned injection."""

    status: str = Field(
        max_length=10,
        description="taken (give taken_at) or missed (a missed_reason if one was given)",
        json_schema_extra=_one_of(("taken", "missed")),
    )
    taken_at: Moment | None = Field(default=None, description="When it was taken")
    missed_reason: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)
    side_effects: list[DiarySideEffect] = Field(default_factory=list, max_length=20)
    reported_by: str = Field(
        max_length=20,
        description="Who reported it",
        json_schema_extra=_one_of(("patient", "caregiver")),
    )
    note: str | None = Field(default=None, max_length=limits.MAX_FREE_TEXT)


class DiaryEntry(DiaryReport):
    """A diary entry for one planned injection of the course, as the dose ledger names it."""

    cycle: CourseId
    dose_number: CourseId


class DiaryCorrection(DiaryReport):
    """The corrected report for the injection of the entry corrected, and why."""

    reason: str = Field(min_length=1, max_length=limits.MAX_FREE_TEXT)


class ErrorBody(BaseModel):
    """Every error answer: a stable code and a sentence; a 422 names the field, the value given
    and what is allowed; other fields as the error kind carries them (see il2.api.errors)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="A stable code, e.g. invalid_input, not_found, conflict")
    message: str = Field(description="What went wrong, in words for people")
    field: str | None = Field(default=None, description="422: the field that cannot be used")
    value: Any = Field(default=None, description="422: the value given (passwords hidden)")
    allowed: str | None = Field(default=None, description="422: what the field accepts")


def _declared(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_ANY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _declared("A refusal of no other kind (the error body says why)"),
    413: _declared(f"The body is over {limits.MAX_API_BODY} bytes"),
    422: _declared(
        "A field cannot be used: `field`, `value` and `allowed` say which and why. A body that "
        "cannot be read (not JSON, not UTF-8, nested too deep, an integer of over 4,300 digits) "
        'is refused as `field` "body"'
    ),
}

SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = _ANY_ERRORS | {
    401: _declared("The username or password is wrong"),
    429: _declared(
        "Too many failed sign-ins for this username or from this address: try again after "
        "`Retry-After` seconds"
    ),
}
"""The errors sign-in answers (429 while sign-in is throttled)."""

ERRORS: dict[int | str, dict[str, Any]] = _ANY_ERRORS | {
    401: _declared("No token, or one unknown or expired: sign in with POST /api/token"),
    403: _declared("The signed-in role may not do this"),
    404: _declared("The record named in the path (or body) does not exist"),
    409: _declared("The write clashes with the record: `existing` or `reasons` say how"),
}
"""The errors every signed-in operation may answer, each with the one error body."""


class RoleChange(Body):
    """An account's new role."""

    role: str = Field(
        min_length=1, max_length=20, json_schema_extra=_one_of(tuple(r.value for r in Role))
    )


class PasswordReset(Body):
    """A new password an administrator sets for an account (the password policy applies)."""

    password: str = Field(min_length=1, max_length=limits.MAX_PASSWORD)


class PasswordChange(Body):
    """The signed-in user's current password and the new one (the password policy applies)."""

    current_password: str = Field(min_length=1, max_length=limits.MAX_PASSWORD)
    new_password: str = Field(min_length=1, max_length=limits.MAX_PASSWORD)


OWN_PASSWORD_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _declared(
        "The current password is wrong (`field` current_password; counted as a failed sign-in) "
        "or the new one breaks the policy (`field` new_password)"
    ),
    429: _declared(
        "Too many failed sign-ins for this account or from this address: try again after "
        "`Retry-After` seconds"
    ),
}
"""What a change of one's own password adds to ERRORS."""
