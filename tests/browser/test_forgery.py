"""Security review D5 and D6 in Chromium: a page of another origin on the same machine (the
same site: 127.0.0.1, another port, where SameSite cookies do not help) can neither forge a
form while the victim is signed in nor show il2 in a frame."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from tests.browser.conftest import Site, sign_in

FORGED_MRN = "FORGED-0001"


def _attacker_pages(site: Site) -> dict[str, bytes]:
    form = f"""<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{site.url}/patients">
<input name="mrn" value="{FORGED_MRN}"><input name="name" value="Forged By CSRF">
<input name="birth_date" value="1968-04-02"><input name="sex" value="female">
<input name="diagnosis" value="melanoma"><input name="referred_on" value="2026-11-02">
<input name="csrf_token" value="guessed">
</form><script>document.getElementById("f").submit()</script>"""
    frame = f"""<!doctype html><title>framed</title>
<iframe id="victim" src="{site.url}/worklist" width="800" height="600"></iframe>"""
    return {"/forge.html": form.encode(), "/frame.html": frame.encode()}


@pytest.fixture(scope="module")
def attacker(site: Site) -> Iterator[str]:
    """Another origin (127.0.0.1 on another port) serving the attacker's pages."""
    pages = _attacker_pages(site)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"not here")
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _forged_patients(site: Site) -> int:
    with site.app.engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM patients WHERE mrn = :mrn")
        return int(connection.execute(query, {"mrn": FORGED_MRN}).scalar_one())


def test_a_form_forged_on_another_origin_creates_no_patient(
    page: Page, site: Site, attacker: str
) -> None:
    sign_in(page, "coordinator")
    with page.expect_navigation(url=f"{site.url}/patients"):
        page.goto(f"{attacker}/forge.html")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert _forged_patients(site) == 0
    page.goto("/patients/new")  # still signed in: the refusal ended nothing
    assert page.get_by_label("Name").count() >= 1


def test_a_frame_on_another_origin_shows_nothing_of_il2(
    page: Page, site: Site, attacker: str
) -> None:
    sign_in(page, "coordinator")
    page.goto(f"{attacker}/frame.html")
    page.wait_for_load_state("load")
    frame = page.frame_locator("#victim")
    victim = next(f for f in page.frames if f != page.main_frame)
    assert not victim.url.startswith(site.url) or victim.content().count("Worklist") == 0
    assert frame.locator("text=Worklist").count() == 0
    assert frame.locator("text=il2").count() == 0
