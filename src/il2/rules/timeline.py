"""The dose timeline's site policy: the window around a due time and the clock tolerance."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, tzinfo

from il2.domain.errors import RuleTableError
from il2.domain.timeline import TimelinePolicy
from il2.rules.site import PolicySetting

_LIMITS = {
    "dose_window_early_min": 240,
    "dose_window_late_min": 240,
    "dose_clock_tolerance_min": 15,
}


def _minutes(setting: PolicySetting) -> timedelta:
    value, most = setting.value, _LIMITS[setting.name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a whole number of minutes from 0 to {most}, not {value!r}",
        )
    return timedelta(minutes=value)


def timeline_policy(
    policies: Mapping[str, PolicySetting], time_zone: tzinfo = UTC
) -> TimelinePolicy:
    """The dose window and clock tolerance from the site policy settings (times shown in the
    site's time zone)."""
    early, late, tolerance = (policies[name] for name in _LIMITS)
    return TimelinePolicy(
        window_early=_minutes(early),
        window_late=_minutes(late),
        clock_tolerance=_minutes(tolerance),
        source=f"site policy: {early.source}",
        time_zone=time_zone,
    )
