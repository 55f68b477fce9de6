"""The `il2` command as scripts and other systems use it: a real process, JSON in and out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"


def il2(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `il2` with `env` added to this process's environment."""
    full_env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    full_env.update(env or {})
    return subprocess.run(  # noqa: S603 - our own command with fixed arguments
        [IL2, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=full_env,
        timeout=60,
    )


def il2_json(*args: str, stdin: str | None = None) -> dict[str, Any]:
    done = il2(*args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_contract_plan_for_70_kg_on_the_label_regimen() -> None:
    plan = il2_json("plan", "--regimen", "hd-label", "--weight-kg", "70",
                    "--first-dose", "2026-12-07T08:00:00-08:00")  # fmt: skip
    assert plan["dose_iu"] == 42_000_000
    assert plan["diluent_ml"] == 50
    assert plan["vials_per_dose"] == 2
    first = plan["cycles"][0]["doses"]
    assert len(first) == 14
    elapsed = datetime.fromisoformat(first[-1]["due_at"]) - datetime.fromisoformat(
        first[0]["due_at"]
    )
    assert elapsed.total_seconds() == 104 * 3600
    assert first[0]["due_at"] == "2026-12-07T08:00:00-08:00"
    assert plan["cycles"][1]["first_day"] == "2026-12-21"
    assert {"dose_mg", "mg_factor_note", "concentration_ug_per_ml", "vials_per_cycle",
            "response_assessment_on", "earliest_next_course_on", "warnings"} <= set(plan)  # fmt: skip


def test_the_contract_plan_shows_how_vials_were_counted_and_the_weight_basis() -> None:
    plan = il2_json("plan", "--regimen", "hd-label", "--weight-kg", "70",
                    "--first-dose", "2026-12-07T08:00:00-08:00")  # fmt: skip
    count = plan["vial_count"]
    assert (count["extractable_ml_per_vial"], count["extractable_iu_per_vial"]) == (1.2, 21_600_000)
    assert count["setting"]["name"] == "vial_extractable_ml"
    assert "planned, not promised" in count["note"]
    assert plan["dosing_weight"]["basis"] == plan["dosing_weight_basis"] == "actual"
    assert plan["cycle_end"] == {"rule": None, "chosen_by": "not_needed", "conflict": False,
                                 "site_policy": "ask", "shortfall": None}  # fmt: skip


EVENING = ["plan", "--regimen", "hd-label", "--weight-kg", "70",
           "--first-dose", "2026-12-07T20:00:00+00:00"]  # fmt: skip


def test_an_evening_first_dose_without_cycle_end_exits_2_naming_the_choices() -> None:
    done = il2(*EVENING, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "field 'cycle_end_rule': is missing" in done.stderr
    assert "a first dose at 20:00 fits 13 of 14 doses in days 1-5" in done.stderr
    assert "--cycle-end" in done.stderr


@pytest.mark.parametrize(("choice", "doses", "last_day"), [("whichever_first", 13, 5),
                                                           ("dose_count", 14, 6)])  # fmt: skip
def test_cycle_end_plans_an_evening_first_dose_and_the_plan_records_the_choice(
    choice: str, doses: int, last_day: int
) -> None:
    plan = il2_json(*EVENING, "--cycle-end", choice)
    assert [len(c["doses"]) for c in plan["cycles"]] == [doses, doses]
    assert plan["cycles"][0]["doses"][-1]["day"] == last_day
    assert (plan["cycle_end"]["rule"], plan["cycle_end"]["chosen_by"]) == (choice, "plan")
    assert plan["cycle_end"]["shortfall"]["doses_within_days"] == 13


def test_an_unknown_cycle_end_exits_2() -> None:
    done = il2(*EVENING, "--cycle-end", "sometimes")
    assert done.returncode == 2
    assert "field 'cycle_end_rule': 'sometimes' is not allowed" in done.stderr


def test_a_pharmacy_site_policy_of_1_ml_a_vial_counts_three_vials_for_70_kg(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text('[policy]\nvial_extractable_ml = { value = 1.0, reason = "pharmacy" }\n')
    done = il2("plan", "--regimen", "hd-label", "--weight-kg", "70",
               "--first-dose", "2026-12-07T08:00:00-08:00", "--json",
               env={"IL2_SITE_POLICY": str(policy)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert (plan["vials_per_dose"], plan["vials_per_course"]) == (3, 84)
    assert plan["vial_count"]["setting"]["set_by"] == str(policy)


def test_the_readable_plan_shows_the_weight_basis_and_how_vials_were_counted() -> None:
    done = il2("plan", "--regimen", "hd-label", "--weight-kg", "70",
               "--first-dose", "2026-12-07T08:00:00-08:00", env={"COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    for text in ("Weight basis", "actual body weight", "Vials counted", "21.6 MIU a vial",
                 "planned, not promised", "no choice needed"):  # fmt: skip
        assert text in done.stdout


def test_regimens_lists_the_three_contract_regimens_with_sources() -> None:
    listed = {r["id"]: r for r in il2_json("regimens")["regimens"]}
    assert listed["hd-label"]["dose_iu_per_kg"] == 600_000
    assert listed["hd-nci-720"]["max_doses_per_cycle"] == 15
    assert listed["post-til"]["unconfirmed"]
    assert all(listed[r]["interval_h"] == 8 for r in ("hd-label", "hd-nci-720", "post-til"))
    assert all(r["source"] for r in listed.values())


def test_regimens_lists_every_contract_regimen_with_route_setting_and_agents() -> None:
    listed = {r["id"]: r for r in il2_json("regimens")["regimens"]}
    assert {"ld-iv-nci", "ld-sc-nci", "ld-sc-ifn", "civ-eu", "intralesional", "biochemo-cvd",
            "tmz-hd", "sbrt-hd"} <= set(listed)  # fmt: skip
    assert listed["hd-label"]["route"] == "iv_bolus"
    assert listed["hd-label"]["setting"] == "inpatient"
    assert listed["hd-label"]["agents"] == ["aldesleukin"]
    assert listed["ld-sc-ifn"]["route"] == "subcutaneous"
    assert listed["ld-sc-ifn"]["setting"] == "outpatient"
    assert listed["ld-sc-ifn"]["agents"] == ["aldesleukin", "interferon_alfa"]
    assert listed["civ-eu"]["route"] == "continuous_infusion"
    assert listed["civ-eu"]["needs"] == ["height_cm"]
    assert listed["intralesional"]["needs"] == ["lesions"]
    assert listed["sbrt-hd"]["needs"] == ["events.sbrt_fraction"]
    assert "cisplatin" in listed["biochemo-cvd"]["agents"]
    assert listed["ld-sc-nci"]["before_dose_checks"] is True  # every route is checked (routes)
    assert listed["tmz-hd"]["before_dose_checks"] is True


def test_plan_per_m2_with_height_lists_each_agent_and_each_dose_carries_its_route() -> None:
    plan = il2_json("plan", "--regimen", "biochemo-cvd", "--weight-kg", "70",
                    "--height-cm", "175", "--first-dose", "2026-12-07T08:00:00+00:00")  # fmt: skip
    dose = plan["cycles"][0]["doses"][0]
    assert dose["agent"] == "aldesleukin"
    assert dose["route"] == "continuous_infusion"
    assert dose["dose_iu"] == 16_601_958
    assert dose["duration_h"] == 24
    agents = {c["agent"]: c for c in plan["companions"]}
    assert agents["cisplatin"]["dose_mg"] == 36.89
    assert [a["on"] for a in agents["dacarbazine"]["administrations"]] == ["2026-12-07"]
    assert plan["bsa_m2"] == 1.84


def test_plan_with_lesions_and_with_an_event() -> None:
    lesions = il2_json("plan", "--regimen", "intralesional", "--weight-kg", "70",
                       "--lesions", "4", "--first-dose", "2026-12-07T08:00:00+00:00")  # fmt: skip
    assert lesions["dose_iu"] == 12_000_000
    assert lesions["lesions"] == 4
    anchored = il2_json("plan", "--regimen", "sbrt-hd", "--weight-kg", "70",
                        "--event", "sbrt_fraction=2026-12-02", "--event",
                        "sbrt_fraction=2026-12-04",
                        "--first-dose", "2026-12-07T08:00:00+00:00")  # fmt: skip
    assert anchored["events"] == [
        {"kind": "sbrt_fraction", "on": "2026-12-02"},
        {"kind": "sbrt_fraction", "on": "2026-12-04"},
    ]
    assert not any("after the sbrt fraction" in w for w in anchored["warnings"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--regimen", "civ-eu"], "height_cm"),
        (["--regimen", "civ-eu", "--height-cm", "17.5"], "height_cm"),
        (["--regimen", "intralesional", "--lesions", "0"], "lesions"),
        (["--regimen", "sbrt-hd"], "events"),
        (["--regimen", "sbrt-hd", "--event", "sbrt_fraction"], "events[0]"),
        (["--regimen", "sbrt-hd", "--event", "sbrt_fraction=2026-12-09"], "first_dose"),
    ],
)
def test_plan_refuses_a_missing_or_bad_measure_naming_the_field_and_option(
    args: list[str], named: str
) -> None:
    done = il2("plan", *args, "--weight-kg", "70", "--first-dose", "2026-12-07T08:00:00+00:00")
    assert done.returncode == 2
    assert f"'{named}'" in done.stderr
    if named != "first_dose":
        assert "--" in done.stderr  # the option that gives it


def test_screen_reads_standard_input_and_reports_what_to_obtain() -> None:
    document = (ROOT / "examples/candidates/incomplete-melanoma.json").read_text()
    result = il2_json("screen", "-", stdin=document)
    assert result["verdict"] == "incomplete"
    missing = [c for c in result["criteria"] if c["verdict"] == "missing"]
    assert missing
    assert all(c["obtain"] and c["source"] and c["evidence"] for c in missing)


def test_the_readable_table_shows_every_criterion_and_the_verdict() -> None:
    env = {"COLUMNS": "200"}
    done = il2("screen", str(ROOT / "examples/candidates/ineligible-melanoma.json"), env=env)
    assert done.returncode == 0
    assert "Verdict: ineligible" in done.stdout
    assert "ECOG performance status" in done.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["plan", "--regimen", "hd-label", "--weight-kg", "700", "--first-dose", "2026-12-07T08:00"],
         None, "field 'weight_kg': 700 is not allowed; expected a body weight from 20 to 350 kg"),
        (["plan", "--regimen", "hd-label", "--weight-kg", "heavy", "--first-dose", "2026-12-07T08:00"],
         None, "field 'weight_kg': 'heavy'"),
        (["plan", "--regimen", "hd-lable", "--weight-kg", "70", "--first-dose", "2026-12-07T08:00"],
         None, "no regimen 'hd-lable' (known: hd-label, hd-nci-720, post-til, ld-iv-nci,"),
        (["plan", "--regimen", "hd-label", "--weight-kg", "70", "--first-dose", "tomorrow"],
         None, "field 'first_dose'"),
        (["screen", "-"], "{not json", "valid JSON"),
        (["screen", "-"], '{"ecog": 7}', "field 'ecog': 7 is not allowed; expected a whole number from 0 to 4"),
        (["screen", "/no/such/file.json"], None, "a readable JSON file"),
    ],
)  # fmt: skip
def test_unusable_input_exits_2_naming_field_value_and_what_is_allowed(
    args: list[str], stdin: str | None, message: str
) -> None:
    done = il2(*args, stdin=stdin)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_a_broken_site_policy_file_stops_il2_before_it_answers(tmp_path: Path) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text("[policy]\ncycle_end_rule = 'sometimes'\n")
    env = {"IL2_SITE_POLICY": str(policy)}
    done = il2("regimens", "--json", env=env)
    assert done.returncode == 1
    assert "policy.cycle_end_rule" in done.stderr
    assert str(policy) in done.stderr


def test_a_site_policy_file_changes_the_plan_and_the_policy_listing_shows_it(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text('[policy]\ncycle_end_rule = { value = "dose_count", reason = "committee" }\n')
    env = {"IL2_SITE_POLICY": str(policy)}
    done = il2("plan", "--regimen", "hd-label", "--weight-kg", "70",
               "--first-dose", "2026-12-07T20:00:00+00:00", "--json", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    planned = json.loads(done.stdout)
    assert len(planned["cycles"][0]["doses"]) == 14
    assert planned["cycle_end"]["chosen_by"] == "site_policy"
    listing = json.loads(il2("policy", "--json", env=env).stdout)
    setting = next(p for p in listing["policies"] if p["name"] == "cycle_end_rule")
    assert (setting["value"], setting["default"], setting["reason"]) == (
        "dose_count",
        "ask",
        "committee",
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["regimens"], ["hd-nci-720", "UNCONFIRMED"]),
        (["plan", "--regimen", "post-til", "--weight-kg", "70", "--first-dose", "2026-12-07T08:00:00"],
         ["42,000,000 IU", "Cycle 1", "unconfirmed"]),
        (["policy"], ["cycle_end_rule", "whichever_first"]),
        (["--help"], ["regimens", "plan", "screen", "policy"]),
    ],
)  # fmt: skip
def test_readable_output_for_people_at_a_terminal(args: list[str], expected: list[str]) -> None:
    env = {"COLUMNS": "200"}
    done = il2(*args, env=env)
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout


@pytest.mark.parametrize(
    ("example", "decision"),
    [
        ("stable-give", "give"),
        ("hold-oxygen", "hold"),
        ("hold-pressors", "hold"),
        ("hold-urine", "hold"),
        ("hold-creatinine", "hold"),
        ("stop-cycle-absolute", "stop_cycle"),
        ("discontinue-label", "discontinue"),
    ],
)
def test_each_bundled_bedside_example_gets_its_decision_with_sources(
    example: str, decision: str
) -> None:
    result = il2_json("bedside", str(ROOT / f"examples/bedside/{example}.json"))
    assert result["decision"] == decision
    assert result["regimen"] == "hd-label"
    assert all(
        r["rule"] and r["finding"] and r["threshold"] and r["source"] for r in result["reasons"]
    )
    assert bool(result["reasons"]) == (decision != "give")


def test_the_bedside_table_shows_the_decision_and_how_to_resume() -> None:
    done = il2(
        "bedside", str(ROOT / "examples/bedside/hold-blood-pressure.json"), env={"COLUMNS": "200"}
    )
    assert done.returncode == 0
    assert "Decision: HOLD" in done.stdout
    assert "Resume when: systolic BP at least 90 mmHg" in done.stdout


def test_an_implausible_spo2_is_refused_with_exit_2() -> None:
    document = json.loads((ROOT / "examples/bedside/stable-give.json").read_text())
    document["vitals"]["spo2_pct"] = 140
    done = il2("bedside", "-", stdin=json.dumps(document))
    assert done.returncode == 2
    assert (
        "field 'vitals.spo2_pct': 140 is not allowed; expected a number from 30 to 100 %"
        in done.stderr
    )


def test_retreatment_names_each_forbidding_toxicity() -> None:
    history = {"earlier_toxicities": ["sustained_vt"], "intubated_hours_max": 0,
               "dialysis_hours_max": 0, "coma_hours_max": 0}  # fmt: skip
    result = il2_json("retreatment", "-", stdin=json.dumps(history))
    assert result["retreatment"] == "forbidden"
    assert result["reasons"][0]["item"] == "cardiac"
    assert "Label-legacy" in result["reasons"][0]["source"]
    readable = il2("retreatment", "-", stdin=json.dumps(history), env={"COLUMNS": "200"})
    assert "Another course: forbidden" in readable.stdout


def test_retreatment_asks_a_physician_about_a_recorded_ctcae_grade() -> None:
    history = {"earlier_toxicities": [], "intubated_hours_max": 0, "dialysis_hours_max": 0,
               "coma_hours_max": 0, "earlier_grades": [
                   {"term": "acute_kidney_injury", "grade": 4, "observed_on": "2026-03-04"}]}  # fmt: skip
    result = il2_json("retreatment", "-", stdin=json.dumps(history))
    assert result["retreatment"] == "incomplete"
    (review,) = result["to_review"]
    assert (review["item"], review["finding"]) == (
        "dialysis",
        "Acute kidney injury grade 4 on 2026-03-04",
    )
    readable = il2("retreatment", "-", stdin=json.dumps(history), env={"COLUMNS": "200"})
    assert "To review: Acute kidney injury grade 4 on 2026-03-04" in readable.stdout
    assert "how long dialysis lasted" in readable.stdout


def test_grade_follows_the_contract_example() -> None:
    findings = {"ctcae_version": "5.0", "findings": [
        {"term": "platelet_count_decreased", "value": 50000, "unit": "per_ul"},
        {"term": "creatinine_increased", "value": 3.2, "unit": "mg_dl", "uln": 1.2, "baseline": 1.0},
        {"term": "fever", "value": 40.2, "unit": "c", "duration_h": 30},
        {"term": "hyponatremia", "value": 128, "unit": "mmol_l", "symptomatic": False},
        {"term": "weight_gain", "value": 80.5, "unit": "kg", "baseline": 70},
    ]}  # fmt: skip
    result = il2_json("grade", "-", stdin=json.dumps(findings))
    assert result["ctcae_version"] == "5.0"
    assert [g["grade"] for g in result["grades"]] == [2, 3, 4, 2, 2]
    readable = il2("grade", "-", stdin=json.dumps(findings), env={"COLUMNS": "200"})
    assert "CTCAE v5.0" in readable.stdout


def test_grade_refuses_another_ctcae_version() -> None:
    done = il2("grade", "-", stdin=json.dumps({"ctcae_version": "6.0", "findings": []}))
    assert done.returncode == 2
    assert "field 'ctcae_version': '6.0'" in done.stderr


def test_recist_on_the_bundled_partial_response() -> None:
    result = il2_json("recist", str(ROOT / "examples/recist/partial-response.json"))
    assert [p["overall"] for p in result["timepoints"]] == [None, "PR", "PR"]
    assert result["timepoints"][1]["sum_mm"] == 45
    assert result["timepoints"][1]["change_from_baseline_pct"] == -38.4
    assert (result["best_overall_response"], result["confirmed"]) == ("PR", True)
    assert result["timepoints"][2]["lesions"][0] == {
        "id": "L1",
        "diameter_mm": 14,
        "change_from_baseline_pct": -53.3,
    }
    readable = il2(
        "recist", str(ROOT / "examples/recist/partial-response.json"), env={"COLUMNS": "200"}
    )
    assert "Best overall response: PR (confirmed)" in readable.stdout


def test_recist_refuses_an_unmeasurable_target_naming_it() -> None:
    document = json.loads((ROOT / "examples/recist/partial-response.json").read_text())
    document["assessments"][0]["target_lesions"][0]["diameter_mm"] = 8
    done = il2("recist", "-", stdin=json.dumps(document))
    assert done.returncode == 2
    assert "assessments[0].target_lesions[0].diameter_mm" in done.stderr
    assert "at least 10 mm" in done.stderr


def test_next_offers_another_course_after_shrinkage_and_seven_weeks() -> None:
    result = il2_json("next", str(ROOT / "examples/pathway/another-course.json"))
    assert (result["next"], result["earliest_on"]) == ("another_course", "2027-02-14")
    assert all(r["source"] for r in result["reasons"])
    readable = il2(
        "next", str(ROOT / "examples/pathway/another-course.json"), env={"COLUMNS": "200"}
    )
    assert "Next: another_course (not before 2027-02-14)" in readable.stdout


def test_next_stops_after_progression() -> None:
    document = json.loads((ROOT / "examples/pathway/another-course.json").read_text())
    document["response"] = {
        "assessed_on": "2027-01-25",
        "overall": "PD",
        "change_from_baseline_pct": 24.0,
    }
    assert il2_json("next", "-", stdin=json.dumps(document))["next"] == "stop"
