"""De-identification for researchers: the HIPAA Privacy Rule's Safe Harbor method.

45 CFR 164.514(b)(2) ("Safe Harbor") counts health information as de-identified when, among
its eighteen kinds of identifier, these are removed:

- (b)(2)(i)(A) names; (H) medical record numbers; (R) "any other unique identifying number,
  characteristic, or code", except a re-identification code allowed by 164.514(c);
- (b)(2)(i)(C) "all elements of dates (except year) for dates directly related to an
  individual ... and all ages over 89 and all elements of dates (including year) indicative of
  such age, except that such ages and elements may be aggregated into a single category of age
  90 or older".

164.514(c) allows a code that lets the covered entity re-identify a record, provided the code
is "not derived from or related to information about the individual and is not otherwise
capable of being translated so as to identify the individual", and the mechanism for
re-identification is not disclosed.

How il2 applies it, the same way on every page, API answer and export a researcher reaches:

- **Dates** are days from the patient's own day 0: the local date of the patient's first dose,
  or of the referral when no dose is planned. A date shows as `day 15` (`day -3` before day 0).
  A time stamp (`given_at`, `recorded_at`, `due_at`) shows as its day only: the hour of day is
  an element of a date, and the hour relative to the first dose would rebuild it from the
  first dose's clock time, so it is dropped. The year of referral is kept (Safe Harbor keeps
  years). Inside the service layer a researcher's record is *shifted*: every date moved by the
  same whole number of days, so that day 0 falls on `SHIFTED_DAY_ZERO`; pages compute on the
  shifted dates as on real ones and print only the offset, never the shifted date.
- **Free text** (follow-up notes, correction reasons, dose and plan override reasons, the
  diary's notes and reasons for a missed injection, any
  `notes`, `reason` or `comment` field, and client-chosen keys) is replaced by `WITHHELD`: a
  clinician may type an identifier into any of them.
- **Ages** over 89 are the single category `90 or older`.
- **The study number** is an HMAC-SHA-256 of the record number under the site's study key,
  written as `S-` and twelve letters. The record number is an internal counter, not information
  about the individual; without the key the study number cannot be turned back into it, and
  only an administrator holding the key can map it back (`il2 study-id lookup`).

Pure: standard library only; the key and the time zone come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

WITHHELD = "[free text withheld]"
FREE_TEXT_KEYS = frozenset(
    {
        "notes",
        "note",
        "reason",
        "missed_reason",
        "override_reason",
        "comment",
        "comments",
        "free_text",
        "idempotency_key",
    }
)
OLDEST_AGE = 89
OLDEST_AGE_LABEL = "90 or older"
SHIFTED_DAY_ZERO = date(2000, 1, 1)
"""Where a researcher's shifted record puts day 0: never shown, only counted from."""

STUDY_PREFIX = "S-"
STUDY_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STUDY_LENGTH = 12
"""Twelve letters (about 56 bits): no digit, so the number never spells the record number."""

_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


def study_number(patient_id: int, *, key: bytes) -> str:
    """The study number of a patient record: `S-` and twelve letters from an HMAC-SHA-256.

    Stable for a record under the same key; without the key it tells nothing of the record.
    """
    if not key:
        raise ValueError("the study key is empty: de-identified views need a site study key")
    digest = hmac.new(key, str(patient_id).encode("ascii"), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    letters = []
    for _ in range(STUDY_LENGTH):
        number, index = divmod(number, len(STUDY_LETTERS))
        letters.append(STUDY_LETTERS[index])
    return STUDY_PREFIX + "".join(letters)


def age_category(years: int) -> int | str:
    """An age as a researcher may see it: ages over 89 are one category, `90 or older`."""
    return OLDEST_AGE_LABEL if years > OLDEST_AGE else years


def withhold_free_text(document: Any) -> Any:
    """`document` with every free-text field's value replaced by `WITHHELD` (empty kept)."""
    if isinstance(document, Mapping):
        return {
            key: (
                WITHHELD
                if key in FREE_TEXT_KEYS and value not in (None, "")
                else withhold_free_text(value)
            )
            for key, value in document.items()
        }
    if isinstance(document, list | tuple):
        return [withhold_free_text(item) for item in document]
    return document


def _moment(text: str) -> date | datetime | None:
    """An ISO 8601 date or date-time, or None when `text` is not one."""
    if not _ISO.fullmatch(text):
        return None
    try:
        if len(text) == len("2000-01-01"):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _shift_one(value: date, days: int, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value - timedelta(days=days)
        wall = value.astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
        return wall.replace(tzinfo=zone)
    return value - timedelta(days=days)


def day_zero_shift(day_zero: date) -> int:
    """How many days a record moves back so that its `day_zero` falls on SHIFTED_DAY_ZERO."""
    return (day_zero - SHIFTED_DAY_ZERO).days


def shift_dates(document: Any, *, days: int, zone: tzinfo) -> Any:
    """`document` with every date and date-time (objects or ISO text) moved back `days` days.

    Date-times move in the site's wall time (`zone`), so their local date moves by exactly
    `days`; text stays text, in ISO 8601. A date inside prose (a plan's warning) becomes
    `day N` there and then: prose is read, never computed on.
    """
    if isinstance(document, Mapping):
        return {key: shift_dates(value, days=days, zone=zone) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [shift_dates(item, days=days, zone=zone) for item in document]
    if isinstance(document, date):
        return _shift_one(document, days, zone)
    if isinstance(document, str):
        moment = _moment(document)
        if moment is not None:
            return _shift_one(moment, days, zone).isoformat()
        return _ISO.sub(lambda found: _embedded(found, days, zone), document)
    return document


def _embedded(found: re.Match[str], days: int, zone: tzinfo) -> str:
    """A date written inside prose (a warning, a reason): shifted and written as `day N`."""
    moment = _moment(found.group(0))
    if moment is None:
        return found.group(0)
    return day_label(_shift_one(moment, days, zone), zone) or found.group(0)


def day_label(value: object, zone: tzinfo) -> str | None:
    """A shifted date or date-time (object or ISO text) as `day N`; None for anything else."""
    moment = _moment(value) if isinstance(value, str) else value
    if isinstance(moment, datetime):
        local = moment.astimezone(zone).date() if moment.tzinfo else moment.date()
        return f"day {(local - SHIFTED_DAY_ZERO).days}"
    if isinstance(moment, date):
        return f"day {(moment - SHIFTED_DAY_ZERO).days}"
    return None


def as_day_labels(document: Any, zone: tzinfo) -> Any:
    """A shifted document with each date and date-time written as `day N` (no hour)."""
    if isinstance(document, Mapping):
        return {key: as_day_labels(value, zone) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [as_day_labels(item, zone) for item in document]
    label = day_label(document, zone) if isinstance(document, str | date) else None
    return document if label is None else label


def days_in_text(text: str, day_zero: date) -> str:
    """`text` with each ISO date in it written as days from the real `day_zero` (`day N`)."""

    def offset(found: re.Match[str]) -> str:
        moment = _moment(found.group(0))
        if moment is None:
            return found.group(0)
        day = moment.date() if isinstance(moment, datetime) else moment
        return f"day {(day - day_zero).days}"

    return _ISO.sub(offset, text)
