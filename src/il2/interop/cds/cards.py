"""il2's answers worded as CDS Hooks cards.

CDS Hooks 2.0, "Card Attributes" (https://cds-hooks.hl7.org/2.0/#card-attributes): `summary`
is a "One-sentence, <140-character summary"; `indicator` is one of `info`, `warning`,
`critical` ("in order of increasing urgency"); `detail` is GitHub Flavored Markdown; `source`
needs a `label`; a link (`label`, `url`, `type`) of type `absolute` "should be treated as-is".
Optional attributes without a value are left out, never null or empty ("Use of JSON").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from il2 import __version__
from il2.interop.cds.prefetch import Reading

Card = dict[str, Any]
SUMMARY_LIMIT = 139  # "<140-character"
SOURCE_LABEL = "il2"

# The before-dose actions as a card's urgency: give is information, a hold (or a decision il2
# cannot make yet) is a warning, stopping the cycle or the drug is critical.
_INDICATORS = {
    "give": "info",
    "hold": "warning",
    "incomplete": "warning",
    "stop_cycle": "critical",
    "discontinue": "critical",
}
_ACTION_WORDS = {
    "give": "give",
    "hold": "hold",
    "incomplete": "cannot decide yet: data missing",
    "stop_cycle": "stop the cycle",
    "discontinue": "discontinue aldesleukin",
}
# Where the slot stands on the patient's timeline (il2.domain.timeline.SlotStatus): a stopped
# cycle or a discontinued drug is never given, whatever the vital signs.
_TIMELINE_INDICATORS = {"cycle_stopped": "critical", "discontinued": "critical"}
_RANK = {"info": 0, "warning": 1, "critical": 2}


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _markdown(text: object) -> str:
    """Text set in markdown as itself: the characters markdown would read as markup escaped."""
    escaped = str(text)
    for mark in ("\\", "`", "*", "_", "[", "]", "<", ">", "#", "|"):
        escaped = escaped.replace(mark, "\\" + mark)
    return escaped


def card(
    *, summary: str, indicator: str, detail: str, server: str, chart: str | None = None
) -> Card:
    """A card from il2, with a link to the patient's chart in il2 when there is one."""
    found: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(summary),
        "indicator": indicator,
        "detail": detail,
        "source": {"label": SOURCE_LABEL, "url": f"{server}/"},
    }
    if chart is not None:
        found["links"] = [
            {"label": "Open the patient's chart in il2", "url": chart, "type": "absolute"}
        ]
    return found


def not_in_program(server: str) -> Card:
    """The patient has no record in il2 (none with the EHR's MRN)."""
    return card(
        summary="This patient is not in the il2 aldesleukin program: "
        "no screening or course on record",
        indicator="info",
        detail=(
            "il2 found no patient with this patient's medical record number, so it has no "
            "eligibility screening, course or before-dose decision for them. Refer the patient "
            "to the program to be screened before aldesleukin is given."
        ),
        server=server,
    )


def eligibility(screenings: Sequence[Mapping[str, Any]], server: str, chart: str) -> Card:
    """The patient's latest il2 screening with its checklist."""
    if not screenings:
        return card(
            summary="il2: no eligibility screening on record for aldesleukin",
            indicator="warning",
            detail="il2 has no eligibility screening for this patient. Screen them in il2 first.",
            server=server,
            chart=chart,
        )
    latest = max(screenings, key=lambda s: (str(s["recorded_at"]), int(s.get("id") or 0)))
    verdict = str(latest["verdict"])
    indicator = {"eligible": "info", "ineligible": "critical"}.get(verdict, "warning")
    result = latest.get("result") or {}
    on = str(latest["recorded_at"])[:10]
    version = result.get("rules_version", latest.get("rules_version", ""))
    lines = [
        f"Latest il2 screening, {on}: **{_markdown(verdict)}** (rules {_markdown(version)}).",
        "",
    ]
    for criterion in result.get("criteria", []):
        line = (
            f"- **{_markdown(criterion.get('title', criterion.get('id')))}** "
            f"(`{criterion.get('id')}`): {_markdown(criterion.get('verdict'))}"
        )
        if criterion.get("evidence"):
            line += f"; {_markdown(criterion['evidence'])}"
        if criterion.get("obtain"):
            line += f"; obtain: {_markdown(criterion['obtain'])}"
        lines.append(line + f". Source: {_markdown(criterion.get('source', ''))}")
    return card(
        summary=f"il2 eligibility screening ({on}): {verdict}",
        indicator=indicator,
        detail="\n".join(lines),
        server=server,
        chart=chart,
    )


def _reason_lines(document: Mapping[str, Any]) -> list[str]:
    lines = []
    for reason in document.get("reasons", []):
        lines.append(
            f"- **{_markdown(reason['action'])}** by rule `{reason['rule']}`: "
            f"{_markdown(reason['finding'])} (threshold: {_markdown(reason['threshold'])}). "
            f"Source: {_markdown(reason['source'])}"
        )
    for wanted in document.get("to_obtain", []):
        lines.append(
            f"- **missing** `{wanted['field']}`: obtain {_markdown(wanted['obtain'])} "
            f"(for rules {', '.join(f'`{r}`' for r in wanted['for_rules'])})"
        )
    for warning in document.get("warnings", []):
        lines.append(
            f"- **advice** by rule `{warning['rule']}`: {_markdown(warning['advice'])}. "
            f"Source: {_markdown(warning['source'])}"
        )
    return lines


def _checked_lines(document: Mapping[str, Any]) -> list[str]:
    return [
        f"- `{c['rule']}` ({_markdown(c['outcome'])}): {_markdown(c['finding'])}. "
        f"Source: {_markdown(c['source'])}"
        for c in document.get("checked", [])
    ]


def _reading_lines(readings: Sequence[Reading]) -> list[str]:
    lines = []
    for reading in readings:
        when = reading.at.isoformat() if reading.at else "no time"
        if reading.value is not None:
            lines.append(f"- `{reading.field}` = {reading.value} ({when})")
        else:
            lines.append(f"- `{reading.field}`: not used, {_markdown(reading.note)} ({when})")
    return lines


def decision(
    document: Mapping[str, Any],
    *,
    cycle: int,
    dose_number: int,
    readings: Sequence[Reading],
    server: str,
    chart: str,
) -> Card:
    """The before-dose decision for the next dose (il2's `preview_dose` document) as a card."""
    action = str(document["decision"])
    timeline = document.get("timeline") or {}
    status = str(timeline.get("status", ""))
    indicator = _INDICATORS.get(action, "warning")
    pressing = _TIMELINE_INDICATORS.get(status, "warning" if status == "window_passed" else "info")
    if _RANK[pressing] > _RANK[indicator]:
        indicator = pressing
    first = next(iter(document.get("reasons", [])), None)
    why = f" ({first['rule']})" if first and action != "give" else ""
    words = _ACTION_WORDS.get(action, action.replace("_", " "))
    if status in _TIMELINE_INDICATORS:
        words, why = status.replace("_", " "), ""
    slot = f"aldesleukin cycle {cycle}, dose {dose_number}"
    lines = [f"il2's before-dose decision for {slot}: **{_markdown(words)}**."]
    if timeline.get("message"):
        lines.append(f"Timeline: {_markdown(timeline['message'])}")
    for refusal in timeline.get("never_overridden", []):
        lines.append(f"- **never given now** `{refusal['code']}`: {_markdown(refusal['message'])}")
    lines += ["", "**Reasons**", "", *(_reason_lines(document) or ["- none: every rule passed"])]
    lines += ["", "**Rules checked**", "", *(_checked_lines(document) or ["- none"])]
    lines += ["", "**Observations from the EHR**", "", *(_reading_lines(readings) or ["- none"])]
    rules = _markdown(document.get("rules_version"))
    lines += ["", f"Regimen `{document.get('regimen')}`, rules {rules}; il2 {__version__}."]
    return card(
        summary=f"il2 before dose {cycle}.{dose_number} of aldesleukin: {words}{why}",
        indicator=indicator,
        detail="\n".join(lines),
        server=server,
        chart=chart,
    )


def pathway(
    *, stage: str, next_action: str, next_on: str | None, course_outlook: str | None,
    doses_today: Sequence[Mapping[str, Any]], server: str, chart: str,
) -> Card:  # fmt: skip
    """Where the patient is in the il2 program and the doses due today."""
    when = f" (from {next_on})" if next_on else ""
    due = f"; {len(doses_today)} dose(s) due today" if doses_today else ""
    lines = [
        f"- Stage: **{_markdown(stage.replace('_', ' '))}**",
        f"- Next: {_markdown(next_action)}{_markdown(when)}",
    ]
    if course_outlook:
        lines.append(f"- After the course: {_markdown(course_outlook)}")
    for dose in doses_today:
        lines.append(
            f"- Dose {dose['cycle']}.{dose['dose_number']} due {dose['due_at']}: "
            f"{_markdown(dose['status'])}"
        )
    return card(
        summary=f"il2 aldesleukin program: {stage.replace('_', ' ')}; "
        f"next: {next_action}{when}{due}",
        indicator="info",
        detail="\n".join(lines),
        server=server,
        chart=chart,
    )
