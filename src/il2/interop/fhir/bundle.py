"""Search results as a FHIR `searchset` Bundle, one page at a time, with its paging links."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from il2.interop.fhir.model import Resource

DEFAULT_COUNT = 50
MAX_COUNT = 500


def searchset(
    *,
    base: str,
    path: str,
    query: Sequence[tuple[str, str]],
    matched: Sequence[Resource],
    included: Sequence[Resource],
    total: int,
    offset: int,
    count: int,
) -> Resource:
    """A page of `matched` (already cut to the page) and what `_include` brought along.

    The links repeat the query with `_offset` and `_count`, so a client follows `next`
    without knowing how il2 pages.
    """
    kept = [(k, v) for k, v in query if k not in ("_offset", "_count")]

    def link(relation: str, at: int) -> dict[str, str]:
        params = urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{base}/{path}?{params}"}

    links = [link("self", offset)]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(offset - count, 0)))
    entries = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": mode},
        }
        for rows, mode in ((matched, "match"), (included, "include"))
        for r in rows
    ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    }
