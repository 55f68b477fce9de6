"""What the API answers on success, as the OpenAPI document declares it.

Each model names every field the services put in an answer (il2.services: `plain` of a record,
or the dicts the routes build) and refuses any other (`additionalProperties: false`), so a
field added to an answer without being declared here fails the tests, not a client. Only the
clinical documents (findings, checklists, plans, assessments, decisions, entry content, the
engines' answers and the outcome summary) are open objects: their fields follow the rule
tables and the engines, documented with the engines and the CLI's --json.

Date-times are ISO 8601 text as the services write them (read, never re-written, so an answer
keeps its offsets). In a researcher's patient record every date is `day N`, so the record's
dates are declared as text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Document = dict[str, Any]
"""A clinical or engine document: a JSON object whose fields the rule tables define."""


class Answer(BaseModel):
    """An answer's object: exactly the fields declared."""

    model_config = ConfigDict(extra="forbid")


class OpenAnswer(BaseModel):
    """An engine's document: the fields declared, and more as the rule tables give them."""

    model_config = ConfigDict(extra="allow")


class Health(Answer):
    """The server is up."""

    status: str = Field(description="ok")


class Token(Answer):
    """A session token for `Authorization: Bearer <token>`."""

    access_token: str
    token_type: str = Field(description="bearer")
    role: str = Field(description="The signed-in account's role")
    scope: str | None = Field(
        default=None, description="The SMART scopes granted (as asked); null: unscoped"
    )


class _Numbered(Answer):
    """An answer's database id, declared first (pydantic puts a base's fields before a
    subclass's, and the base named last before the others)."""

    id: int


class FoundPatient(Answer):
    """A patient found by a search."""

    id: int
    mrn: str
    name: str
    birth_date: str = Field(description="ISO 8601 date")
    sex: str
    diagnosis: str
    referred_on: str = Field(description="ISO 8601 date")


class Patient(FoundPatient):
    """A patient as registered (identified readers only)."""

    created_at: str = Field(description="ISO 8601 date-time")


class StudyPatient(Answer):
    """A patient in a researcher's record: the study number, no identifiers, no database id."""

    study_id: str
    age_at_referral_years: int | str = Field(description="Whole years, or `90 or older`")
    sex: str
    diagnosis: str
    referral_year: int
    day_zero: str = Field(description="What day 0 is: `first dose` or `referral`")


class DeidentifiedPatient(StudyPatient, _Numbered):
    """A patient as a researcher reads them: a study number, no identifiers."""


class Screening(Answer):
    """A screening: the findings as entered and the checklist il2 produced."""

    id: int
    patient_id: int
    findings: Document
    verdict: str
    result: Document = Field(description="The checklist, as POST /api/engine/screen answers")
    rules_version: str
    recorded_by: str | None = Field(description="Who screened (withheld from researchers)")
    recorded_at: str = Field(description="ISO 8601 date-time (researchers: `day N`)")


class Course(Answer):
    """A planned course: the regimen, the weight planned for and the plan with every dose."""

    id: int
    patient_id: int
    number: int
    regimen_id: str
    weight_kg: str = Field(description="The weight planned for, as exact decimal text")
    first_dose_at: str = Field(description="ISO 8601 date-time (researchers: `day N`)")
    plan: Document = Field(description="The plan, as POST /api/engine/plan answers")
    recorded_by: str
    recorded_at: str


class _Dose(Answer):
    """A dose as both the ledger and a researcher's record give it (their course_id differs)."""

    course_id: int
    cycle: int
    dose_number: int
    outcome: str = Field(description="given, held or stopped")
    assessment: Document
    decision: Document = Field(description="The bedside decision, as POST /api/engine/bedside")
    decision_action: str
    rules_version: str
    given_at: str | None
    verified_by: str | None
    override_reason: str | None
    override_by: str | None
    idempotency_key: str | None
    recorded_by: str
    recorded_at: str


class DoseRecord(_Dose, _Numbered):
    """One entry of the dose ledger: the assessment, the decision and what was done."""


class InfusionEventLine(_Numbered):
    """One event of a running infusion, as kept (the assessment stays in the record)."""

    course_id: int
    cycle: int
    dose_number: int
    seq: int = Field(description="Its place in the infusion's order, from 1")
    kind: str = Field(description="pause, resume or stop")
    event_at: str = Field(description="ISO 8601 date-time")
    decision_action: str | None = Field(description="The assessment's decision (None: a reason)")
    reason: str | None
    corrects: int | None = Field(description="The seq of the event this one replaces")
    decision: Document | None = Field(description="As POST /api/engine/bedside answers")
    recorded_by: str
    recorded_at: str
    corrected: bool = Field(description="A later event replaces this one")


class Infusion(Answer):
    """A day's continuous infusion now: its events, the hours run and paused, the IU given."""

    status: str = Field(description="running, paused, stopped, completed or ended")
    as_of: str = Field(description="ISO 8601 date-time")
    started_at: str
    planned_end: str = Field(description="started_at + the plan's duration_h")
    planned_h: float
    running_h: float
    paused_h: float
    planned_iu: int
    delivered_iu: int = Field(description="planned IU x hours run / planned hours, rounded down")
    events: list[InfusionEventLine]


class Entry(Answer):
    """A toxicity, response, follow-up or discharge entry, or a correction of one."""

    id: int
    patient_id: int
    kind: str
    course_id: int | None
    observed_on: str = Field(description="ISO 8601 date (researchers: `day N`)")
    content: Document
    summary: str
    corrects_id: int | None = Field(description="The entry this one corrects")
    reason: str | None = Field(description="Why the correction was made")
    recorded_by: str
    recorded_at: str


class PatientRecord(Answer):
    """A patient's whole record; for researchers de-identified, dates as `day N`."""

    patient: Patient | DeidentifiedPatient
    screenings: list[Screening]
    courses: list[Course]
    doses: list[DoseRecord]
    entries: list[Entry]
    diary: list[DiaryEntry] = Field(description="Outpatient courses' self-injection diaries")


class StudyScreening(Answer):
    """A screening in a researcher's record (dates as `day N`, no database ids)."""

    findings: Document
    verdict: str
    result: Document
    rules_version: str
    recorded_by: str | None
    recorded_at: str = Field(description="`day N`")


class StudyCourse(Answer):
    """A course in a researcher's record: `id` is the course's number in the program."""

    id: int = Field(description="The course's number (not a database id)")
    number: int
    regimen_id: str
    weight_kg: str
    first_dose_at: str = Field(description="`day N`")
    plan: Document
    recorded_by: str
    recorded_at: str


class StudyDose(_Dose):
    """A dose in a researcher's record: `course_id` is the course's number."""

    course_id: int = Field(description="The course's number (not a database id)")


class StudyEntry(Answer):
    """An entry in a researcher's record: `id` is its place in the record, `course_id` the
    course's number, `corrects_id` the place of the entry it corrects."""

    id: int = Field(description="The entry's place in the record (1, 2, ...)")
    kind: str
    course_id: int | None
    observed_on: str = Field(description="`day N`")
    content: Document
    summary: str
    corrects_id: int | None
    reason: str | None
    recorded_by: str
    recorded_at: str


class StudyRecord(Answer):
    """A researcher's de-identified record, addressed by study number."""

    patient: StudyPatient
    screenings: list[StudyScreening]
    courses: list[StudyCourse]
    doses: list[StudyDose]
    entries: list[StudyEntry]
    diary: list[StudyDiaryEntry]


class PasswordChanged(Answer):
    """The user's own password was changed; their other sessions ended."""

    username: str
    sessions_revoked: int


class Ledger(Answer):
    """A course and its dose ledger in dose order."""

    course: Course
    doses: list[DoseRecord]


class Search(Answer):
    """The patients a search found, by name."""

    query: str
    limit: int = Field(description="The most patients a search answers")
    patients: list[FoundPatient]


class WorklistPatient(Answer):
    """A patient's stage and next action (researchers see a study number as the label)."""

    patient_id: int | None = Field(description="None for researchers: the label addresses them")
    label: str
    diagnosis: str
    stage: str
    next_action: str
    next_on: str | None = Field(description="ISO 8601 date")


class DoseToday(Answer):
    """A dose due on the ward today."""

    patient_id: int
    label: str
    course_id: int
    cycle: int
    dose_number: int
    due_at: str = Field(description="ISO 8601 date-time")
    status: str


class Worklist(Answer):
    """A page of the worklist, the total, and today's doses."""

    total: int
    stages: dict[str, int] = Field(
        description="Patients at each stage, counting every page (a stage with none left out)"
    )
    limit: int
    offset: int
    patients: list[WorklistPatient]
    doses_today: list[DoseToday]


class AuditEntry(Answer):
    """Who did what, when, to which record. For a reader who may not read patient records,
    `before` and `after` name the fields only, and `content` says the values are withheld."""

    id: int
    at: str = Field(description="ISO 8601 date-time")
    username: str
    action: str
    entity: str
    entity_id: str
    patient_id: int | None
    before: Document | None
    after: Document | None
    content: str | None = Field(default=None, description="Present when values are withheld")


class AuditPage(Answer):
    """Matching audit entries, newest first; pass `older` back as `before_id` for the next."""

    entries: list[AuditEntry]
    matching: int = Field(description="How many entries match the filters in all")
    older: int | None = Field(description="The next page's `before_id`; null on the last page")


class Account(Answer):
    """An account as listed (never its password hash)."""

    username: str
    display_name: str
    role: str
    active: bool
    at: str = Field(description="When the account was made (ISO 8601 date-time)")


class AccountState(Answer):
    """An account after a change."""

    username: str
    role: str
    active: bool


class ScreeningDocument(OpenAnswer):
    """Every eligibility criterion with its verdict, evidence and source."""

    verdict: str
    criteria: list[Document]
    not_applied: list[Document]
    rules_version: str
    prognosis: Document = Field(
        description="Published prognostic scores (IMDC, MSKCC, melanoma factors): each factor "
        "present, absent or unknown with its finding, threshold and source; the group, or the "
        "groups still possible. Context only: never part of the verdict"
    )


class PlanDocument(OpenAnswer):
    """A course plan: dose, preparation, vials and the time of every dose."""

    regimen: str
    dose_iu: int
    cycles: list[Document]
    warnings: list[str]
    rules_version: Document


class BedsideDocument(OpenAnswer):
    """A before-dose decision with every rule that fired."""


class GradingDocument(OpenAnswer):
    """CTCAE grades, each naming the criterion met."""


class RecistDocument(OpenAnswer):
    """RECIST 1.1 (and iRECIST) time points and the best overall response."""


class Rate(Answer):
    """`count` of `total`, with its exact (Clopper-Pearson) 95% interval."""

    count: int
    total: int
    value: float
    ci95: list[float] = Field(description="[lower, upper]")


class MedianSurvival(Answer):
    """A Kaplan-Meier median: by arm from the arm assignment (every patient of the arm), by
    regimen from the first dose (treated patients of the group)."""

    time_origin: Literal["assignment", "first_dose"] = Field(
        description="Where time counts from: the arm assignment (randomisation) or the first dose"
    )
    patients: int
    events: int
    median_months: float | None = Field(description="None while S(t) stays above 0.5")
    median_ci95_months: list[float | None]


class DosesReceived(Answer):
    """IL-2 doses given to each patient of the group over every course: median and range."""

    median: float | None
    min: int | None
    max: int | None


class GroupOutcome(Answer):
    """One arm's (intention to treat) or one regimen's outcomes."""

    id: str = Field(description="The arm's short id, or the regimen id")
    name: str
    patients: int = Field(description="The group's patients analysed: the rates' denominator")
    not_analysed: int = Field(description="Left out of the analysis for a data problem")
    treated: int
    best_overall_response: dict[str, int]
    orr: Rate | None
    cr_rate: Rate | None
    overall_survival: MedianSurvival
    progression_free_survival: MedianSurvival
    grade_3_or_worse_toxicity: Rate | None
    doses_received: DosesReceived


class StudyName(Answer):
    """A study by its id, name and registry id."""

    id: int
    name: str
    registry_id: str | None


class Comparison(Answer):
    """The program's patients compared by arm of a study and by first regimen."""

    study: StudyName | None = Field(description="The study whose arms are compared")
    studies: list[StudyName]
    by_arm: list[GroupOutcome]
    by_regimen: list[GroupOutcome]
    method: str


class Difference(Answer):
    """Overridden minus not overridden, with its 95% interval (MOVER from the exact ones)."""

    value: float
    ci95: list[float]


class OverrideArm(Answer):
    """What followed one arm's holds (each share of the holds where it is known)."""

    holds: int
    patients: int
    no_next_assessment: int = Field(description="Holds with no later dose recorded in the course")
    next_give: Rate | None
    next_hold: Rate | None
    next_stop: Rate | None = Field(description="The next decision stops the cycle or discontinues")
    severe_toxicity_48h: Rate | None = Field(
        description="A toxicity of CTCAE grade 3 or worse dated within 48 h of the assessment"
    )
    cycle_completed: Rate | None
    objective_response: Rate | None = Field(description="The patient's best response CR or PR")


class OverrideComparison(Answer):
    """Overridden holds against comparable holds not overridden, in one group."""

    key: str = Field(description="'all', the rule id, the prescriber's code or the year")
    overridden: OverrideArm
    not_overridden: OverrideArm
    difference: dict[str, Difference | None]
    small: bool = Field(description="Fewer holds than `small_group` in either arm")


class OverrideListed(Answer):
    """One override, de-identified: where, which rules, by whom, and what followed."""

    patient: str = Field(description="The patient's study number")
    course: int
    cycle: int
    dose_number: int
    year: int
    day: int | None = Field(description="Days from the patient's day 0 (first dose)")
    rules: list[str]
    reason: str | None = Field(description="Free text: withheld in this de-identified view")
    prescriber: str | None = Field(description="A code stable under the site's study key")
    next_decision: Literal["give", "hold", "stop", "discontinue", "none"]
    severe_toxicity_48h: bool
    cycle_completed: bool | None
    best_response: str | None


class OverrideAnalysis(Answer):
    """Every override with the rules it overrode and what followed, against comparable holds."""

    holds: int = Field(description="Analysed holds: every reason overridable")
    overridden: int
    left_out: int = Field(description="Holds naming a reason never overridden, or stopped")
    overall: OverrideComparison
    by_rule: list[OverrideComparison]
    by_prescriber: list[OverrideComparison]
    by_year: list[OverrideComparison]
    overrides: list[OverrideListed]
    small_group: int
    method: str


class OutcomeSummary(OpenAnswer):
    """The program's de-identified outcome summary, as `il2 report --json`."""

    as_of: str = Field(description="ISO 8601 date: the data cut-off")
    comparison: Comparison
    data_quality: Document
    prediction: Document = Field(
        description="Who responds: the program's own responder and survival models (nested "
        "cross-validation, AUC and C-index with bootstrap intervals, calibration, the published "
        "scores and no model beside them, SELECT's result). Advice; never part of eligibility."
    )
    overrides: OverrideAnalysis


class Arm(Answer):
    """One arm of a study."""

    id: str = Field(description="The arm's short id")
    name: str
    description: str


class Study(Answer):
    """A study the program runs, with its arms."""

    id: int
    name: str
    registry_id: str | None = Field(description="e.g. NCT01416831")
    description: str
    arms: list[Arm]


class ArmEnrolment(Arm):
    """An arm and its patients."""

    assigned: int = Field(description="Intention to treat: the last arm of each patient")
    in_arm_now: int = Field(description="Assigned and not withdrawn")


class EnrolledStudy(Study):
    """A study with its enrolment by arm."""

    arms: list[ArmEnrolment]  # type: ignore[assignment]


class Studies(Answer):
    """Every study of the program."""

    studies: list[EnrolledStudy]


class Assignment(Answer):
    """One record of a patient's chain in a study (staff)."""

    id: int
    study_id: int
    patient_id: int
    sequence: int = Field(description="1, 2, ... in the patient's chain in the study")
    kind: str = Field(description="assigned, corrected or withdrawn")
    arm: str | None = Field(description="The arm's short id; None when withdrawn")
    arm_name: str | None
    on: str = Field(description="ISO 8601 date")
    reason: str | None
    recorded_by: str
    recorded_at: str = Field(description="ISO 8601 date-time")


class StudyAssignment(Answer):
    """One record of a patient's chain, de-identified (researchers): no ids, dates or words."""

    study_number: str
    sequence: int
    kind: str
    arm: str | None
    arm_name: str | None


class StudyAssignments(EnrolledStudy):
    """A study, its enrolment by arm, and every record of its patients' chains."""

    identified: bool = Field(description="False: de-identified, by study number")
    assignments: list[Assignment] | list[StudyAssignment]


class DiarySideEffect(Answer):
    """A side effect an entry reports."""

    term: str = Field(description="CTCAE v5.0 term id")
    name: str
    grade: int


class DiaryEntry(Answer):
    """One entry of a course's self-injection diary (staff)."""

    id: int
    course_id: int
    cycle: int
    dose_number: int
    status: str = Field(description="taken or missed")
    taken_at: str | None = Field(description="ISO 8601 date-time; None when missed")
    missed_reason: str | None
    side_effects: list[DiarySideEffect]
    reported_by: str = Field(description="patient or caregiver")
    note: str | None
    corrects_id: int | None = Field(description="The entry this one corrects")
    reason: str | None = Field(description="Why it was corrected")
    current: bool = Field(description="False: a later entry corrects it")
    recorded_by: str
    recorded_at: str = Field(description="ISO 8601 date-time")


class DiarySideEffectSummary(Answer):
    """A term reported in the diary: its highest grade and how many current entries report it."""

    term: str
    name: str
    highest_grade: int
    entries: int


class DiarySummary(Answer):
    """The diary counted up to `as_of` (injections whose day has come)."""

    as_of: str = Field(description="ISO 8601 date-time")
    planned: int = Field(description="Injections in the course's plan")
    planned_to_date: int
    taken: int
    missed: int
    not_reported: int
    in_clinic: int = Field(description="Injections the dose ledger holds (given or held in clinic)")
    adherence: str | None = Field(description="taken / planned_to_date, exact (e.g. 3/7)")
    adherence_percent: str | None = Field(description="The same as a percentage, one decimal")
    taken_iu: int = Field(description="IU taken: each taken injection at its planned dose")
    side_effects: list[DiarySideEffectSummary]


class PlannedInjection(Answer):
    """One planned injection of the course."""

    cycle: int
    dose_number: int
    due_at: str = Field(description="ISO 8601 date-time")
    dose_iu: int
    due_by_today: bool = Field(description="Its day has come (in the site's time zone)")
    in_clinic: bool = Field(description="The dose ledger holds it: given or held in clinic")


class DiaryTooSoon(Answer):
    """An injection reported taken less than the regimen's minimum interval after a dose."""

    cycle: int
    dose_number: int
    taken_at: str = Field(description="ISO 8601 date-time")
    after: str = Field(description="The dose before it, ISO 8601 date-time")
    hours: str = Field(description="Hours between them, one decimal")
    least_hours: int = Field(description="The regimen's minimum interval")


class Diary(Answer):
    """A course's diary: every entry, oldest first, its summary and the planned injections."""

    course_id: int
    patient_id: int
    regimen: str
    entries: list[DiaryEntry]
    summary: DiarySummary
    injections: list[PlannedInjection]
    too_soon: list[DiaryTooSoon]


class StudyDiaryEntry(DiaryEntry):
    """A diary entry in a researcher's record: `id` is its place in the record's diary,
    `course_id` the course's number, `corrects_id` the place of the entry it corrects; dates
    as `day N`, the note and reasons withheld."""
