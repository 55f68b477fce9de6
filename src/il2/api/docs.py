"""The API documentation, /docs (Swagger UI) and /redoc (ReDoc), served by il2 itself.

The viewers' files come from the fastapi-offline package (its bundled copies of Swagger UI and
ReDoc), at /api-docs/vendor; Swagger UI's start-up is il2's own file at /api-docs/il2. Nothing
comes from another site, so the pages work offline, and no page holds an inline script: they
keep the site's Content-Security-Policy (web/defences.py widens it only for the viewers' data:
images and ReDoc's blob: worker).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR = Path(fastapi_offline.__file__).parent / "static"
OWN = Path(__file__).parent / "docs_static"
ASSETS = "/api-docs"
DOCS_PATHS = ("/docs", "/redoc")


def _page(title: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" type="image/png" href="{ASSETS}/vendor/favicon.png">{head}</head>'
        f"<body{body}</body></html>\n"
    )


def swagger_page(title: str, openapi_url: str) -> str:
    """Swagger UI over `openapi_url`, every file from this server."""
    return _page(
        f"{title} - API documentation",
        f'<link rel="stylesheet" href="{ASSETS}/vendor/swagger-ui.css">',
        f' data-openapi="{escape(openapi_url)}"><div id="swagger-ui"></div>'
        f'<script src="{ASSETS}/vendor/swagger-ui-bundle.js"></script>'
        f'<script src="{ASSETS}/il2/swagger-init.js"></script>',
    )


def redoc_page(title: str, openapi_url: str) -> str:
    """ReDoc over `openapi_url` (its element reads the address), every file from this server."""
    return _page(
        f"{title} - API reference",
        "",
        f'><redoc spec-url="{escape(openapi_url)}"></redoc>'
        f'<script src="{ASSETS}/vendor/redoc.standalone.js"></script>',
    )


def install_docs(api: FastAPI) -> None:
    """Serve /docs, /redoc and their files on `api` (made with docs_url=None, redoc_url=None)."""
    openapi_url = api.openapi_url or "/openapi.json"
    swagger, redoc = swagger_page(api.title, openapi_url), redoc_page(api.title, openapi_url)

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(swagger)

    @api.get("/redoc", include_in_schema=False)
    async def reference() -> HTMLResponse:
        return HTMLResponse(redoc)

    api.mount(f"{ASSETS}/vendor", StaticFiles(directory=VENDOR), name="api-docs-vendor")
    api.mount(f"{ASSETS}/il2", StaticFiles(directory=OWN), name="api-docs-il2")
