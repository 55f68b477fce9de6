"""Read the planning (admission) site policies into the domain's AdmissionPolicy, and the bulk
export's into its ExportPolicy (both whole numbers in a range)."""

from __future__ import annotations

from collections.abc import Mapping

from il2.domain.admission import AdmissionPolicy
from il2.domain.errors import RuleTableError
from il2.domain.exports import ExportPolicy
from il2.rules.site import PolicySetting


def _whole(setting: PolicySetting, *, minimum: int, maximum: int, unit: str) -> int:
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a whole number of {unit} from {minimum} to {maximum}, not {value!r}",
        )
    return value


def export_policy(policies: Mapping[str, PolicySetting]) -> ExportPolicy:
    """The bulk export's site choices ($export), validated."""
    return ExportPolicy(
        expiry_h=_whole(policies["export_expiry_h"], minimum=1, maximum=720, unit="hours"),
        batch_patients=_whole(
            policies["export_batch_patients"], minimum=1, maximum=10_000, unit="patients"
        ),
    )


def admission_policy(policies: Mapping[str, PolicySetting]) -> AdmissionPolicy:
    """The planning checks' site choices, validated."""
    names = ("screening_valid_days", "first_dose_past_tolerance_hours", "first_dose_max_days_ahead")
    return AdmissionPolicy(
        screening_valid_days=_whole(
            policies["screening_valid_days"], minimum=1, maximum=365, unit="days"
        ),
        first_dose_past_tolerance_hours=_whole(
            policies["first_dose_past_tolerance_hours"], minimum=0, maximum=72, unit="hours"
        ),
        first_dose_max_days_ahead=_whole(
            policies["first_dose_max_days_ahead"], minimum=1, maximum=365, unit="days"
        ),
        source="; ".join(f"{n} = {policies[n].value!r} ({policies[n].source})" for n in names),
    )
