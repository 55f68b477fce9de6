"""Readable tables for people at a terminal; the JSON documents stay the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

_VERDICT_STYLE = {"met": "green", "not_met": "bold red", "missing": "yellow", "not_applied": "dim"}
_OVERALL_STYLE = {"eligible": "bold green", "ineligible": "bold red", "incomplete": "bold yellow"}


def _when(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return f"{moment:%a %d %b %Y %H:%M} (UTC{moment:%z})"


def regimens(console: Console, document: dict[str, Any]) -> None:
    """The regimen library."""
    table = Table(title="Regimens", show_lines=True)
    columns = ("id", "name", "dose", "route, setting", "agents", "every", "doses/cycle", "cycles",
               "source")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for r in document["regimens"]:
        interval = f"{r['interval_h']} h"
        if r["interval_max_h"]:
            interval = f"{r['interval_h']}-{r['interval_max_h']} h"
        if r["steps"]:
            interval = f"by cycle day (shortest {r['min_interval_h']} h)"
        name = r["name"] + (" [UNCONFIRMED values]" if r["unconfirmed"] else "")
        table.add_row(
            r["id"], name, " then ".join(dict.fromkeys(s["dose"]["words"] for s in r["steps"]))
            or r["dose"]["words"], f"{r['route']}, {r['setting']}", ", ".join(r["agents"]),
            interval, str(r["max_doses_per_cycle"]), str(r["cycles_per_course"]), r["source"],
        )  # fmt: skip
    console.print(table)


def _vial_basis(count: dict[str, Any] | None) -> str:
    if not count:
        return "not recorded"
    setting = count["setting"]
    return (
        f"{count['basis']} Setting vial_extractable_ml = {setting['value']} mL "
        f"(set by {setting['set_by']}). {count['note']}"
    )


def _cycle_end(cycle_end: dict[str, Any] | None) -> str:
    if not cycle_end:
        return "not recorded"
    if cycle_end["chosen_by"] == "not_needed":
        return "every dose fits the dosing days; no choice needed"
    by = "chosen for this plan" if cycle_end["chosen_by"] == "plan" else "site policy"
    return f"{cycle_end['rule']} ({by})"


def _body_surface(document: dict[str, Any]) -> str:
    body = document.get("body_surface")
    if not body:
        return "not used"
    return f"{body['bsa_m2']} m² ({body['formula']}; {body['note']})"


def _preparation(document: dict[str, Any]) -> list[tuple[str, str]]:
    preparation = document.get("preparation")
    if preparation:
        return [("Preparation", preparation["note"])]
    return [
        ("Diluent", f"{document['diluent_ml']} mL {document['diluent']}"),
        ("Final concentration", f"{document['concentration_ug_per_ml']} ug/mL"),
    ]


def _companion(companion: dict[str, Any]) -> Table:
    unit = "IU" if "dose_iu" in companion else "mg"
    amount = companion.get("dose_iu", companion.get("dose_mg"))
    dose = companion["dose"]["words"] if companion["dose"] else "dose not given by the source"
    table = Table(
        title=f"{companion['agent']} ({companion['route']}): {dose}"
        + (f" = {amount:,} {unit} an administration" if amount is not None else "")
    )
    for column in ("cycle", "day", "on", "administrations"):
        table.add_column(column)
    for given in companion["administrations"]:
        table.add_row(str(given["cycle"]), str(given["day"]), given["on"], str(given["doses"]))
    if not companion["administrations"]:
        table.add_row("-", "-", "-", companion["notes"] or "days not given by the source")
    return table


def plan(console: Console, document: dict[str, Any]) -> None:
    """A course plan: the dose and its preparation, then the calendar."""
    summary = Table(title=f"Plan: {document['regimen_name']}", show_header=False)
    summary.add_column("item", style="bold")
    summary.add_column("value")
    weight = document.get("dosing_weight", {})
    rows = [
        ("Weight", f"{document['weight_kg']} kg"),
        ("Weight basis", weight.get("note", "not recorded")),
        ("Dose", f"{document['dose_iu']:,} IU"),
        ("Dose (derived)", f"{document['dose_mg']} mg - {document['mg_factor_note']}"),
        ("Route", f"{document.get('route', 'iv_bolus')} ({document.get('setting', 'inpatient')})"),
        ("Body surface", _body_surface(document)),
        ("Reconstituted volume", f"{document['reconstituted_ml']} mL"),
        *_preparation(document),
        ("Vials", (f"{document['vials_per_dose']} a dose; by cycle {document['vials_by_cycle']}; "
                   f"{document['vials_per_course']} a course")),
        ("Vials counted", _vial_basis(document.get("vial_count"))),
        ("Cycle end", _cycle_end(document.get("cycle_end"))),
        ("Cost a cycle", "; ".join(f"{agent} {c['per_cycle'][0]}" for agent, c in
                                   document.get("cost", {}).items()) or "no site price set"),
        ("Response scan on", str(document["response_assessment_on"])),
        ("Earliest next course", str(document["earliest_next_course_on"])),
    ]  # fmt: skip
    for item, value in rows:
        summary.add_row(item, value)
    console.print(summary)
    for cycle in document["cycles"]:
        table = Table(title=f"Cycle {cycle['cycle']} (day 1 = {cycle['first_day']})")
        for column in ("dose", "due at", "cycle day", "aldesleukin IU", "vials"):
            table.add_column(column)
        for dose in cycle["doses"]:
            table.add_row(
                str(dose["number"]),
                _when(dose["due_at"]),
                str(dose["day"]),
                f"{dose.get('dose_iu', document['dose_iu']):,}",
                str(dose.get("vials", document["vials_per_dose"])),
            )
        console.print(table)
    for companion in document.get("companions", []):
        console.print(_companion(companion))
    for warning in document["warnings"]:
        console.print(Text(f"! {warning}", style="yellow"))


def screening(console: Console, document: dict[str, Any], *, title: str = "Screening") -> None:
    """The eligibility checklist."""
    table = Table(title=title, show_lines=True)
    for column in ("criterion", "verdict", "evidence", "source"):
        table.add_column(column)
    for line in [*document["criteria"], *document.get("not_applied", [])]:
        evidence = line["evidence"]
        if "obtain" in line:
            evidence += f"\nObtain: {line['obtain']}"
        if line.get("site_setting"):
            evidence += f"\n{line['site_setting']}"
        title_text = line["title"] + (" [UNCONFIRMED]" if line.get("unconfirmed") else "")
        table.add_row(
            Text(title_text),  # plain text: a bracket in a rule file is not rich markup
            Text(line["verdict"], style=_VERDICT_STYLE[line["verdict"]]),
            Text(evidence),
            Text(line["source"]),
        )
    console.print(table)
    verdict = document["verdict"]
    console.print(Text(f"Verdict: {verdict}", style=_OVERALL_STYLE[verdict]))
    if "prognosis" in document:
        prognosis(console, document["prognosis"])


def prognosis(console: Console, document: dict[str, Any]) -> None:
    """The published prognostic scores, apart from the verdict."""
    if not document["scores"]:
        return
    console.print(Text(f"Prognostic scores (not part of the verdict). {document['caveat']}"))
    for found in document["scores"]:
        table = Table(title=f"{found['name']}: {_group_words(found)}", show_lines=True)
        for column in ("factor", "status", "finding", "threshold", "source"):
            table.add_column(column)
        for factor in found["factors"]:
            table.add_row(*(Text(factor[key]) for key in ("label", "status", "finding")),
                          Text(factor["threshold"]), Text(factor["source"]))  # fmt: skip
        console.print(table)
        console.print(Text(f"{found['built_for']} Source: {found['source']}"))


def _group_words(found: dict[str, Any]) -> str:
    """`Intermediate (2 factors)`, or the range and the groups still possible."""
    count = (
        str(found["count_low"])
        if found["count_low"] == found["count_high"]
        else f"{found['count_low']}-{found['count_high']}"
    )
    if found["group_label"]:
        return f"{found['group_label']} ({count} of {found['factor_count']} factors)"
    possible = " or ".join(g["label"] for g in found["possible_groups"])
    unknown = len(found["unknown_factors"])
    if not possible:
        return f"{count} of {found['factor_count']} factors ({unknown} unknown)"
    return f"{possible}: {count} of {found['factor_count']} factors, {unknown} unknown"


_ACTION_STYLE = {
    "give": "bold green",
    "hold": "bold yellow",
    "incomplete": "bold magenta",
    "stop_cycle": "bold red",
    "discontinue": "bold white on red",
}


def bedside(console: Console, document: dict[str, Any]) -> None:
    """A before-dose decision with its reasons."""
    decision = document["decision"]
    console.print(Text(f"Decision: {decision.upper()}", style=_ACTION_STYLE[decision]))
    if document["to_obtain"]:
        console.print(Text("Obtain before this dose:", style="magenta"))
        for item in document["to_obtain"]:
            console.print(Text(f"  - {item['obtain']} ({item['field']})", style="magenta"))
    if document["reasons"]:
        table = Table(title="Rules that fired", show_lines=True)
        for column in ("action", "finding", "threshold", "rule", "source"):
            table.add_column(column)
        for r in document["reasons"]:
            source = r["source"] + (" [UNCONFIRMED]" if r.get("unconfirmed") else "")
            finding = r["finding"] + (
                f"\nResume when: {r['resume_when']}" if r.get("resume_when") else ""
            )
            table.add_row(
                Text(r["action"], style=_ACTION_STYLE[r["action"]]),
                finding, r["threshold"], r["rule"], source,
            )  # fmt: skip
        console.print(table)
    for warning in document["warnings"]:
        console.print(
            Text(f"Warning: {warning['finding']}: {warning['advice']} ({warning['source']})",
                 style="yellow")
        )  # fmt: skip
    if document["not_evaluated"]:
        skipped = ", ".join(document["not_evaluated"])
        console.print(Text(f"Waiting for input: {skipped}", style="dim"))
    route = document.get("route_checks")
    if route:
        words = document["route"].replace("_", " ")
        console.print(f"Checks for the {words} route, assessed: {route['assessed']}")
        console.print(Text(f"Not in the sources: {route['not_in_the_sources']}", style="dim"))


def grades(console: Console, document: dict[str, Any]) -> None:
    """CTCAE grades, one row a finding."""
    table = Table(title=f"CTCAE v{document['ctcae_version']}", show_lines=True)
    for column in ("term", "grade", "criterion", "source"):
        table.add_column(column)
    for g in document["grades"]:
        style = "bold red" if g["grade"] >= 3 else "yellow" if g["grade"] else "green"
        table.add_row(g["term"], Text(str(g["grade"]), style=style), g["criterion"], g["source"])
    console.print(table)


def recist(console: Console, document: dict[str, Any]) -> None:
    """RECIST time points and the best overall response."""
    table = Table(title="RECIST 1.1", show_lines=True)
    columns = (
        "date",
        "sum mm",
        "vs baseline",
        "vs nadir",
        "target",
        "non-target",
        "overall",
        "why",
    )
    for column in columns:
        table.add_column(column)
    immune = {p["date"]: p["category"] for p in document.get("irecist", {}).get("timepoints", [])}
    for p in document["timepoints"]:
        overall = p["overall"] or "baseline"
        if p["date"] in immune:
            overall += f" ({immune[p['date']]})"
        table.add_row(
            p["date"], str(p["sum_mm"]), _percent(p["change_from_baseline_pct"]),
            _percent(p["change_from_nadir_pct"]), p["target"] or "", p["non_target"] or "",
            overall, "\n".join(p["reasons"]),
        )  # fmt: skip
    console.print(table)
    confirmed = "confirmed" if document["confirmed"] else "not confirmed"
    console.print(
        Text(
            f"Best overall response: {document['best_overall_response']} ({confirmed})",
            style="bold",
        )
    )
    if "irecist" in document:
        console.print(
            Text(
                f"iRECIST best overall response: {document['irecist']['best_overall_response']}",
                style="bold",
            )
        )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def pathway(console: Console, document: dict[str, Any]) -> None:
    """The next step for a course, with its reasons."""
    when = f" (not before {document['earliest_on']})" if document.get("earliest_on") else ""
    console.print(Text(f"Next: {document['next']}{when}", style="bold"))
    if document.get("condition"):
        minimum = document.get("min_shrinkage_pct")
        least = "" if minimum is None else f", at least {minimum:g}% since the pre-course scan"
        console.print(f"Condition for another course: {document['condition']}{least}")
    for reason in document["reasons"]:
        console.print(f"- {reason['finding']} ({reason['threshold']}): {reason['source']}")
    if document.get("missing"):
        console.print(Text("Missing: " + ", ".join(document["missing"]), style="magenta"))


_RETREATMENT_STYLE = {
    "forbidden": "bold white on red",
    "not_forbidden": "bold green",
    "incomplete": "bold magenta",
}


def retreatment(console: Console, document: dict[str, Any]) -> None:
    """The retreatment verdict with the items met."""
    verdict = document["retreatment"]
    console.print(Text(f"Another course: {verdict}", style=_RETREATMENT_STYLE[verdict]))
    for reason in document["reasons"]:
        console.print(f"- {reason['finding']} ({reason['threshold']}): {reason['source']}")
    if document["not_evaluated"]:
        console.print(Text("Not given: " + ", ".join(document["not_evaluated"]), style="magenta"))
    for review in document.get("to_review", []):
        console.print(
            Text(f"To review: {review['finding']}: {review['asks']}", style="magenta"),
            f"({review['source']})",
        )


def policy(console: Console, document: dict[str, Any]) -> None:
    """Site settings in force."""
    site = document["site"]
    table = Table(title=f"Site policy: {site['name']} ({site['time_zone']})", show_lines=True)
    for column in ("setting", "value", "default", "allowed", "source"):
        table.add_column(column)
    for p in document["policies"]:
        table.add_row(
            p["name"], str(p["value"]), str(p["default"]), ", ".join(p["allowed"]), p["source"]
        )
    console.print(table)
    thresholds = Table(title="Eligibility thresholds", show_lines=True)
    for column in ("setting", "value", "default", "cited alternatives", "source"):
        thresholds.add_column(column)
    for t in document["eligibility_thresholds"]:
        others = "; ".join(f"{a['value']} ({a['source']})" for a in t["alternatives"])
        thresholds.add_row(
            t["setting"],
            f"{t.get('comparison', '')} {t['value']} {t['unit']}".strip(),
            str(t["default"]),
            others,
            t["source"],
        )
    console.print(thresholds)
    for change in document["site_changes"]:
        console.print(f"- {change}")


def studies(console: Console, document: dict[str, Any]) -> None:
    """The program's studies, each arm with its patients."""
    if not document["studies"]:
        console.print("no studies yet (il2 studies create)")
    for study in document["studies"]:
        registry = f" ({study['registry_id']})" if study["registry_id"] else ""
        table = Table(title=f"Study {study['id']}: {study['name']}{registry}")
        for column in ("arm", "name", "assigned (ITT)", "in arm now"):
            table.add_column(column)
        for arm in study["arms"]:
            table.add_row(arm["id"], arm["name"], str(arm["assigned"]), str(arm["in_arm_now"]))
        console.print(table)


def study_created(console: Console, document: dict[str, Any]) -> None:
    """A study just defined."""
    arms = ", ".join(f"{a['id']} ({a['name']})" for a in document["arms"])
    console.print(f"study {document['id']} defined: {document['name']}; arms {arms}")


def assignment(console: Console, document: dict[str, Any]) -> None:
    """One assignment record just kept."""
    where = f"arm {document['arm']} ({document['arm_name']})" if document["arm"] else "no arm"
    console.print(
        f"patient {document['patient_id']} {document['kind']} in study {document['study_id']}: "
        f"{where} from {document['on']} (record {document['sequence']} of the patient's chain)"
    )


def _effects(effects: list[dict[str, Any]], grade: str = "grade") -> str:
    return ", ".join(f"{e['name']} grade {e[grade]}" for e in effects) or "none"


def diary_entry(console: Console, document: dict[str, Any]) -> None:
    """One diary entry just kept."""
    status = document["status"]
    when = f" at {_when(document['taken_at'])}" if document["taken_at"] else ""
    fixed = f", correcting entry {document['corrects_id']}" if document["corrects_id"] else ""
    console.print(
        f"entry {document['id']}: injection {document['cycle']}.{document['dose_number']} "
        f"{status}{when}, reported by the {document['reported_by']}; side effects: "
        f"{_effects(document['side_effects'])}{fixed}"
    )


def diary(console: Console, document: dict[str, Any]) -> None:
    """A course's diary: the entries and the summary."""
    table = Table(title=f"Diary of course {document['course_id']} ({document['regimen']})")
    for column in ("entry", "injection", "status", "taken at", "side effects", "reported by",
                   "current"):  # fmt: skip
        table.add_column(column)
    for e in document["entries"]:
        table.add_row(
            str(e["id"]),
            f"{e['cycle']}.{e['dose_number']}",
            e["status"],
            _when(e["taken_at"]) if e["taken_at"] else "",
            _effects(e["side_effects"]),
            e["reported_by"],
            "yes" if e["current"] else "no (corrected)",
        )
    console.print(table)
    s = document["summary"]
    adherence = f"{s['adherence']} ({s['adherence_percent']}%)" if s["adherence"] else "none due"
    console.print(
        f"Planned to date {s['planned_to_date']} of {s['planned']}: taken {s['taken']}, missed "
        f"{s['missed']}, not reported {s['not_reported']}; adherence {adherence}; "
        f"{s['taken_iu']:,} IU taken; side effects: {_effects(s['side_effects'], 'highest_grade')}"
    )


def infusion(console: Console, document: dict[str, Any]) -> None:
    """A day's continuous infusion: its state, hours and IU, then each event."""
    console.print(
        f"infusion {document['status']} (as of {document['as_of']}): "
        f"{document['running_h']} h run, {document['paused_h']} h paused of "
        f"{document['planned_h']} h planned; {document['delivered_iu']:,} of "
        f"{document['planned_iu']:,} IU delivered"
    )
    for event in document["events"]:
        why = event["decision_action"] or ""
        if event["reason"]:
            why = f"{why}; {event['reason']}" if why else event["reason"]
        note = " (corrected)" if event["corrected"] else ""
        note += f" (corrects {event['corrects']})" if event["corrects"] else ""
        console.print(
            f"  {event['seq']}. {event['kind']} at {event['event_at']}: {why}{note} "
            f"[{event['recorded_by']}]"
        )
