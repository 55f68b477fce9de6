"""Correction chains: il2 never edits an entry, a correction is a new entry pointing at the one
it replaces (`corrects_id`), so the newest entry of a chain is the current one
(il2.domain.records). A resource mapped from an entry is the chain's current state, under the
id of the chain's first entry: a correction is a new version of the same resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def latest_versions(
    entries: Iterable[Mapping[str, Any]], kind: str
) -> list[tuple[Any, Mapping[str, Any]]]:
    """Each chain of `kind` entries as (its first entry's id, its newest entry), in the order
    of the chains' first entries."""
    chosen = [e for e in entries if e.get("kind") == kind]
    by_id = {e["id"]: e for e in chosen}
    corrected = {e["corrects_id"] for e in chosen if e.get("corrects_id") is not None}

    def root(entry: Mapping[str, Any]) -> Any:
        seen = {entry["id"]}
        while entry.get("corrects_id") in by_id and entry["corrects_id"] not in seen:
            entry = by_id[entry["corrects_id"]]
            seen.add(entry["id"])
        return entry["id"]

    current = [(root(e), e) for e in chosen if e["id"] not in corrected]
    order = {e["id"]: place for place, e in enumerate(chosen)}
    return sorted(current, key=lambda pair: order.get(pair[0], 0))
