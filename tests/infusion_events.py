"""The three events of a running infusion as short calls, for the tests.

The service has one entry point, `record_infusion_event` (what the API, the pages and the CLI
call); these name its three uses so that a test reads as the ward's steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from il2.domain.records import Actor
from il2.services.context import Services
from il2.services.infusions import InfusionSubmission, record_infusion_event


def pause(
    services: Services,
    actor: Actor,
    course_id: int,
    cycle: int,
    dose_number: int,
    *,
    at: datetime | None = None,
    assessment: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Pause a running infusion on an assessment whose decision holds, or a clinician's reason."""
    return record_infusion_event(
        services,
        actor,
        course_id,
        InfusionSubmission(cycle, dose_number, "pause", at, assessment, reason),
    )


def resume(
    services: Services,
    actor: Actor,
    course_id: int,
    cycle: int,
    dose_number: int,
    *,
    assessment: Mapping[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """Resume a paused infusion on an assessment whose decision is give."""
    return record_infusion_event(
        services, actor, course_id, InfusionSubmission(cycle, dose_number, "resume", at, assessment)
    )


def stop(
    services: Services,
    actor: Actor,
    course_id: int,
    cycle: int,
    dose_number: int,
    *,
    at: datetime | None = None,
    assessment: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """End a running or paused infusion early (a decision to stop, or a clinician's reason)."""
    return record_infusion_event(
        services,
        actor,
        course_id,
        InfusionSubmission(cycle, dose_number, "stop", at, assessment, reason),
    )
