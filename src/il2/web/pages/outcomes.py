"""Outcomes: the program's de-identified outcome report inside the app, with its filters."""

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from il2.domain.errors import InvalidInputError
from il2.domain.limits import MAX_ID
from il2.domain.records import Actor
from il2.services.adam import MEDIA_TYPES, adam_export, dataset_of, format_of, written
from il2.services.outcomes import Filters, outcome_summary, report
from il2.web import report as rendered
from il2.web.core import Web
from il2.web.pages.patients import DIAGNOSES
from il2.web.session import signed_in

_FILTERS = ("year_from", "year_to", "diagnosis", "regimen", "study")


def _year(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1900 <= int(raw) <= 2999:
        raise InvalidInputError(field=name, value=raw, allowed="a year such as 2024")
    return int(raw)


def filters_of(query: Mapping[str, str], regimens: Sequence[str]) -> Filters:
    """The filters of the page's address, each checked (errors name the field)."""
    diagnosis = query.get("diagnosis", "").strip() or None
    if diagnosis is not None and diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    regimen = query.get("regimen", "").strip() or None
    if regimen is not None and regimen not in regimens:
        raise InvalidInputError(field="regimen", value=regimen, allowed=", ".join(regimens))
    study = query.get("study", "").strip()
    if study and not (study.isdigit() and 1 <= int(study) <= MAX_ID):
        raise InvalidInputError(field="study", value=study, allowed="a study of the program")
    found = Filters(_year(query, "year_from"), _year(query, "year_to"), diagnosis, regimen,
                    int(study) if study else None)  # fmt: skip
    if found.year_from and found.year_to and found.year_from > found.year_to:
        raise InvalidInputError(
            field="year_to", value=found.year_to, allowed=f"{found.year_from} or later"
        )
    return found


def _rows(summary: Mapping[str, Any]) -> Iterator[list[object]]:
    """Every figure of the summary as (table, row, column, value): one CSV of every table."""

    def walk(path: list[str], node: object) -> Iterator[list[object]]:
        if isinstance(node, Mapping):
            for key, value in node.items():
                yield from walk([*path, str(key)], value)
        elif isinstance(node, list) and node and all(isinstance(v, Mapping) for v in node):
            for index, value in enumerate(node):
                yield from walk([*path, str(index)], value)
        else:
            shown = ";".join(map(str, node)) if isinstance(node, list) else node
            yield [path[0], ".".join(path[1:-1]), path[-1], "" if shown is None else shown]

    for table, block in summary.items():
        if table != "data_quality":
            yield from walk([table], block)


def price_per_vial(web: Web) -> Decimal | None:
    """The site's price per vial, or None while the site has set none (the default, 0)."""
    setting = next((p for p in web.rules.policies if p.name == "price_per_vial"), None)
    if setting is None or isinstance(setting.value, bool):
        return None
    price = Decimal(str(setting.value))
    return price if price > 0 else None


def routes(web: Web) -> APIRouter:
    """The outcomes page, its CSV export and its ADaM datasets."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    regimens = sorted(web.rules.regimens)

    @router.get("/outcomes", response_class=HTMLResponse)
    def outcomes(request: Request, actor: SignedIn) -> HTMLResponse:
        """Response rates (beside the label's, on its denominator), survival, toxicity, doses,
        capacity and the plots, of the patients the filters take, in the app's layout."""
        query = dict(request.query_params)
        error = None
        try:
            chosen = filters_of(query, regimens)
        except InvalidInputError as refused:
            error, chosen = refused, Filters()

        def reported(chosen: Filters) -> tuple[dict[str, Any], Any]:
            return report(
                web.services,
                actor,
                as_of=web.services.clock().date(),
                filters=chosen,
                price_per_vial=price_per_vial(web),
            )

        try:
            summary, figures = reported(chosen)
        except InvalidInputError as refused:  # a study the program does not have
            if refused.field != "study":
                raise
            error, chosen = refused, replace(chosen, study_id=None)
            summary, figures = reported(chosen)
        return web.page(
            request,
            "outcomes.html",
            status=422 if error else 200,
            **rendered.context(summary, figures),
            values={k: query.get(k, "") for k in _FILTERS},
            error=error,
            diagnoses=DIAGNOSES,
            regimens=[(r, web.rules.regimens[r].name) for r in regimens],
            studies=[
                (str(s["id"]), s["name"] + (f" ({s['registry_id']})" if s["registry_id"] else ""))
                for s in summary["comparison"]["studies"]
            ],
            query=request.url.query,
        )

    @router.get("/outcomes.csv")
    def outcomes_csv(request: Request, actor: SignedIn) -> Response:
        """Every table of the report as one CSV: table, row, column, value."""
        chosen = filters_of(dict(request.query_params), regimens)
        summary = outcome_summary(
            web.services,
            actor,
            as_of=web.services.clock().date(),
            filters=chosen,
            price_per_vial=price_per_vial(web),
        )
        if web.deidentified(actor) and "as_of" in summary:
            # A researcher's export names no calendar date: the cut-off goes by its year.
            summary = {**summary, "as_of": str(summary["as_of"])[:4]}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["table", "row", "column", "value"])
        writer.writerows(_rows(summary))
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="il2-outcomes.csv"'},
        )

    @router.get("/outcomes/adam/{filename}")
    def outcomes_adam(filename: str, actor: SignedIn) -> Response:
        """An ADaM dataset of the whole program: adrs or adtte, .csv or .parquet."""
        name, _, suffix = filename.partition(".")
        dataset, file_format = dataset_of(name), format_of(suffix)
        export = adam_export(
            web.services, actor, dataset=dataset, as_of=web.services.clock().date()
        )
        return Response(
            written(export, file_format),
            media_type=MEDIA_TYPES[file_format],
            headers={"Content-Disposition": f'attachment; filename="{dataset}.{file_format}"'},
        )

    return router
