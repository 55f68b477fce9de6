"""Vasopressors as an assessment gives them, read into one pair of fields per agent.

The document lists the agents running: `"vasopressors": [{"agent": "norepinephrine",
"now_ug_kg_min": 0.05, "max_since_last_dose_ug_kg_min": 0.08}]` (vasopressin in units/min), and
`[]` for none. An agent not listed runs at 0. The older `"phenylephrine_ug_kg_min": {"now",
"max_since_last_dose"}` object is read as the list holding phenylephrine alone. With neither,
nothing is known about pressors, and the rules that need them cannot say "give".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from il2.domain.errors import InvalidInputError

LIST = "vasopressors"
OLDER = "phenylephrine_ug_kg_min"
DERIVED = "vasopressor_agents"


def _fields(unit: str) -> tuple[str, str]:
    return f"now_{unit}", f"max_since_last_dose_{unit}"


def _item(raw: object, index: int, agents: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    where = f"{LIST}[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidInputError(field=where, value=raw, allowed="an object with agent and doses")
    agent = raw.get("agent")
    if agent not in agents:
        raise InvalidInputError(
            field=f"{where}.agent", value=agent, allowed="one of " + ", ".join(agents)
        )
    now, most = _fields(agents[str(agent)])
    for key in raw:
        if key not in ("agent", now, most):
            raise InvalidInputError(
                field=f"{where}.{key}", value=raw[key], allowed=f"agent, {now}, {most}"
            )
    return str(agent), {now: raw.get(now), most: raw.get(most)}


def _listed(raw: object, agents: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, list):
        raise InvalidInputError(
            field=LIST, value=raw, allowed="a list of {agent, doses} objects ([] when none)"
        )
    entries: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(raw):
        agent, doses = _item(item, index, agents)
        if agent in entries:
            raise InvalidInputError(
                field=f"{LIST}[{index}].agent", value=agent, allowed="each agent listed once"
            )
        entries[agent] = doses
    return entries


def _older(raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError(field=OLDER, value=raw, allowed="a JSON object")
    for key in raw:
        if key not in ("now", "max_since_last_dose"):
            raise InvalidInputError(
                field=f"{OLDER}.{key}", value=raw[key], allowed="now, max_since_last_dose"
            )
    now, most = _fields("ug_kg_min")
    return {now: raw.get("now"), most: raw.get("max_since_last_dose")}


def pressor_document(document: object, agents: Mapping[str, str]) -> object:
    """The document with its vasopressors read into `vasopressors.<agent>.<dose field>`."""
    if not isinstance(document, Mapping):
        return document
    if DERIVED in document:
        raise InvalidInputError(
            field=DERIVED, value=document[DERIVED], allowed=f"nothing: it is read from {LIST}"
        )
    result = dict(document)
    listed, older = result.pop(LIST, None), result.pop(OLDER, None)
    if listed is None and older is None:
        return result
    entries = _listed(listed, agents) if listed is not None else {}
    if older is not None:
        if "phenylephrine" in entries:
            raise InvalidInputError(
                field=OLDER, value=older, allowed=f"phenylephrine given once, here or in {LIST}"
            )
        entries["phenylephrine"] = _older(older)
    zero = {agent: dict.fromkeys(_fields(unit), 0) for agent, unit in agents.items()}
    result[LIST] = {agent: entries.get(agent, zero[agent]) for agent in agents}
    return result


def running(findings: Mapping[str, object], agents: Mapping[str, str]) -> frozenset[str] | None:
    """The agents running now or since the last dose; None when any dose is not known."""
    found = set()
    for agent, unit in agents.items():
        doses = [findings.get(f"{LIST}.{agent}.{name}") for name in _fields(unit)]
        if any(isinstance(dose, Decimal) and dose > 0 for dose in doses):
            found.add(agent)
        elif not all(isinstance(dose, Decimal) for dose in doses):
            return None
    return frozenset(found)
