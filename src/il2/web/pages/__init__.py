"""The page routers, one module per area of the app; each exports `routes(web) -> APIRouter`.

These modules do not use `from __future__ import annotations`: FastAPI reads each endpoint's
annotations at definition time, and the signed-in dependency alias is local to `routes()`.
"""
