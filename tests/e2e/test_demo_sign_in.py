"""The sign-in page tells how to sign in to a demo database (IL2_DEMO), and never otherwise."""

from __future__ import annotations

import dataclasses
import warnings

from il2.api.app import create_api
from il2.bootstrap import App
from il2.config import Settings
from il2.services.demo import DEMO_PASSWORD, STAFF
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def _sign_in_page(app: App) -> str:
    site = create_api(app)
    site.include_router(web_router(app))
    with TestClient(site) as client:
        answer = client.get("/sign-in")
    assert answer.status_code == 200
    return answer.text


def test_a_demo_database_shows_every_demo_account_and_the_password(app: App) -> None:
    demo = dataclasses.replace(app, settings=dataclasses.replace(app.settings, demo=True))
    page = _sign_in_page(demo)
    assert DEMO_PASSWORD in page
    for username, role in STAFF.items():
        assert f"<code>{username}</code> ({role})" in page


def test_any_other_database_shows_no_demo_account_nor_password(app: App) -> None:
    assert not app.settings.demo
    page = _sign_in_page(app)
    assert DEMO_PASSWORD not in page
    assert "demo-" not in page
    assert 'id="demo-accounts"' not in page


def test_il2_demo_is_read_from_the_environment() -> None:
    assert Settings.from_environment({"IL2_DEMO": "1"}).demo
    assert Settings.from_environment({"IL2_DEMO": "yes"}).demo
    assert not Settings.from_environment({}).demo
    assert not Settings.from_environment({"IL2_DEMO": "0"}).demo
