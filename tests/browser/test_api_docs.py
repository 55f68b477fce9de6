"""/docs and /redoc draw the API documentation in Chromium with every other site unreachable,
under their Content-Security-Policy (no CDN, no inline script): nothing is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route

from il2.api.app import create_api
from il2.web.app import with_browser_defences
from tests.browser.conftest import Site, _free_socket, shot


@pytest.fixture(scope="module")
def api_url(site: Site) -> Iterator[str]:
    """The JSON API with its documentation, as `il2 serve` answers it, on its own port."""
    asgi = with_browser_defences(create_api(site.app))
    server = uvicorn.Server(
        uvicorn.Config(asgi, log_level="warning", lifespan="off", ws="none", http="h11")
    )
    sock = _free_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    host, port = sock.getsockname()
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture
def offline(browser: Browser, api_url: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A page that can reach only il2; it lists the other sites asked for and the console's
    complaints (a CSP refusal is reported there)."""
    context = browser.new_context(base_url=api_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    elsewhere: list[str] = []
    complaints: list[str] = []
    own = urlsplit(api_url).netloc

    def only_il2(route: Route) -> None:
        if urlsplit(route.request.url).netloc in (own, ""):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_il2)
    page = context.new_page()
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: complaints.append(str(error)))
    yield page, elsewhere, complaints
    context.close()


def test_swagger_ui_draws_every_operation_offline(
    offline: tuple[Page, list[str], list[str]],
) -> None:
    page, elsewhere, complaints = offline
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/patients", exact=True).first.is_visible()
    shot(page, "api-docs-swagger")
    assert elsewhere == []
    assert complaints == []


def test_redoc_draws_the_reference_offline(offline: tuple[Page, list[str], list[str]]) -> None:
    page, elsewhere, complaints = offline
    page.goto("/redoc")
    page.locator(".api-content").wait_for()
    assert page.get_by_text("/api/patients").first.count() == 1
    shot(page, "api-docs-redoc")
    assert elsewhere == []
    # ReDoc's "powered by" logo names its maker's site: the policy refuses it, nothing else
    refused = [text for text in complaints if "Content Security Policy" in text]
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in text for text in refused), refused
    assert [text for text in complaints if text not in refused] == []
